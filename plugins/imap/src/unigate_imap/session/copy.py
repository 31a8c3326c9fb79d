"""COPY / UID COPY and MOVE / UID MOVE (UIDPLUS COPYUID, RFC 6851).

Why thin: the manager checks ``i`` on the destination, copies the flags the user may
set there and (MOVE) removes the originals; this module reports COPYUID and the
expunges in the order RFC 6851 asks (untagged OK with COPYUID first).
"""

from __future__ import annotations

from unigate.api import mailboxes as mb

from .. import protocol as p
from .core import ImapSession, register
from .select import write_expunged

__all__ = ["copyuid"]


async def copyuid(s: ImapSession, dest: str, mapping: dict[int, int]) -> str | None:
    """``COPYUID validity src dst`` for a UID map, or None when it cannot be given."""
    if not mapping:
        return None
    try:
        st = await s.mailboxes.status(s.account, dest, s.account)
    except mb.MailboxError:
        return None
    pairs = sorted(mapping.items())
    src = p.SequenceSet.from_numbers(a for a, _ in pairs)
    dst = p.SequenceSet.from_numbers(b for _, b in pairs)
    if len(src.ranges) != len(dst.ranges):  # keep the order correspondence explicit
        src_text = ",".join(str(a) for a, _ in pairs)
        dst_text = ",".join(str(b) for _, b in pairs)
        return f"COPYUID {st.uidvalidity} {src_text} {dst_text}"
    return f"COPYUID {st.uidvalidity} {src} {dst}"


@register(p.Copy, "selected")
async def copy(s: ImapSession, cmd: p.Copy) -> bytes:
    sel = s.selected
    assert sel is not None
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    if not uids:
        return p.ok(cmd.tag, "COPY completed (no messages)")
    mapping: dict[int, int] = await sel.box.copy(uids, cmd.mailbox)
    if await sel.is_named(s.mailboxes, s.account, cmd.mailbox):
        sel.added_here(mapping.values())
    return p.ok(cmd.tag, "COPY completed", await copyuid(s, cmd.mailbox, mapping))


@register(p.Move, "selected")
async def move(s: ImapSession, cmd: p.Move) -> bytes:
    sel = s.selected
    assert sel is not None
    if sel.readonly:
        return p.no(cmd.tag, "Mailbox is read-only", "READ-ONLY")
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    if not uids:
        return p.ok(cmd.tag, "MOVE completed (no messages)")
    mapping, gone = await sel.box.move(uids, cmd.mailbox)
    if await sel.is_named(s.mailboxes, s.account, cmd.mailbox):
        sel.added_here(mapping.values())
    code = await copyuid(s, cmd.mailbox, mapping)
    if code:
        s.write(b"* OK [" + code.encode() + b"] Moved\r\n")
    write_expunged(s, sel, gone)
    return p.ok(cmd.tag, "MOVE completed")
