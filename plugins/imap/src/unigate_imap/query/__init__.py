"""SEARCH, SORT and THREAD over an abstract message (`SearchableMessage`)."""

from __future__ import annotations

from .message import MessageView, SearchableMessage, parse_date
from .search import SearchContext, SearchError, matches, search
from .sort import sort, sort_key
from .subject import ascii_upper, base_subject
from .thread import (
    ThreadNode,
    format_threads,
    thread,
    thread_orderedsubject,
    thread_references,
)

__all__ = [
    "MessageView",
    "SearchableMessage",
    "parse_date",
    "SearchContext",
    "SearchError",
    "matches",
    "search",
    "sort",
    "sort_key",
    "ascii_upper",
    "base_subject",
    "ThreadNode",
    "format_threads",
    "thread",
    "thread_orderedsubject",
    "thread_references",
]
