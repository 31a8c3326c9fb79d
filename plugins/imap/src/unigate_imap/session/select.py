"""SELECT / EXAMINE (with CONDSTORE and QRESYNC), CLOSE, UNSELECT and EXPUNGE / UID EXPUNGE.

Why here: these open and close the manager's `MailboxSession` and are the only
commands that emit the SELECT response set (FLAGS, EXISTS, UIDVALIDITY, UIDNEXT,
HIGHESTMODSEQ, PERMANENTFLAGS, READ-WRITE/READ-ONLY).
"""

from __future__ import annotations

from typing import Any

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register
from .errors import CommandError
from .mailbox import mailbox_id
from .state import Selected, State

__all__ = ["write_expunged"]


def write_expunged(s: ImapSession, sel: Selected, gone: Any) -> None:
    """Announce the session's own expunge result (EXPUNGE or VANISHED)."""
    if not gone.uids:
        return
    if s.qresync:
        s.write(r.vanished_response(p.SequenceSet.from_numbers(gone.uids)))
    else:
        for seq in gone.seqs:
            s.write(r.expunge_response(seq))
    sel.exists -= len(gone.uids)


def _vanished_since(uids: list[int], known: p.SequenceSet | None, uidnext: int) -> list[int]:
    present = set(uids)
    top = uidnext - 1
    if top < 1:
        return []
    span = known.normalized(top) if known is not None else p.SequenceSet(((1, top),))
    return [u for u in span.iter(top) if u not in present]


@register(p.Select, "auth")
async def select(s: ImapSession, cmd: p.Select) -> bytes:
    if s.selected is not None:
        await s.unselect()
        if s.qresync:
            s.write(b"* OK [CLOSED] Previous mailbox is now closed\r\n")
    if cmd.qresync is not None and not s.qresync:
        return p.bad(cmd.tag, "QRESYNC is not enabled")
    if cmd.condstore:
        s.enabled.add("CONDSTORE")
    box = await s.mailboxes.open(
        s.account, cmd.mailbox, user=s.account, readonly=cmd.readonly, origin=s
    )
    readonly = cmd.readonly or not set(box.rights) & set("swd")
    sel = Selected(box, cmd.mailbox, readonly)
    for flags in box.flag_counts():  # per distinct flag set: a mailbox has a handful
        s.note_keywords(sel, flags)
    s.selected = sel
    s.state = State.SELECTED
    s.write(s.flags_lines(sel))
    s.write(r.exists_response(len(box)))
    if not s.rev2:
        s.write(b"* 0 RECENT\r\n")
        first = box.first_without("\\Seen")
        if first is not None:
            s.write(b"* OK [UNSEEN %d] First unseen\r\n" % first)
    s.write(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % box.uidvalidity)
    s.write(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % box.uidnext)
    s.write(b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % box.highestmodseq)
    s.write(b"* OK [MAILBOXID (" + mailbox_id(box.uidvalidity) + b")] Ok\r\n")
    if s.rev2:
        s.write(r.list_response([], "/", cmd.mailbox, utf8=s.utf8))
    q = cmd.qresync
    if q is not None and q.uidvalidity == box.uidvalidity:
        uids = box.uids()
        vanished = _vanished_since(uids, q.known_uids, box.uidnext)
        if vanished:
            s.write(r.vanished_response(p.SequenceSet.from_numbers(vanished), earlier=True))
        for seq, rec in enumerate(box.messages(), 1):
            if rec.modseq > q.modseq:
                s.write(r.fetch_response(seq, s.flag_items(rec)))
    code = "READ-ONLY" if readonly else "READ-WRITE"
    verb = "EXAMINE" if cmd.readonly else "SELECT"
    return p.ok(cmd.tag, f"{verb} completed", code)


@register(p.Close, "selected")
async def close(s: ImapSession, cmd: p.Close) -> bytes:
    sel = s.selected
    assert sel is not None
    if not sel.readonly and "d" in sel.box.rights:
        try:
            await sel.box.expunge()
        except mb.MailboxError as exc:
            s.log.low(f"CLOSE expunge failed: {exc}")
    s.selected = None  # nothing more may be announced
    s.state = State.AUTHENTICATED
    await sel.box.close()
    return p.ok(cmd.tag, "CLOSE completed")


@register(p.Unselect, "selected")
async def unselect(s: ImapSession, cmd: p.Unselect) -> bytes:
    await s.unselect()
    return p.ok(cmd.tag, "UNSELECT completed")


@register(p.Expunge, "selected")
async def expunge(s: ImapSession, cmd: p.Expunge) -> bytes:
    sel = s.selected
    assert sel is not None
    if sel.readonly:
        return p.no(cmd.tag, "Mailbox is read-only", "READ-ONLY")
    uids = None
    if cmd.uid_set is not None:
        uids = sel.resolve(cmd.uid_set, uid=True)
    try:
        gone = await sel.box.expunge(uids)
    except mb.PermissionDenied as exc:
        raise CommandError(f"Permission denied: {exc}", "NOPERM") from None
    write_expunged(s, sel, gone)
    if s.condstore:
        return p.ok(cmd.tag, "EXPUNGE completed", f"HIGHESTMODSEQ {sel.box.highestmodseq}")
    return p.ok(cmd.tag, "EXPUNGE completed")
