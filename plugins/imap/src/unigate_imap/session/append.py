"""APPEND with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID and APPENDLIMIT.

Why two paths: appending through an open `MailboxSession` needs the ``r`` right; a
user with only ``i`` (a drop box) appends through the manager's delivery path, with
the flags the rights allow and without APPENDUID (the UIDVALIDITY is not theirs to see).
The literal size limit is enforced by the protocol core (``NO [TOOBIG]``).
"""

from __future__ import annotations

from unigate.api import mailboxes as mb

from .. import protocol as p
from .core import ImapSession, register
from .errors import CommandError

__all__: list[str] = []


def _date(msg: p.AppendMessage) -> int | None:
    return int(msg.date.timestamp()) if msg.date is not None else None


def _flags(msg: p.AppendMessage) -> list[str]:
    return [f for f in msg.flags if f.upper() != "\\RECENT"]


@register(p.Append, "auth")
async def append(s: ImapSession, cmd: p.Append) -> bytes:
    for msg in cmd.messages:
        if not msg.data:
            return p.no(cmd.tag, "Empty message", "CANNOT")
        if len(msg.data) > s.settings.max_literal_size:
            return p.no(cmd.tag, "Message too large", "TOOBIG")
    sel = s.selected
    mgr = s.mailboxes
    opened = None
    if sel is not None and sel.name == cmd.mailbox and not sel.readonly:
        box = sel.box
    else:
        try:
            box = opened = await mgr.open(s.account, cmd.mailbox, user=s.account)
        except mb.PermissionDenied:
            return await _insert_only(s, cmd)
    try:
        uids = []
        for msg in cmd.messages:
            rec = await box.append(msg.data, _flags(msg), _date(msg))
            uids.append(rec.uid)
        validity = box.uidvalidity
    finally:
        if opened is not None:
            await opened.close()
    code = f"APPENDUID {validity} {p.SequenceSet.from_numbers(uids)}"
    return p.ok(cmd.tag, "APPEND completed", code)


async def _insert_only(s: ImapSession, cmd: p.Append) -> bytes:
    mgr = s.mailboxes
    rights = await mgr.my_rights(s.account, cmd.mailbox, s.account)
    if "i" not in rights:
        raise CommandError("Permission denied: access right 'i' required", "NOPERM")
    for msg in cmd.messages:
        flags = [
            f
            for f in _flags(msg)
            if ("s" if f == "\\Seen" else "d" if f == "\\Deleted" else "w") in rights
        ]
        await mgr.deliver(s.account, cmd.mailbox, msg.data, flags, _date(msg))
    return p.ok(cmd.tag, "APPEND completed")
