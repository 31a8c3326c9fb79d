"""SORT (RFC 5256 §3) with DISPLAYFROM/DISPLAYTO (RFC 5957).

Address keys compare the first address's local part (``addr-mailbox``), DATE
uses the Date: header normalised to UTC (internal date when missing), and ties
fall back to mailbox order; REVERSE flips one criterion only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

from ..mime.envelope import parse_addresses
from ..mime.headers import decode_words
from ..protocol.commands import SortCriterion
from .message import MessageView, SearchableMessage
from .subject import ascii_upper, base_subject

__all__ = ["sort", "sort_key"]


def _first_address(
    view: MessageView, header: str
) -> tuple[bytes | None, bytes | None, bytes | None]:
    value = view.header(header)
    if value is None:
        return None, None, None
    for name, _adl, mailbox, host in parse_addresses(value):
        if mailbox is not None and host is not None:
            return name, mailbox, host
    return None, None, None


def sort_key(view: MessageView, key: str) -> Any:
    """The comparable value of one criterion for one message."""
    msg = view.msg
    if key == "ARRIVAL":
        return msg.internal_date.astimezone(UTC)
    if key == "DATE":
        return view.sent_date().astimezone(UTC)
    if key == "SIZE":
        return msg.size
    if key == "SUBJECT":
        return base_subject(view.header("subject"))[0]
    if key in ("FROM", "TO", "CC"):
        _, mailbox, _ = _first_address(view, key.lower())
        return ascii_upper(decode_words(mailbox)) if mailbox else ""
    if key in ("DISPLAYFROM", "DISPLAYTO"):
        name, mailbox, host = _first_address(view, key[7:].lower())
        if name:
            return ascii_upper(decode_words(name).strip('"'))
        if mailbox:
            return ascii_upper(decode_words(mailbox + b"@" + (host or b"")))
        return ""
    raise ValueError(f"unknown sort key {key}")


def sort(
    messages: Iterable[SearchableMessage], criteria: Sequence[SortCriterion]
) -> list[SearchableMessage]:
    """Messages ordered by ``criteria`` (ties: ascending sequence number)."""
    views = [MessageView(m) for m in messages]
    keys = {id(v): [sort_key(v, c.key) for c in criteria] for v in views}

    def compare(a: MessageView, b: MessageView) -> int:
        ka, kb = keys[id(a)], keys[id(b)]
        for crit, x, y in zip(criteria, ka, kb, strict=True):
            if x != y:
                result = -1 if x < y else 1
                return -result if crit.reverse else result
        return (a.msg.seq > b.msg.seq) - (a.msg.seq < b.msg.seq)

    views.sort(key=functools.cmp_to_key(compare))
    return [v.msg for v in views]
