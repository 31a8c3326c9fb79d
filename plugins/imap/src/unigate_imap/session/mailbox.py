"""Mailbox-level commands: LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB, CREATE,
DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS (STATUS=SIZE).

Why thin: names, hierarchy, visibility and rights are the mailbox manager's; this module
only turns its answers into LIST/STATUS lines and applies the IMAP-only options.
"""

from __future__ import annotations

from typing import Any

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register
from .errors import CommandError

__all__ = ["mailbox_id", "status_values"]

SEP = "/"
_SPECIAL = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"})


def _mgr(s: ImapSession) -> Any:
    return s.mailboxes


def mailbox_id(uidvalidity: int) -> bytes:
    """RFC 8474 MAILBOXID: the manager gives every mailbox a UIDVALIDITY no other mailbox
    of the server has, kept across RENAME; ``M`` + its hex digits is therefore stable."""
    return b"M%x" % uidvalidity


async def status_values(
    s: ImapSession, name: str, items: tuple[str, ...]
) -> list[tuple[str, int | bytes]]:
    """The STATUS items of ``name`` for this user, in the order asked."""
    st = await _mgr(s).status(s.account, name, s.account)
    values: dict[str, int | bytes] = {
        "MAILBOXID": b"(" + mailbox_id(st.uidvalidity) + b")",
        "MESSAGES": st.messages,
        "UNSEEN": st.unseen,
        "UIDNEXT": st.uidnext,
        "UIDVALIDITY": st.uidvalidity,
        "HIGHESTMODSEQ": st.highestmodseq,
        "SIZE": st.size,
        "RECENT": 0,
        "APPENDLIMIT": s.settings.max_literal_size,
    }
    out: list[tuple[str, int | bytes]] = []
    for item in items:
        key = item.upper()
        if key == "DELETED":
            out.append((key, await _count_deleted(s, name)))
        elif key in values:
            out.append((key, values[key]))
        else:
            raise CommandError(f"Unknown STATUS item {key[:40]}", status="BAD")
    return out


async def _count_deleted(s: ImapSession, name: str) -> int:
    sel = s.selected
    if sel is not None and sel.name == name:
        return sel.box.count_with("\\Deleted")
    box = await _mgr(s).open(s.account, name, user=s.account, readonly=True)
    try:
        return box.count_with("\\Deleted")
    finally:
        await box.close()


def _join(reference: str, pattern: str) -> str:
    if not reference:
        return pattern
    if pattern.startswith(SEP) or pattern.startswith("~"):
        return pattern
    return reference + pattern


@register(p.List, "auth")
async def list_(s: ImapSession, cmd: p.List) -> bytes:
    sel_opts = {o.upper() for o in cmd.selection_options}
    ret_opts = {o.upper() for o in cmd.return_options}
    if cmd.patterns == ("",) and not cmd.extended:
        s.write(r.list_response(["\\Noselect"], SEP, "", utf8=s.utf8))
        return p.ok(cmd.tag, "LIST completed")
    subscribed_only = "SUBSCRIBED" in sel_opts
    show_subscribed = subscribed_only or "SUBSCRIBED" in ret_opts
    special_only = "SPECIAL-USE" in sel_opts
    seen: set[str] = set()
    for pattern in cmd.patterns:
        if not pattern:
            continue
        try:
            infos = await _mgr(s).list(
                s.account, s.account, _join(cmd.reference, pattern), subscribed_only=subscribed_only
            )
        except mb.InvalidMailboxName:
            continue
        for info in infos:
            if info.name in seen:
                continue
            seen.add(info.name)
            attrs = set(info.attributes)
            if not show_subscribed:
                attrs.discard("\\Subscribed")
            if special_only and not attrs & _SPECIAL:
                continue
            s.write(r.list_response(sorted(attrs), SEP, info.name, utf8=s.utf8))
            if cmd.status_items and not attrs & {"\\Noselect", "\\NonExistent"}:
                try:
                    values = await status_values(s, info.name, cmd.status_items)
                except mb.MailboxError:
                    continue
                s.write(r.status_response(info.name, values, utf8=s.utf8))
            await s.maybe_flush()
    return p.ok(cmd.tag, "LIST completed")


@register(p.Lsub, "auth")
async def lsub(s: ImapSession, cmd: p.Lsub) -> bytes:
    if not cmd.pattern:
        s.write(r.lsub_response(["\\Noselect"], SEP, "", utf8=s.utf8))
        return p.ok(cmd.tag, "LSUB completed")
    try:
        infos = await _mgr(s).list(
            s.account, s.account, _join(cmd.reference, cmd.pattern), subscribed_only=True
        )
    except mb.InvalidMailboxName:
        infos = []
    for info in infos:
        attrs = set(info.attributes) - {"\\Subscribed"}
        if "\\NonExistent" in attrs:
            attrs = (attrs - {"\\NonExistent"}) | {"\\Noselect"}
        s.write(r.lsub_response(sorted(attrs), SEP, info.name, utf8=s.utf8))
    return p.ok(cmd.tag, "LSUB completed")


@register(p.Create, "auth")
async def create(s: ImapSession, cmd: p.Create) -> bytes:
    if cmd.special_use:
        return p.no(cmd.tag, "Special-use attributes are set by the account settings", "USEATTR")
    if cmd.mailbox.upper() == "INBOX":
        return p.no(cmd.tag, "INBOX already exists", "ALREADYEXISTS")
    mgr = _mgr(s)
    await mgr.create(s.account, cmd.mailbox, s.account, origin=s)
    code = None
    if not cmd.mailbox.endswith(SEP):
        try:
            st = await mgr.status(s.account, cmd.mailbox, s.account)
            code = "MAILBOXID (" + mailbox_id(st.uidvalidity).decode("ascii") + ")"
        except Exception:  # noqa: BLE001 - the mailbox exists; the id is a courtesy
            code = None
    return p.ok(cmd.tag, "CREATE completed", code)


@register(p.Delete, "auth")
async def delete(s: ImapSession, cmd: p.Delete) -> bytes:
    sel = s.selected
    await _mgr(s).delete(s.account, cmd.mailbox, s.account, origin=s)
    if sel is not None and sel.name == cmd.mailbox:
        await s.unselect()
    return p.ok(cmd.tag, "DELETE completed")


@register(p.Rename, "auth")
async def rename(s: ImapSession, cmd: p.Rename) -> bytes:
    await _mgr(s).rename(s.account, cmd.old, cmd.new, s.account, origin=s)
    return p.ok(cmd.tag, "RENAME completed")


@register(p.Subscribe, "auth")
async def subscribe(s: ImapSession, cmd: p.Subscribe) -> bytes:
    await _mgr(s).subscribe(s.account, cmd.mailbox, origin=s)
    return p.ok(cmd.tag, "SUBSCRIBE completed")


@register(p.Unsubscribe, "auth")
async def unsubscribe(s: ImapSession, cmd: p.Unsubscribe) -> bytes:
    await _mgr(s).unsubscribe(s.account, cmd.mailbox, origin=s)
    return p.ok(cmd.tag, "UNSUBSCRIBE completed")


@register(p.Status, "auth")
async def status(s: ImapSession, cmd: p.Status) -> bytes:
    values = await status_values(s, cmd.mailbox, cmd.items)
    s.write(r.status_response(cmd.mailbox, values, utf8=s.utf8))
    return p.ok(cmd.tag, "STATUS completed")
