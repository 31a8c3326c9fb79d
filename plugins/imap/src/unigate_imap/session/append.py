"""APPEND with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID and APPENDLIMIT; REPLACE (RFC 8508).

Why two paths: appending through an open `MailboxSession` needs the ``r`` right; a
user with only ``i`` (a drop box) appends through the manager's delivery path, with
the flags the rights allow and without APPENDUID (the UIDVALIDITY is not theirs to see).
The literal size limit is enforced by the protocol core (``NO [TOOBIG]``).
"""

from __future__ import annotations

from unigate.api import mailboxes as mb

from .. import protocol as p
from .cache import flush_pending, remember_appended
from .core import ImapSession, register
from .errors import CommandError
from .select import write_expunged

__all__: list[str] = []


def _date(msg: p.AppendMessage) -> int | None:
    return int(msg.date.timestamp()) if msg.date is not None else None


def _flags(msg: p.AppendMessage) -> list[str]:
    return [f for f in msg.flags if f.upper() != "\\RECENT"]


@register(p.Append, "auth")
async def append(s: ImapSession, cmd: p.Append) -> bytes:
    code = await append_messages(s, cmd.mailbox, cmd.messages)
    return p.ok(cmd.tag, "APPEND completed", code)


async def append_messages(
    s: ImapSession, mailbox: str, messages: tuple[p.AppendMessage, ...]
) -> str | None:
    """Append ``messages`` to ``mailbox``; returns the APPENDUID code (None: not given).

    Raises `CommandError` or the manager's errors (the caller maps them).
    """
    for msg in messages:
        if not msg.data:
            raise CommandError("Empty message", "CANNOT")
        if len(msg.data) > s.settings.max_literal_size:
            raise CommandError("Message too large", "TOOBIG")
    sel = s.selected
    mgr = s.mailboxes
    opened = None
    if sel is not None and (sel.readonly or not await sel.is_named(mgr, s.account, mailbox)):
        sel = None  # not the selected mailbox (or not writable there): open it
    if sel is not None:
        box = sel.box
    else:
        try:
            box = opened = await mgr.open(s.account, mailbox, user=s.account, origin=s, view=False)
        except mb.PermissionDenied:
            await _insert_only(s, mailbox, messages)
            return None
    try:
        uids = []
        for msg in messages:
            rec = await box.append(msg.data, _flags(msg), _date(msg))
            uids.append(rec.uid)
            if rec.size == len(msg.data) and remember_appended(box, rec.uid, msg.data, s.memory):
                await flush_pending(box, s.memory)
        if sel is not None:
            sel.added_here(uids)
        elif len(messages) > 1:
            await flush_pending(box, s.memory)
        validity = box.uidvalidity
    finally:
        if opened is not None:
            await opened.close()
    return f"APPENDUID {validity} {p.SequenceSet.from_numbers(uids)}"


@register(p.Replace, "selected")
async def replace(s: ImapSession, cmd: p.Replace) -> bytes:
    """REPLACE / UID REPLACE (RFC 8508): append the new version, expunge the old one."""
    sel = s.selected
    assert sel is not None
    if sel.readonly:
        return p.no(cmd.tag, "Mailbox is read-only", "READ-ONLY")
    uids = sel.resolve(p.SequenceSet(((cmd.target, cmd.target),)), uid=cmd.uid)
    if not uids:
        return p.no(cmd.tag, "No such message", "NONEXISTENT")
    if "d" not in sel.box.rights:
        return p.no(cmd.tag, "Permission denied: access right 'd' required", "NOPERM")
    code = await append_messages(s, cmd.mailbox, (cmd.message,))
    if code:
        s.write(b"* OK [" + code.encode() + b"] Replacement appended\r\n")
    await sel.box.store(uids, ["\\Deleted"], "add")
    gone = await sel.box.expunge(uids)
    write_expunged(s, sel, gone)
    return p.ok(cmd.tag, "REPLACE completed")


async def _insert_only(s: ImapSession, mailbox: str, messages: tuple[p.AppendMessage, ...]) -> None:
    mgr = s.mailboxes
    rights = await mgr.my_rights(s.account, mailbox, s.account)
    if "i" not in rights:
        raise CommandError("Permission denied: access right 'i' required", "NOPERM")
    for msg in messages:
        flags = [
            f
            for f in _flags(msg)
            if ("s" if f == "\\Seen" else "d" if f == "\\Deleted" else "w") in rights
        ]
        await mgr.deliver(s.account, mailbox, msg.data, flags, _date(msg))
