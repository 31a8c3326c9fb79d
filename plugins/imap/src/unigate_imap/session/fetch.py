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
from .cache import get_info
from .core import ImapSession, register
from .errors import CommandError
from .select import _vanished_since
from .state import Selected

__all__ = ["fetch_items"]

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
    if att.name in _CACHED or (att.name == "BODY" and att.section is None):
        return True
    if att.name in ("RFC822.HEADER", "RFC822.TEXT"):
        return True
    sec = att.section
    return sec is not None and bool(sec.parts or sec.text)


_RECORD_ONLY = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"})


def _fetch_records(
    s: ImapSession, pairs: list[tuple[int, Any]], atts: tuple[p.FetchAtt, ...]
) -> None:
    """The fast path: every item comes from the index record (no message read)."""
    names = [a.name for a in atts]
    if s.condstore and "MODSEQ" not in names:
        names.append("MODSEQ")
    flags_cache: dict[frozenset[str], bytes] = {}
    out: list[bytes] = []
    for seq, rec in pairs:
        parts = []
        for name in names:
            if name == "UID":
                parts.append(b"UID %d" % rec.uid)
            elif name == "FLAGS":
                enc = flags_cache.get(rec.flags)
                if enc is None:
                    enc = flags_cache[rec.flags] = p.encode_flags(s.visible_flags(rec.flags))
                parts.append(b"FLAGS " + enc)
            elif name == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE %d" % rec.size)
            elif name == "INTERNALDATE":
                parts.append(b"INTERNALDATE " + internaldate(rec))
            else:
                parts.append(b"MODSEQ (%d)" % rec.modseq)
        out.append(b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n")
        if len(out) >= 2000:
            s.write(b"".join(out))
            out.clear()
    s.write(b"".join(out))


def internaldate(rec: Any) -> bytes:
    return p.encode_datetime(datetime.fromtimestamp(rec.internal_date, UTC))


async def fetch_items(
    s: ImapSession, sel: Selected, rec: Any, atts: tuple[p.FetchAtt, ...], *, add_flags: bool
) -> list[tuple[bytes, bytes]] | None:
    """The encoded items of one message, or None when it vanished meanwhile."""
    box = sel.box
    uid = rec.uid
    info = None
    msg: Message | None = None
    want_info = any(_needs_info(a) for a in atts)
    want_raw = any(_needs_message(a) for a in atts)
    try:
        raw = await box.read(uid) if want_raw else None
        if want_info:
            info, raw = await get_info(box, uid, raw, s.memory)
    except mb.NoSuchMessage:
        return None
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
    if not seen_changed and all(a.name in _RECORD_ONLY for a in atts):
        _fetch_records(s, pairs, atts)
        return p.ok(cmd.tag, "FETCH completed")

    for seq, rec in pairs:
        items = await fetch_items(s, sel, rec, atts, add_flags=rec.uid in seen_changed)
        if items is None:
            missing = True
            continue
        s.write(r.fetch_response(seq, items))
        await s.maybe_flush()
    if missing:
        return p.no(cmd.tag, "Some messages were expunged meanwhile", "EXPUNGEISSUED")
    return p.ok(cmd.tag, "FETCH completed")
