"""SEARCH / UID SEARCH (ESEARCH, SEARCHRES, CONDSTORE MODSEQ), SORT and THREAD.

Why an adapter: the query package evaluates programs over `SearchableMessage`, whose
``raw_header``/``raw_message`` are synchronous; the session therefore loads, before
evaluating, exactly what the program needs: nothing (flags, dates, sizes, UIDs), the
header block (cached per message) or the whole message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..mime.headers import field_text, find_body_start
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
from .cache import COLUMN_FIELDS, MemoryCache, column_texts, email_id_of, get_infos, message_key
from .core import ImapSession, register
from .errors import CommandError
from .state import Selected

__all__ = ["column_search", "iter_messages", "load_messages", "need_of"]

NONE, HEADER, BODY = 0, 1, 2


@dataclass(slots=True)
class _Msg:
    """One message as `unigate_imap.query` sees it."""

    rec: Any
    seq: int
    header: bytes = b""
    raw: bytes = b""
    emailid: str | None = None

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
        return self.emailid

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
    if isinstance(key, p.ObjectIdKey):
        return HEADER if key.kind == "EMAILID" else NONE
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


#: messages per batch of driver calls while loading headers or bodies
LOAD_BATCH = 1000


async def load_messages(sel: Selected, need: int, memory: MemoryCache | None = None) -> list[_Msg]:
    """Every message of the view, with the parts ``need`` asks for loaded.

    Headers come from the cached `MimeInfo` (memory, then the driver cache, parsed on a
    miss); bodies are read in batches. Messages expunged meanwhile are left out.
    """
    out: list[_Msg] = []
    async for batch in iter_messages(sel, need, memory):
        out.extend(batch)
    return out


#: the most message bytes one batch of a body search holds
LOAD_BYTES = 16 * 1024 * 1024


async def iter_messages(
    sel: Selected, need: int, memory: MemoryCache | None = None
) -> AsyncIterator[list[_Msg]]:
    """The view's messages in batches, loaded as `load_messages` does.

    Bodies are read at most `LOAD_BATCH` messages or `LOAD_BYTES` at a time, so a SEARCH
    BODY over a large mailbox holds one batch of messages in memory, not the mailbox.
    """
    box = sel.box
    every = [_Msg(rec, seq) for seq, rec in enumerate(box.messages(), 1)]
    if need == NONE:
        yield every
        return
    batches: list[list[_Msg]] = []
    cur: list[_Msg] = []
    size = 0
    for m in every:
        cur.append(m)
        size += m.size
        if len(cur) >= LOAD_BATCH or (need == BODY and size >= LOAD_BYTES):
            batches.append(cur)
            cur, size = [], 0
    if cur:
        batches.append(cur)
    for batch in batches:
        uids = [m.uid for m in batch]
        kept: list[_Msg] = []
        try:
            if need == BODY:
                raws = await box.read_many(uids)
                for m in batch:
                    raw = raws.get(m.uid)
                    if raw is not None:
                        m.raw = raw
                        m.header = raw[: find_body_start(raw, 0, len(raw))]
                        m.emailid = email_id_of(raw).decode("ascii")
                        kept.append(m)
                del raws
            else:
                infos = await get_infos(box, uids, memory)
                for m in batch:
                    info = infos.get(m.uid)
                    if info is not None:
                        m.header = info.header
                        m.emailid = info.email_id.decode("ascii")
                        kept.append(m)
        except mb.NoSuchMessage:
            continue
        yield kept


# -- header columns: SEARCH SUBJECT/FROM/HEADER x without evaluating a program per message
_COLUMN_FIELDS = frozenset({"FROM", "TO", "CC", "BCC", "SUBJECT"})


class _Column:
    """One header field of every message of a mailbox: UID -> casefolded decoded text.

    None marks a message without the field. Kept in the memory cache per mailbox and
    UIDVALIDITY; a message's header never changes, so entries stay valid and new
    messages are added on the next search.
    """

    __slots__ = ("texts", "size")

    def __init__(self) -> None:
        self.texts: dict[int, str | None] = {}
        self.size = 200


def _column_key(key: p.SearchKey) -> tuple[str, p.TextKey] | None:
    """The header (lower-case) and the key when the program is one header text key."""
    if isinstance(key, p.AndKey):
        rest = [k for k in key.keys if not isinstance(k, p.AllKey)]
        if len(rest) != 1:
            return None
        key = rest[0]
    if not isinstance(key, p.TextKey):
        return None
    if key.field == "HEADER" and key.header:
        return key.header.lower(), key
    if key.field in _COLUMN_FIELDS:
        return key.field.lower(), key
    return None


async def column_search(
    sel: Selected, key: p.SearchKey, memory: MemoryCache | None
) -> list[_Msg] | None:
    """The matches of a one-header-key program from a header column, or None (not such a program)."""
    found = _column_key(key)
    if found is None or memory is None:
        return None
    name, text_key = found
    box = sel.box
    ckey = (box.owner, box.mailbox, box.uidvalidity, "column", name)
    column = memory.get(ckey)
    if not isinstance(column, _Column):
        column = _Column()
    records = box.messages()
    texts = column.texts
    todo = [rec.uid for rec in records if rec.uid not in texts]
    field = name.encode("ascii", "replace")
    kept = name in COLUMN_FIELDS  # computed with the summary
    for i in range(0, len(todo), LOAD_BATCH):
        infos = await get_infos(box, todo[i : i + LOAD_BATCH], memory)
        if kept:
            values = column_texts(list(infos.values()), name)
        else:
            values = [field_text(info.header, field) for info in infos.values()]
        texts.update(zip(infos, values, strict=True))
        column.size += 60 * len(values) + sum(len(v) for v in values if v)
    if todo:
        memory.put(ckey, column, column.size)
    needle = text_key.value.casefold()
    header = text_key.field == "HEADER"
    out: list[_Msg] = []
    get = texts.get
    for seq, rec in enumerate(records, 1):
        text = get(rec.uid)
        if text is None:
            if header or needle or rec.uid not in texts:
                continue
        elif needle and needle not in text:
            continue
        out.append(_Msg(rec, seq))
    return out


def _context(sel: Selected, messages: list[_Msg]) -> SearchContext:
    box = sel.box
    saved = p.SequenceSet.from_numbers(sel.saved) if sel.saved is not None else None
    last = box.uid_of(len(box)) if len(box) else 0
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
    found = await column_search(sel, cmd.key, s.memory)
    if found is None:
        found = []
        ctx = _context(sel, [])
        async for batch in iter_messages(sel, need_of(cmd.key), s.memory):
            for m in _run(cmd.key, batch, ctx, sel, s.memory):
                m.raw = b""  # only the numbers and flags are needed from here on
                found.append(m)
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
