"""SEARCH / UID SEARCH (ESEARCH, SEARCHRES, CONDSTORE MODSEQ), SORT and THREAD.

Why an adapter: the query package evaluates programs over `SearchableMessage`, whose
``raw_header``/``raw_message`` are synchronous; the session therefore loads, before
evaluating, exactly what the program needs: nothing (flags, dates, sizes, UIDs), the
header block (cached per message) or the whole message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..mime.headers import find_body_start
from ..protocol import responses as r
from ..query import (
    MessageView,
    SearchContext,
    SearchError,
    format_threads,
    matches,
    search,
    sort,
    thread,
)
from .cache import MemoryCache, message_key
from .core import ImapSession, register
from .errors import CommandError
from .state import Selected

__all__ = ["load_messages", "need_of"]

HEADER_KEY = "imap.hdr1"
NONE, HEADER, BODY = 0, 1, 2


@dataclass(slots=True)
class _Msg:
    """One message as `unigate_imap.query` sees it."""

    rec: Any
    seq: int
    header: bytes = b""
    raw: bytes = b""

    @property
    def uid(self) -> int:
        return int(self.rec.uid)

    @property
    def flags(self) -> frozenset[str]:
        return self.rec.flags  # type: ignore[no-any-return]

    @property
    def internal_date(self) -> datetime:
        return datetime.fromtimestamp(self.rec.internal_date, UTC)

    @property
    def size(self) -> int:
        return int(self.rec.size)

    @property
    def modseq(self) -> int:
        return int(self.rec.modseq)

    @property
    def email_id(self) -> str | None:
        return None

    @property
    def thread_id(self) -> str | None:
        return None

    def raw_header(self) -> bytes:
        return self.header

    def raw_message(self) -> bytes:
        return self.raw or self.header


def need_of(key: p.SearchKey) -> int:
    """How much of each message a program reads: NONE, HEADER or BODY."""
    if isinstance(key, p.TextKey):
        return BODY if key.field in ("BODY", "TEXT") else HEADER
    if isinstance(key, p.DateKey):
        return HEADER if key.sent else NONE
    if isinstance(key, p.AndKey):
        return max((need_of(k) for k in key.keys), default=NONE)
    if isinstance(key, p.OrKey):
        return max(need_of(key.left), need_of(key.right))
    if isinstance(key, p.NotKey):
        return need_of(key.key)
    return NONE


def _has_modseq(key: p.SearchKey) -> bool:
    if isinstance(key, p.ModSeqKey):
        return True
    if isinstance(key, p.AndKey):
        return any(_has_modseq(k) for k in key.keys)
    if isinstance(key, p.OrKey):
        return _has_modseq(key.left) or _has_modseq(key.right)
    if isinstance(key, p.NotKey):
        return _has_modseq(key.key)
    return False


async def _header(box: Any, uid: int, memory: MemoryCache | None) -> bytes:
    key = message_key(box, uid, "header")
    if memory is not None:
        hit = memory.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        info = memory.get(message_key(box, uid, "mime"))
        if info is not None:
            return info.header  # type: ignore[no-any-return]
    cached = await box.cache_get(uid, HEADER_KEY)
    if cached is not None:
        header = bytes(cached)
    else:
        raw = await box.read(uid)
        header = raw[: find_body_start(raw, 0, len(raw))]
        with contextlib.suppress(Exception):  # an unwritable cache is only slower
            await box.cache_put(uid, HEADER_KEY, header)
    if memory is not None:
        memory.put(key, header, len(header) + 100)
    return header


async def load_messages(sel: Selected, need: int, memory: MemoryCache | None = None) -> list[_Msg]:
    """Every message of the view, with the parts ``need`` asks for loaded."""
    box = sel.box
    out = [_Msg(rec, seq) for seq, rec in enumerate(box.messages(), 1)]
    if need == NONE:
        return out
    kept = []
    for m in out:
        try:
            if need == BODY:
                m.raw = await box.read(m.uid)
                m.header = m.raw[: find_body_start(m.raw, 0, len(m.raw))]
            else:
                m.header = await _header(box, m.uid, memory)
        except mb.NoSuchMessage:
            continue
        kept.append(m)
    return kept


def _context(sel: Selected, messages: list[_Msg]) -> SearchContext:
    box = sel.box
    saved = p.SequenceSet.from_numbers(sel.saved) if sel.saved is not None else None
    last = box.messages()[-1].uid if len(box) else 0
    return SearchContext(len(box), last, datetime.now(UTC), saved)


def _run(
    key: p.SearchKey,
    messages: list[_Msg],
    ctx: SearchContext,
    sel: Selected | None = None,
    memory: MemoryCache | None = None,
) -> list[_Msg]:
    """Evaluate ``key``; header-only programs reuse memoised `MessageView`s across commands."""
    try:
        if memory is None or sel is None or need_of(key) != HEADER:
            return search(messages, key, ctx)  # type: ignore[return-value]
        box = sel.box
        found = []
        for m in messages:
            mkey = message_key(box, m.uid, "view")
            view = memory.get(mkey)
            if view is None:
                view = MessageView(m)
                memory.put(mkey, view, 4 * len(m.header) + 500)
            else:
                view.msg = m  # the same message; its sequence number may have changed
            if matches(key, view, ctx):
                found.append(m)
        return found
    except SearchError as exc:
        raise CommandError(str(exc), status="BAD") from None


def _numbers(found: Iterable[_Msg], uid: bool) -> list[int]:
    return [m.uid if uid else m.seq for m in found]


@register(p.Search, "selected")
async def search_(s: ImapSession, cmd: p.Search) -> bytes:
    sel = s.selected
    assert sel is not None
    messages = await load_messages(sel, need_of(cmd.key), s.memory)
    found = _run(cmd.key, messages, _context(sel, messages), sel, s.memory)
    modseq = None
    if _has_modseq(cmd.key):
        s.enabled.add("CONDSTORE")
        modseq = max((m.modseq for m in found), default=None)
    numbers = _numbers(found, cmd.uid)
    opts = cmd.return_options
    if opts is None and s.rev2:
        opts = ()  # IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 §6.4.4)
    if opts is None:
        s.write(r.search_response(numbers, modseq))
        return p.ok(cmd.tag, "SEARCH completed")
    wanted = set(opts) or {"ALL"}
    if "SAVE" in wanted:
        chosen = found
        if wanted & {"MIN", "MAX"} and not wanted & {"ALL", "COUNT"} and found:
            chosen = [
                m
                for i, m in enumerate(found)
                if (i == 0 and "MIN" in wanted) or (i == len(found) - 1 and "MAX" in wanted)
            ]
        sel.saved = [m.uid for m in chosen]
        wanted.discard("SAVE")
        if not wanted:
            return p.ok(cmd.tag, "SEARCH completed, result saved")
    s.write(
        r.esearch_response(
            cmd.tag,
            uid=cmd.uid,
            min=min(numbers) if numbers and "MIN" in wanted else None,
            max=max(numbers) if numbers and "MAX" in wanted else None,
            all=p.SequenceSet.from_numbers(numbers) if "ALL" in wanted else None,
            count=len(numbers) if "COUNT" in wanted else None,
            modseq=modseq,
        )
    )
    return p.ok(cmd.tag, "SEARCH completed")


@register(p.Sort, "selected")
async def sort_(s: ImapSession, cmd: p.Sort) -> bytes:
    sel = s.selected
    assert sel is not None
    need = max(
        need_of(cmd.key),
        max((NONE if c.key in ("ARRIVAL", "SIZE") else HEADER for c in cmd.criteria), default=NONE),
    )
    messages = await load_messages(sel, need, s.memory)
    found = _run(cmd.key, messages, _context(sel, messages))
    ordered = sort(found, cmd.criteria)
    s.write(r.sort_response(_numbers(ordered, cmd.uid)))  # type: ignore[arg-type]
    return p.ok(cmd.tag, "SORT completed")


@register(p.Thread, "selected")
async def thread_(s: ImapSession, cmd: p.Thread) -> bytes:
    sel = s.selected
    assert sel is not None
    messages = await load_messages(sel, max(HEADER, need_of(cmd.key)), s.memory)
    found = _run(cmd.key, messages, _context(sel, messages))
    roots = thread(found, cmd.algorithm)
    s.write(r.thread_response(format_threads(roots, uid=cmd.uid)))
    return p.ok(cmd.tag, "THREAD completed")
