"""QUOTA (RFC 9208): one quota root per account, named ``""`` for the user's own.

Why so small: the manager counts storage and mailboxes per account and the limits
are account settings; SETQUOTA is an administrator's job (refused here).
"""

from __future__ import annotations

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register

__all__: list[str] = []

ROOT = ""


async def _resources(s: ImapSession) -> list[tuple[str, int, int]]:
    q = await s.mailboxes.quota(s.account)
    out: list[tuple[str, int, int]] = []
    if q.limit is not None:
        out.append(("STORAGE", (q.used + 1023) // 1024, q.limit // 1024))
    if q.count_limit is not None:
        out.append(("MAILBOX", q.count, q.count_limit))
    return out


@register(p.GetQuotaRoot, "auth")
async def getquotaroot(s: ImapSession, cmd: p.GetQuotaRoot) -> bytes:
    await s.mailboxes.my_rights(s.account, cmd.mailbox, s.account)  # must exist and be visible
    if cmd.mailbox.startswith("~"):
        s.write(r.quotaroot_response(cmd.mailbox, [], utf8=s.utf8))
        return p.ok(cmd.tag, "GETQUOTAROOT completed")
    s.write(r.quotaroot_response(cmd.mailbox, [ROOT], utf8=s.utf8))
    s.write(r.quota_response(ROOT, await _resources(s)))
    return p.ok(cmd.tag, "GETQUOTAROOT completed")


@register(p.GetQuota, "auth")
async def getquota(s: ImapSession, cmd: p.GetQuota) -> bytes:
    if cmd.root != ROOT:
        return p.no(cmd.tag, "No such quota root", "NONEXISTENT")
    s.write(r.quota_response(ROOT, await _resources(s)))
    return p.ok(cmd.tag, "GETQUOTA completed")


@register(p.SetQuota, "auth")
async def setquota(s: ImapSession, cmd: p.SetQuota) -> bytes:
    return p.no(cmd.tag, "Quotas are set by the administrator", "NOPERM")
