"""FETCH / UID FETCH (CONDSTORE CHANGEDSINCE, QRESYNC VANISHED, BINARY).

Why this shape: items kept by the mailbox (FLAGS, UID, INTERNALDATE, RFC822.SIZE,
MODSEQ) come from the index record and never touch the message; ENVELOPE and
BODYSTRUCTURE come from the per-message cache (`cache.py`); only sections read the
message. A non-PEEK body fetch sets ``\\Seen`` first, so the FLAGS it reports are the
new ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from unigate.api import mailboxes as mb

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


def _fetch_summaries(
    s: ImapSession,
    pairs: list[tuple[int, Any]],
    atts: tuple[p.FetchAtt, ...],
    infos: dict[int, MimeInfo] | None = None,
) -> bool:
    """The fast path: every item comes from the record or the cached `MimeInfo`.

    One ``%`` format per message (the item names are fixed for the command). Returns
    False when a message has no `MimeInfo` (expunged meanwhile); it is left out.
    """
    names = [a.name if _is_summary(a) else "" for a in atts]
    if s.condstore and "MODSEQ" not in names:
        names.append("MODSEQ")
    flags_cache: dict[frozenset[str], bytes] = {}
    template = b"* %d FETCH (" + b" ".join(n.encode() + b" %s" for n in names) + b")\r\n"
    uses_info = infos is not None and any(
        n in ("ENVELOPE", "BODYSTRUCTURE", "BODY", "EMAILID") for n in names
    )
    complete = True
    out: list[bytes] = []
    for seq, rec in pairs:
        info = None
        if uses_info:
            assert infos is not None
            info = infos.get(rec.uid)
            if info is None:
                complete = False
                continue
        values: list[Any] = [seq]
        for name in names:
            if name == "UID":
                values.append(b"%d" % rec.uid)
            elif name == "FLAGS":
                enc = flags_cache.get(rec.flags)
                if enc is None:
                    enc = flags_cache[rec.flags] = p.encode_flags(s.visible_flags(rec.flags))
                values.append(enc)
            elif name == "RFC822.SIZE":
                values.append(b"%d" % rec.size)
            elif name == "ENVELOPE":
                values.append(info.envelope)  # type: ignore[union-attr]
            elif name == "BODYSTRUCTURE":
                values.append(info.bodystructure)  # type: ignore[union-attr]
            elif name == "BODY":
                values.append(info.body)  # type: ignore[union-attr]
            elif name == "INTERNALDATE":
                values.append(internaldate(rec))
            elif name == "EMAILID":
                values.append(b"(" + info.email_id + b")")  # type: ignore[union-attr]
            elif name == "THREADID":
                values.append(b"NIL")  # no thread identifiers (RFC 8474 §5.2)
            else:
                values.append(b"(%d)" % rec.modseq)
        out.append(template % tuple(values))
        if len(out) >= 2000:
            s.write(b"".join(out))
            out.clear()
    s.write(b"".join(out))
    return complete


def internaldate(rec: Any) -> bytes:
    return p.encode_datetime(datetime.fromtimestamp(rec.internal_date, UTC))


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


def _batches(pairs: list[tuple[int, Any]], with_bytes: bool) -> list[list[tuple[int, Any]]]:
    out: list[list[tuple[int, Any]]] = []
    cur: list[tuple[int, Any]] = []
    size = 0
    for pair in pairs:
        cur.append(pair)
        size += pair[1].size
        if len(cur) >= BATCH_MESSAGES or (with_bytes and size >= BATCH_BYTES):
            out.append(cur)
            cur = []
            size = 0
    if cur:
        out.append(cur)
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
    resolved = sel.resolve_records(cmd.sequence_set, uid=cmd.uid)
    uids = [rec.uid for _, rec in resolved]
    atts = cmd.attributes
    if cmd.changedsince is not None and not any(a.name == "MODSEQ" for a in atts):
        atts = atts + (p.FetchAtt("MODSEQ"),)
    seen_changed: set[int] = set()
    if not sel.readonly and any(_sets_seen(a) for a in atts):
        unseen = [u for u in uids if "\\Seen" not in (box.record(u).flags if box.record(u) else ())]
        if unseen:
            changed, _ = await box.store(unseen, ["\\Seen"], "add")
            seen_changed = {rec.uid for rec in changed}
    if cmd.vanished and cmd.changedsince is not None:
        gone = _vanished_since([x.uid for x in box.messages()], cmd.sequence_set, box.uidnext)
        if gone:
            s.write(r.vanished_response(p.SequenceSet.from_numbers(gone), earlier=True))
    missing = False
    pairs = sel.resolve_records(cmd.sequence_set, uid=cmd.uid) if seen_changed else resolved
    if cmd.changedsince is not None:
        pairs = [(seq, rec) for seq, rec in pairs if rec.modseq > cmd.changedsince]
    want_info = any(_needs_info(a) for a in atts)
    want_raw = any(_needs_message(a) for a in atts)
    if not seen_changed and all(_is_summary(a) for a in atts):
        for batch in _batches(pairs, False) if want_info else [pairs]:
            infos = None
            if want_info:
                try:
                    infos = await get_infos(box, [rec.uid for _, rec in batch], s.memory)
                except mb.NoSuchMessage:
                    missing = True
                    continue
            if not _fetch_summaries(s, batch, atts, infos):
                missing = True
            await s.maybe_flush()
    else:
        missing = await _fetch_messages(s, box, pairs, atts, seen_changed, want_info, want_raw)
    if missing:
        return p.no(cmd.tag, "Some messages were expunged meanwhile", "EXPUNGEISSUED")
    return p.ok(cmd.tag, "FETCH completed")


async def write_records(
    s: ImapSession, box: Any, pairs: list[tuple[int, Any]], atts: tuple[p.FetchAtt, ...]
) -> None:
    """``* n FETCH`` of ``atts`` for these ``(sequence number, record)`` pairs, unsolicited.

    For NOTIFY's MessageNew fetch attributes: nothing is marked ``\\Seen`` (a body
    section is read as if ``.PEEK``), and messages expunged meanwhile are left out.
    """
    want_info = any(_needs_info(a) for a in atts)
    want_raw = any(_needs_message(a) for a in atts)
    await _fetch_messages(s, box, pairs, atts, set(), want_info, want_raw)


async def _fetch_messages(
    s: ImapSession,
    box: Any,
    pairs: list[tuple[int, Any]],
    atts: tuple[p.FetchAtt, ...],
    seen_changed: set[int],
    want_info: bool,
    want_raw: bool,
) -> bool:
    """The general path (sections, bodies): batches of reads; True if some vanished."""
    missing = False
    for batch in _batches(pairs, want_raw):
        uids = [rec.uid for _, rec in batch]
        raws: dict[int, bytes] = {}
        infos: dict[int, MimeInfo] = {}
        try:
            if want_raw:
                raws = await box.read_many(uids)
            if want_info:
                infos = await get_infos(box, uids, s.memory, raws)
        except mb.NoSuchMessage:
            missing = True
            continue
        for seq, rec in batch:
            uid = rec.uid
            raw = raws.get(uid)
            info = infos.get(uid)
            if (want_raw and raw is None) or (want_info and info is None):
                missing = True
                continue
            items = fetch_items(s, rec, atts, info, raw, add_flags=uid in seen_changed)
            write_fetch(s, seq, items)
            await s.maybe_flush()
        del raws
    return missing
