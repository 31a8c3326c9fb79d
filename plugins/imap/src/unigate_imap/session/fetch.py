"""FETCH / UID FETCH (CONDSTORE CHANGEDSINCE, QRESYNC VANISHED, BINARY).

Why this shape: items kept by the mailbox (FLAGS, UID, INTERNALDATE, RFC822.SIZE,
MODSEQ) come from the index record and never touch the message; ENVELOPE and
BODYSTRUCTURE come from the per-message cache (`cache.py`); only sections read the
message. A non-PEEK body fetch sets ``\\Seen`` first, so the FLAGS it reports are the
new ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from unigate.api import mailboxes as mb
from unigate_hookspecs.storage import RECORD_FLAGS, RECORD_MODSEQ, RECORD_SIZE, RECORD_UID

from .. import protocol as p
from ..mime import Message, UnknownEncodingError, message_item
from ..protocol import responses as r
from .cache import MimeInfo, get_infos
from .core import ImapSession, register
from .errors import CommandError
from .select import _vanished_since

__all__ = ["fetch_items", "write_fetch", "write_records"]

_CACHED = {"ENVELOPE", "BODYSTRUCTURE"}
_SETS_SEEN = {"RFC822", "RFC822.TEXT"}


def _sets_seen(att: p.FetchAtt) -> bool:
    if att.name in _SETS_SEEN:
        return True
    return att.name in ("BODY", "BINARY") and att.section is not None and not att.peek


def _needs_message(att: p.FetchAtt) -> bool:
    if att.name in ("UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"):
        return False
    if att.name in _CACHED or (att.name == "BODY" and att.section is None):
        return False
    return att.name in ("RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY", "BINARY", "BINARY.SIZE")


def _needs_info(att: p.FetchAtt) -> bool:
    if att.name in _CACHED or att.name == "EMAILID" or (att.name == "BODY" and att.section is None):
        return True
    if att.name in ("RFC822.HEADER", "RFC822.TEXT"):
        return True
    sec = att.section
    return sec is not None and bool(sec.parts or sec.text)


_RECORD_ONLY = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"})
#: items answered from the record and the cached `MimeInfo` alone (the fast path)
_SUMMARY = _RECORD_ONLY | {"ENVELOPE", "BODYSTRUCTURE", "EMAILID", "THREADID"}


def _is_summary(att: p.FetchAtt) -> bool:
    return att.name in _SUMMARY or (att.name == "BODY" and att.section is None)


_WHOLE_SECTION = p.Section()
#: `_fetch_summaries`'s name for a whole-message item
_WHOLE = "[whole]"


def _is_whole(att: p.FetchAtt) -> bool:
    """``BODY[]``, ``BODY.PEEK[]`` or ``RFC822``: the stored bytes, as they are.

    What every synchronising client (mbsync, offlineimap, Thunderbird) fetches; it
    needs neither the message's structure nor its cached `MimeInfo`.
    """
    if att.name == "RFC822":
        return True
    return att.name == "BODY" and att.section == _WHOLE_SECTION and att.partial is None


class _Encoded(dict[Any, bytes]):
    """A memo of one encoding (flag sets, internal dates): few distinct values per FETCH."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, key: Any) -> bytes:
        value = self[key] = self._encode(key)
        return value


