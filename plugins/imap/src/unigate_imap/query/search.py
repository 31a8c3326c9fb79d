"""SEARCH evaluation (RFC 9051 §6.4.4 and the CONDSTORE/WITHIN/OBJECTID keys).

Text keys compare case-insensitively (Unicode casefold) against decoded text:
encoded-words in headers, transfer encodings and charsets in bodies.  Date keys
ignore time and timezone: BEFORE/ON/SINCE use the internal date's calendar date,
SENT* use the Date: header's own calendar date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..protocol import commands as c
from ..protocol.seqset import SequenceSet
from .message import MessageView, SearchableMessage

__all__ = ["SearchContext", "matches", "search", "SearchError"]


class SearchError(ValueError):
    """The program cannot be evaluated (e.g. ``$`` with no saved result)."""


@dataclass(frozen=True, slots=True)
class SearchContext:
    """Mailbox-wide facts a program needs.

    :param max_seq: number of messages (``*`` in sequence sets).
    :param max_uid: highest UID in the mailbox (``*`` in UID sets).
    :param now: current time (OLDER/YOUNGER).
    :param saved: the SEARCHRES ``$`` result as a UID set, or None.
    """

    max_seq: int
    max_uid: int
    now: datetime | None = None
    saved: SequenceSet | None = None


def _fold(text: str) -> str:
    return text.casefold()


def _on_date(op: str, actual: date, wanted: date) -> bool:
    if op == "BEFORE":
        return actual < wanted
    if op == "ON":
        return actual == wanted
    return actual >= wanted  # SINCE


def _evaluate(key: c.SearchKey, view: MessageView, ctx: SearchContext) -> bool:
    msg = view.msg
    if isinstance(key, c.AllKey):
        return True
    if isinstance(key, c.AndKey):
        return all(_evaluate(k, view, ctx) for k in key.keys)
    if isinstance(key, c.OrKey):
        return _evaluate(key.left, view, ctx) or _evaluate(key.right, view, ctx)
    if isinstance(key, c.NotKey):
        return not _evaluate(key.key, view, ctx)
    if isinstance(key, c.FlagKey):
        flags = msg.flags
        if key.flag.startswith("\\"):
            have = key.flag in flags
        else:
            want = key.flag.casefold()
            have = any(f.casefold() == want for f in flags)
        return have == key.present
    if isinstance(key, c.SeqKey):
        s = key.set
        if s.saved:
            if ctx.saved is None:
                return False
            return ctx.saved.contains(msg.uid, ctx.max_uid)
        if key.uid:
            return s.contains(msg.uid, ctx.max_uid)
        return s.contains(msg.seq, ctx.max_seq)
    if isinstance(key, c.SizeKey):
        return msg.size > key.size if key.larger else msg.size < key.size
    if isinstance(key, c.DateKey):
        actual = view.sent_date() if key.sent else msg.internal_date
        return _on_date(key.op, actual.date(), key.date)
    if isinstance(key, c.WithinKey):
        now = ctx.now or datetime.now(UTC)
        age = (now - msg.internal_date).total_seconds()
        return age >= key.seconds if key.older else age <= key.seconds
    if isinstance(key, c.ModSeqKey):
        return msg.modseq >= key.modseq
    if isinstance(key, c.ObjectIdKey):
        value = msg.email_id if key.kind == "EMAILID" else msg.thread_id
        return value is not None and value == key.value
    if isinstance(key, c.TextKey):
        return _text(key, view)
    raise SearchError(f"unsupported search key {type(key).__name__}")


def _text(key: c.TextKey, view: MessageView) -> bool:
    needle = _fold(key.value)
    field = key.field
    if field == "HEADER":
        name = (key.header or "").lower()
        if name not in view.headers():
            return False
        return not needle or needle in _fold(view.header_text(name))
    if field in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
        return needle in _fold(view.header_text(field.lower()))
    if field == "BODY":
        return needle in _fold(view.body_text())
    # TEXT: header and body
    return needle in _fold(view.all_headers_text()) or needle in _fold(view.body_text())


def matches(key: c.SearchKey, msg: SearchableMessage | MessageView, ctx: SearchContext) -> bool:
    """Does one message satisfy the program?"""
    view = msg if isinstance(msg, MessageView) else MessageView(msg)
    return _evaluate(key, view, ctx)


def search(
    messages: Iterable[SearchableMessage], key: c.SearchKey, ctx: SearchContext
) -> list[SearchableMessage]:
    """The messages (in the given order) that satisfy ``key``."""
    return [m for m in messages if _evaluate(key, MessageView(m), ctx)]
