"""ACL (RFC 4314 / RFC 2086): GETACL, SETACL, DELETEACL, LISTRIGHTS, MYRIGHTS.

Why a translation: the manager keeps the manual's rights ``lrswipcda``; RFC 4314
clients may send ``k x t e``, which map to ``c`` (create/delete mailboxes) and ``d``
(delete/expunge messages). Rights are checked and stored by the manager.
"""

from __future__ import annotations

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register
from .errors import CommandError

__all__ = ["owner_of", "translate_rights"]

ALL_RIGHTS = "lrswipcda"
_ALIASES = {"k": "c", "x": "c", "t": "d", "e": "d"}


def translate_rights(text: str) -> str:
    """RFC 4314 rights (with an optional ``+``/``-``) in the manual's letters."""
    prefix = text[:1] if text[:1] in ("+", "-") else ""
    body = text[len(prefix) :]
    out = []
    for ch in body.lower():
        ch = _ALIASES.get(ch, ch)
        if ch not in ALL_RIGHTS:
            raise CommandError(f"Unknown right {ch!r}", "INVALID", status="BAD")
        if ch not in out:
            out.append(ch)
    return prefix + "".join(out)


async def owner_of(s: ImapSession, name: str) -> str | None:
    """The account owning mailbox ``name`` as this session names it (None: unknown).

    Follows ``~account/...`` foreign names and mailbox aliases the way the manager does.
    """
    account = str(s.account).lower()
    for _ in range(8):
        if name.startswith("~"):
            spec, _, name = name[1:].partition("/")
            domain = account.partition("@")[2]
            candidates = [spec] if "@" in spec else [f"{spec}@{domain}", spec]
            found = None
            for cand in candidates:
                found = s.server.objects.resolve(cand)
                if found is not None:
                    break
            if found is None:
                return None
            account = str(found).lower()
            continue
        first, sep, rest = name.partition("/")
        aliases = await s.mailboxes.aliases(account)
        if first in aliases:
            name = aliases[first] + (("/" + rest) if sep and rest else ("/" if sep else ""))
            continue
        return account
    return None


@register(p.GetAcl, "auth")
async def getacl(s: ImapSession, cmd: p.GetAcl) -> bytes:
    """The mailbox ACL, the owner's implicit full rights first (RFC 4314 §3.3)."""
    acl = await s.mailboxes.get_acl(s.account, cmd.mailbox, s.account)
    entries = sorted(acl.items())
    owner = await owner_of(s, cmd.mailbox)
    if owner is not None:
        entries = [(owner, ALL_RIGHTS)] + [(k, v) for k, v in entries if k.lower() != owner]
    s.write(r.acl_response(cmd.mailbox, entries, utf8=s.utf8))
    return p.ok(cmd.tag, "GETACL completed")


@register(p.SetAcl, "auth")
async def setacl(s: ImapSession, cmd: p.SetAcl) -> bytes:
    rights = translate_rights(cmd.rights)
    if rights in ("+", "-"):
        return p.ok(cmd.tag, "SETACL completed")
    await s.mailboxes.set_acl(
        s.account, cmd.mailbox, s.account, cmd.identifier, rights or None, origin=s
    )
    return p.ok(cmd.tag, "SETACL completed")


@register(p.DeleteAcl, "auth")
async def deleteacl(s: ImapSession, cmd: p.DeleteAcl) -> bytes:
    await s.mailboxes.set_acl(s.account, cmd.mailbox, s.account, cmd.identifier, None, origin=s)
    return p.ok(cmd.tag, "DELETEACL completed")


@register(p.ListRights, "auth")
async def listrights(s: ImapSession, cmd: p.ListRights) -> bytes:
    # needs the administer right, like GETACL
    await s.mailboxes.get_acl(s.account, cmd.mailbox, s.account)
    s.write(r.listrights_response(cmd.mailbox, cmd.identifier, "", list(ALL_RIGHTS), utf8=s.utf8))
    return p.ok(cmd.tag, "LISTRIGHTS completed")


@register(p.MyRights, "auth")
async def myrights(s: ImapSession, cmd: p.MyRights) -> bytes:
    rights = await s.mailboxes.my_rights(s.account, cmd.mailbox, s.account)
    s.write(r.myrights_response(cmd.mailbox, rights, utf8=s.utf8))
    return p.ok(cmd.tag, "MYRIGHTS completed")