def _fetch_summaries(
    s: ImapSession,
    seqs: Sequence[int],
    recs: list[Any],
    atts: tuple[p.FetchAtt, ...],
    infos: dict[int, MimeInfo] | None = None,
    raws: dict[int, bytes] | None = None,
) -> bool:
    """The fast path: every item comes from the record, the cached `MimeInfo` or,
    for whole-message items (`_is_whole`), the stored bytes in ``raws``.

    Column-wise: one list per item for the whole batch, then one ``%`` format per
    message over the zipped columns (no per-message branching over item names).
    Returns False when a message has no `MimeInfo` or bytes (expunged meanwhile); it
    is left out.
    """
    #: item names, with whole-message items (`BODY[]` shares its name with `BODY`) apart
    plan = [(_WHOLE if _is_whole(a) else a.name, a) for a in atts]
    if s.condstore and all(a.name != "MODSEQ" for a in atts):
        plan.append(("MODSEQ", p.FetchAtt("MODSEQ")))
    complete = True
    need_info = infos is not None and any(name in _FROM_INFO for name, _ in plan)
    if need_info or raws is not None:
        keep = [
            i
            for i, rec in enumerate(recs)
            if (not need_info or rec.uid in infos) and (raws is None or rec.uid in raws)  # type: ignore[operator]
        ]
        if len(keep) < len(recs):
            seqs, recs = _take(seqs, recs, keep)
            complete = False
    mimes: list[MimeInfo] = [infos[rec.uid] for rec in recs] if need_info else []  # type: ignore[index]
    bodies: list[bytes] = [raws[rec.uid] for rec in recs] if raws is not None else []
    parts: list[bytes] = []
    columns: list[Sequence[Any]] = [seqs]
    for name, att in plan:
        if name == _WHOLE:
            parts.append(att.response_name() + b" {%d}\r\n%s")
            columns.append([len(b) for b in bodies])
            columns.append(bodies)
        elif name == "UID":
            parts.append(b"UID %d")
            columns.append(list(map(RECORD_UID, recs)))
        elif name == "FLAGS":
            parts.append(b"FLAGS %s")
            flags = _Encoded(lambda f: p.encode_flags(s.visible_flags(f)))
            columns.append(list(map(flags.__getitem__, map(RECORD_FLAGS, recs))))
        elif name == "RFC822.SIZE":
            parts.append(b"RFC822.SIZE %d")
            columns.append(list(map(RECORD_SIZE, recs)))
        elif name == "INTERNALDATE":
            parts.append(b"INTERNALDATE %s")
            dates = _Encoded(_encode_date)
            columns.append([dates[rec.internal_date] for rec in recs])
        elif name == "MODSEQ":
            parts.append(b"MODSEQ (%d)")
            columns.append(list(map(RECORD_MODSEQ, recs)))
        elif name == "THREADID":
            parts.append(b"THREADID NIL")  # no thread identifiers (RFC 8474 section 5.2)
        elif name == "EMAILID":
            parts.append(b"EMAILID (%s)")
            columns.append([m.email_id for m in mimes])
        elif name == "ENVELOPE":
            parts.append(b"ENVELOPE %s")
            columns.append([m.envelope for m in mimes])
        elif name == "BODYSTRUCTURE":
            parts.append(b"BODYSTRUCTURE %s")
            columns.append([m.bodystructure for m in mimes])
        else:  # BODY without a section
            parts.append(b"BODY %s")
            columns.append([m.body for m in mimes])
    template = b"* %d FETCH (" + b" ".join(parts) + b")\r\n"
    lines = map(template.__mod__, zip(*columns, strict=True))
    if raws is None:
        s.write(b"".join(lines))
    else:  # a line per message: joined once, at the flush
        for line in lines:
            s.write(line)
    return complete


def _take(seqs: Sequence[int], recs: list[Any], keep: list[int]) -> tuple[list[int], list[Any]]:
    """The sequence numbers and records at the indexes ``keep``."""
    return [seqs[i] for i in keep], [recs[i] for i in keep]


#: FETCH items answered from the cached `MimeInfo`
_FROM_INFO = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY", "EMAILID"})


def _encode_date(stamp: int) -> bytes:
    return p.encode_datetime(datetime.fromtimestamp(stamp, UTC))


def internaldate(rec: Any) -> bytes:
    return _encode_date(rec.internal_date)


