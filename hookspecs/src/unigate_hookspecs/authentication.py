"""Hook family: authentication -- verify credentials; external authentication helpers plug in here.

Every protocol authenticates through the kernel's one authentication service
(``server.auth``), which owns the security invariants: login-name resolution (the
manual's Account Access rules), failed-login throttling per address and per account,
constant-time failure, the "secure only" policy, and the Enabled Services check. The
service asks, in order: the account database's own verifiers, then this hook.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from unigate_hookspecs.markers import hookspec


class AuthMethod(enum.Enum):
    """How the client proved who it is."""

    PLAIN = "plain"  # a clear-text password (LOGIN command, SASL PLAIN/LOGIN, USER/PASS)
    SCRAM = "scram"
    APOP = "apop"
    CRAM_MD5 = "cram-md5"
    EXTERNAL = "external"  # TLS client certificate


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """A login attempt as the authentication hook sees it.

    ``account`` is the canonical account (``name@domain``) the login name resolved to,
    or None when it resolved to nothing local (an external helper may still know it).
    ``password`` is set only for clear-text methods.
    """

    login_name: str
    account: str | None
    method: AuthMethod
    service: str
    password: str | None
    peer_ip: str | None
    secure: bool


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A decided login: ``ok`` with the canonical account, or a veto with a reason."""

    ok: bool
    account: str | None = None
    reason: str = ""


@hookspec(firstresult=True)
def unigate_authenticate(server: Any, request: LoginRequest) -> AuthResult | None:
    """Decide a login the account database could not decide (or veto one it accepted).

    Called when: a clear-text login did not match the stored verifiers, or the login
    name is unknown locally (the manual's order: CommuniGate password, OS password,
    Authentication URI, External helper).

    Params: ``server`` -- the Server handle; ``request`` -- the :class:`LoginRequest`.

    Return: tri-state, like pytest's ``pytest_ignore_collect``: ``AuthResult(ok=True,
    account=...)`` decides success, ``AuthResult(ok=False)`` vetoes, None = no opinion.
    Stops at the first non-None result (firstresult). Async or sync.
    """


@hookspec
def unigate_login_check(server: Any, account: str, service: str, peer_ip: str | None) -> Any:
    """Judge a successful login before the session proceeds.

    Called when: credentials verified, before the protocol answers success.

    Params: ``account`` canonical account; ``service`` ("imap", "pop", "smtp", ...);
    ``peer_ip`` the client's address.

    Return: a :class:`~unigate_hookspecs.verdict.Verdict` or None. Deny overrides: the
    first REJECT/DEFER/DISCONNECT refuses the login. Async or sync.
    """
