"""Any-state and not-authenticated commands: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN,
AUTHENTICATE (SASL through the kernel's authenticator, SASL-IR).

Why here: these are the only commands that change who the session is; the account is
set in one place (`_logged_in`) so the read-then-send trust and the state change cannot
be forgotten by one of the login paths.

Login referrals (RFC 2221, the manual's IMAP "Login Referrals"): a LOGIN name the Router
sends to another server (the SMTP module, e.g. ``<j.smith> = John@othercompany.com``) is
refused before any password check with ``NO [REFERRAL IMAP://John;AUTH=*@othercompany.com/]``,
so a client that follows referrals connects there. AUTHENTICATE names its user inside
the SASL exchange: when that exchange fails and the name it claimed is routed to
another server, the tagged NO carries the same referral (RFC 2221 allows it for both).
"""

from __future__ import annotations

import base64
import contextlib
import ssl
from urllib.parse import quote

from unigate.api import sasl
from unigate_hookspecs.routing import Route, RouteOp

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register
from .state import State

__all__: list[str] = []


@register(p.Capability, "any")
async def capability(s: ImapSession, cmd: p.Capability) -> bytes:
    s.write(r.capability_response(s.capabilities()))
    return p.ok(cmd.tag, "CAPABILITY completed")


@register(p.Noop, "any")
async def noop(s: ImapSession, cmd: p.Noop) -> bytes:
    return p.ok(cmd.tag, "NOOP completed")


@register(p.Check, "selected")
async def check(s: ImapSession, cmd: p.Check) -> bytes:
    return p.ok(cmd.tag, "CHECK completed")


@register(p.Logout, "any")
async def logout(s: ImapSession, cmd: p.Logout) -> bytes:
    s.write(b"* BYE Unigate IMAP server signing off\r\n")
    s.state = State.LOGOUT
    return p.ok(cmd.tag, "LOGOUT completed")


@register(p.StartTLS, "notauth")
async def starttls(s: ImapSession, cmd: p.StartTLS) -> bytes | None:
    if not s.starttls_available:
        return p.bad(cmd.tag, "TLS is already active or not available")
    s.write(p.ok(cmd.tag, "Begin TLS negotiation now"))
    await s.flush()
    s.proto.discard_buffered()  # nothing sent in clear text before the handshake may count
    try:
        await s.conn.start_tls()
    except (ssl.SSLError, OSError, RuntimeError, TimeoutError) as exc:
        s.log.problem(f"STARTTLS failed: {exc}")
        s.state = State.LOGOUT
    return None


async def _logged_in(s: ImapSession, tag: str, account: str) -> bytes:
    s.account = account
    s.state = State.AUTHENTICATED
    classifier = getattr(s.server, "classifier", None)
    if classifier is not None:
        classifier.trust_temporarily(s.peer_ip)
    caps = " ".join(s.capabilities())
    return p.ok(tag, "Logged in", f"CAPABILITY {caps}")


_MOVED = "account has been moved to a remote system"


def _failed(tag: str, reason: str, temporary: bool) -> bytes:
    code = "UNAVAILABLE" if temporary else "AUTHENTICATIONFAILED"
    return p.no(tag, reason.replace("\r", " ").replace("\n", " ") or "Login failed", code)


async def referral(s: ImapSession, name: str) -> str | None:
    """``REFERRAL imap-url`` when the Router sends ``name`` to another server, else None."""
    route = None
    with contextlib.suppress(Exception):  # a routing failure is an ordinary login failure
        route = await s.server.routing.route(name, RouteOp.ACCESS)
    if not isinstance(route, Route) or route.module != "SMTP" or not route.queue:
        return None
    user = route.address.rpartition("@")[0] or route.address
    return f"REFERRAL IMAP://{quote(user, safe='&=~')};AUTH=*@{route.queue}/"


@register(p.Login, "notauth")
async def login(s: ImapSession, cmd: p.Login) -> bytes:
    if not s.cleartext_allowed:
        return p.no(cmd.tag, "Use STARTTLS before LOGIN", "PRIVACYREQUIRED")
    code = await referral(s, cmd.username)
    if code is not None:
        return p.no(cmd.tag, _MOVED, code)
    outcome = await s.server.auth.login(
        cmd.username,
        cmd.password,
        service="imap",
        peer_ip=s.peer_ip,
        local_ip=s.local_ip,
        secure=s.conn.secure,
    )
    if outcome.account is None:
        return _failed(cmd.tag, outcome.reason, outcome.temporary)
    return await _logged_in(s, cmd.tag, outcome.account)


def _challenge(data: bytes) -> bytes:
    return b"+ " + base64.b64encode(data) + b"\r\n"


@register(p.Authenticate, "notauth")
async def authenticate(s: ImapSession, cmd: p.Authenticate) -> bytes | None:
    mech = cmd.mechanism.upper()
    if mech not in s.mechanisms():
        if mech in ("PLAIN", "LOGIN") and not s.cleartext_allowed:
            return p.no(cmd.tag, "Use STARTTLS first", "PRIVACYREQUIRED")
        return p.no(cmd.tag, f"Unsupported mechanism {mech[:40]}", "CANNOT")
    try:
        exchange = s.server.auth.start_sasl(
            mech,
            service="imap",
            peer_ip=s.peer_ip,
            local_ip=s.local_ip,
            secure=s.conn.secure,
        )
    except sasl.UnknownMechanism:
        return p.no(cmd.tag, f"Unsupported mechanism {mech[:40]}", "CANNOT")
    step = await exchange.step(cmd.initial_response)
    while isinstance(step, sasl.Challenge):
        s.write(_challenge(step.data))
        s.proto.expect_sasl_response()
        event = await s.read_event(s.timeout())
        if not isinstance(event, p.SaslResponse):
            await exchange.cancel()
            s.state = State.LOGOUT
            return None
        if event.cancelled:
            await exchange.cancel()
            return p.bad(cmd.tag, "AUTHENTICATE cancelled")
        if event.malformed:
            await exchange.cancel()
            return p.bad(cmd.tag, "Invalid base64 in SASL response")
        step = await exchange.step(event.data)
    outcome = step.outcome
    if outcome.account is None:
        code = await referral(s, exchange.authcid) if exchange.authcid else None
        if code is not None and not outcome.temporary:
            return p.no(cmd.tag, _MOVED, code)
        return _failed(cmd.tag, outcome.reason, outcome.temporary)
    if step.additional:
        # server-final data (SCRAM): a last challenge answered by an empty line
        s.write(_challenge(step.additional))
        s.proto.expect_sasl_response()
        event = await s.read_event(s.timeout())
        if not isinstance(event, p.SaslResponse):
            s.state = State.LOGOUT
            return None
        if event.cancelled or event.data:
            return p.bad(cmd.tag, "AUTHENTICATE cancelled")
    return await _logged_in(s, cmd.tag, outcome.account)