def fetch_items(
    s: ImapSession,
    rec: Any,
    atts: tuple[p.FetchAtt, ...],
    info: MimeInfo | None,
    raw: bytes | None,
    *,
    add_flags: bool,
) -> list[tuple[bytes, bytes]]:
    """The encoded items of one message, from its record, `MimeInfo` and bytes."""
    uid = rec.uid
    msg: Message | None = None
    if raw is not None:
        msg = info.message(raw) if info is not None else Message(raw)
    items: list[tuple[bytes, bytes]] = []
    names: set[str] = set()
    for att in atts:
        name = att.name
        names.add(name)
        if name == "UID":
            items.append((b"UID", b"%d" % uid))
        elif name == "FLAGS":
            items.append((b"FLAGS", p.encode_flags(s.visible_flags(rec.flags))))
        elif name == "INTERNALDATE":
            items.append((b"INTERNALDATE", internaldate(rec)))
        elif name == "RFC822.SIZE":
            items.append((b"RFC822.SIZE", b"%d" % rec.size))
        elif name == "MODSEQ":
            items.append((b"MODSEQ", b"(%d)" % rec.modseq))
        elif name == "ENVELOPE":
            assert info is not None
            items.append((b"ENVELOPE", info.envelope))
        elif name == "BODYSTRUCTURE":
            assert info is not None
            items.append((b"BODYSTRUCTURE", info.bodystructure))
        elif name == "BODY" and att.section is None:
            assert info is not None
            items.append((b"BODY", info.body))
        elif name == "EMAILID":
            assert info is not None
            items.append((b"EMAILID", b"(" + info.email_id + b")"))
        elif name == "THREADID":
            items.append((b"THREADID", b"NIL"))
        elif msg is not None:
            try:
                item = message_item(msg, att)
            except UnknownEncodingError:
                raise CommandError("Unknown Content-Transfer-Encoding", "UNKNOWN-CTE") from None
            if item is not None:
                items.append(item)
    if add_flags and "FLAGS" not in names:
        items.append((b"FLAGS", p.encode_flags(s.visible_flags(rec.flags))))
    if s.condstore and "MODSEQ" not in names:
        items.append((b"MODSEQ", b"(%d)" % rec.modseq))
    return items


def write_fetch(s: ImapSession, seq: int, items: list[tuple[bytes, bytes]]) -> None:
    """``* seq FETCH (...)`` written in pieces: a body literal is never copied again."""
    s.write(b"* %d FETCH (" % seq)
    last = len(items) - 1
    for i, (name, value) in enumerate(items):
        s.write(name + b" ")
        s.write(value)
        if i != last:
            s.write(b" ")
    s.write(b")\r\n")


#: messages per batch of driver calls, and the most message bytes read in one batch
BATCH_MESSAGES = 500
BATCH_BYTES = 8 * 1024 * 1024
#: the most message bytes of one batch of whole-message items: the first lines go
#: out while the next batch is read
WHOLE_BATCH_BYTES = 1024 * 1024
#: messages per batch of the record-only fast path (written and flushed in pieces, so
#: the client parses the first lines while the server formats the next ones)
RECORD_BATCH = 2000


def _batches(recs: list[Any], limit: int, max_bytes: int | None) -> list[tuple[int, int]]:
    """``(start, end)`` index spans of at most ``limit`` messages (and ``max_bytes``)."""
    if max_bytes is None:
        return [(i, min(i + limit, len(recs))) for i in range(0, len(recs), limit)]
    out: list[tuple[int, int]] = []
    start = 0
    size = 0
    for i, rec in enumerate(recs):
        size += rec.size
        if i + 1 - start >= limit or size >= max_bytes:
            out.append((start, i + 1))
            start = i + 1
            size = 0
    if start < len(recs):
        out.append((start, len(recs)))
    return out


@register(p.Fetch, "selected")
async def fetch(s: ImapSession, cmd: p.Fetch) -> bytes:
    sel = s.selected
    assert sel is not None
    box = sel.box
    if cmd.changedsince is not None:
        s.enabled.add("CONDSTORE")
    if cmd.vanished and not s.qresync:
        return p.bad(cmd.tag, "VANISHED needs ENABLE QRESYNC")
    seqs, recs = sel.resolve_records(cmd.sequence_set, uid=cmd.uid)
    atts = cmd.attributes
    if cmd.changedsince is not None and not any(a.name == "MODSEQ" for a in atts):
        atts = atts + (p.FetchAtt("MODSEQ"),)
    seen_changed: set[int] = set()
    if not sel.readonly and any(_sets_seen(a) for a in atts):
        unseen = [rec.uid for rec in recs if "\\Seen" not in rec.flags]
        if unseen:
            changed, _ = await box.store(unseen, ["\\Seen"], "add")
            seen_changed = {rec.uid for rec in changed}
    if cmd.vanished and cmd.changedsince is not None:
        gone = _vanished_since([x.uid for x in box.messages()], cmd.sequence_set, box.uidnext)
        if gone:
            s.write(r.vanished_response(p.SequenceSet.from_numbers(gone), earlier=True))
    missing = False
    if seen_changed:
        seqs, recs = sel.resolve_records(cmd.sequence_set, uid=cmd.uid)
    if cmd.changedsince is not None:
        seqs, recs = _take(
            seqs, recs, [i for i, rec in enumerate(recs) if rec.modseq > cmd.changedsince]
        )
    want_info = any(_needs_info(a) for a in atts)
    want_raw = any(_needs_message(a) for a in atts)
    whole = any(_is_whole(a) for a in atts)
    if not seen_changed and all(_is_summary(a) or _is_whole(a) for a in atts):
        limit = BATCH_MESSAGES if want_info or whole else RECORD_BATCH
        async for i, j, got in _read_batches(
            s, box, recs, limit, WHOLE_BATCH_BYTES if whole else None, whole, want_info
        ):
            if got is None:
                missing = True
                continue
            raws, infos = got
            if not _fetch_summaries(
                s, seqs[i:j], recs[i:j], atts, infos if want_info else None, raws if whole else None
            ):
                missing = True
            await s.maybe_flush()
    else:
        missing = await _fetch_messages(s, box, seqs, recs, atts, seen_changed, want_info, want_raw)
    if missing:
        return p.no(cmd.tag, "Some messages were expunged meanwhile", "EXPUNGEISSUED")
    return p.ok(cmd.tag, "FETCH completed")


async def _read_batches(
    s: ImapSession,
    box: Any,
    recs: list[Any],
    limit: int,
    max_bytes: int | None,
    want_raw: bool,
    want_info: bool,
) -> AsyncIterator[tuple[int, int, tuple[dict[int, bytes], dict[int, MimeInfo]] | None]]:
    """Per `_batches` span ``(i, j)``: the bytes and `MimeInfo` (as asked) of those
    messages, or None when the batch vanished (expunged meanwhile)."""
    for i, j in _batches(recs, limit, max_bytes):
        uids = [rec.uid for rec in recs[i:j]]
        raws: dict[int, bytes] = {}
        infos: dict[int, MimeInfo] = {}
        try:
            if want_raw:
                raws = await box.read_many(uids)
            if want_info:
                infos = await get_infos(box, uids, s.memory, raws)
        except mb.NoSuchMessage:
            yield i, j, None
            continue
        yield i, j, (raws, infos)


async def write_records(
    s: ImapSession, box: Any, seqs: list[int], recs: list[Any], atts: tuple[p.FetchAtt, ...]
) -> None:
    """``* n FETCH`` of ``atts`` for these records at these sequence numbers, unsolicited.

    For NOTIFY's MessageNew fetch attributes: nothing is marked ``\\Seen`` (a body
    section is read as if ``.PEEK``), and messages expunged meanwhile are left out.
    """
    want_info = any(_needs_info(a) for a in atts)
    want_raw = any(_needs_message(a) for a in atts)
    await _fetch_messages(s, box, seqs, recs, atts, set(), want_info, want_raw)


async def _fetch_messages(
    s: ImapSession,
    box: Any,
    seqs: list[int],
    recs: list[Any],
    atts: tuple[p.FetchAtt, ...],
    seen_changed: set[int],
    want_info: bool,
    want_raw: bool,
) -> bool:
    """The general path (sections, bodies): batches of reads; True if some vanished."""
    missing = False
    async for i, j, got in _read_batches(
        s, box, recs, BATCH_MESSAGES, BATCH_BYTES if want_raw else None, want_raw, want_info
    ):
        if got is None:
            missing = True
            continue
        raws, infos = got
        for seq, rec in zip(seqs[i:j], recs[i:j], strict=True):
            uid = rec.uid
            raw = raws.get(uid)
            info = infos.get(uid)
            if (want_raw and raw is None) or (want_info and info is None):
                missing = True
                continue
            items = fetch_items(s, rec, atts, info, raw, add_flags=uid in seen_changed)
            write_fetch(s, seq, items)
            if s.flush_due:
                await s.flush()
        del raws, got  # this batch's bytes go before the next batch is read
    return missing
