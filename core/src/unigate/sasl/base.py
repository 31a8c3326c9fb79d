"""The shape every server-side SASL exchange shares (RFC 4422).

An exchange is a small sans-I/O state machine: the protocol (SMTP AUTH, IMAP
AUTHENTICATE, POP AUTH, XMPP) decodes the client's base64 and hands the bytes
to :meth:`SaslExchange.step`, which answers with a :class:`Challenge` to send
back, a :class:`Success`, or a :class:`Failure`.  Base64, the ``*`` cancel,
line lengths and reply codes stay with the protocol; credentials come from a
:class:`CredentialSource` the kernel supplies, so no exchange reads settings.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

__all__ = [
    "Challenge",
    "CredentialSource",
    "ExchangeFinished",
    "Failure",
    "SaslExchange",
    "SaslStep",
    "ScramKeys",
    "Success",
    "UnknownMechanism",
]


@dataclass(frozen=True, slots=True)
class ScramKeys:
    """What a SCRAM server needs of an account (RFC 5802 section 3)."""

    account: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


@runtime_checkable
class CredentialSource(Protocol):
    """Where exchanges look credentials up; the kernel's account store implements it.

    Implementations apply the manual's checks (CommuniGate password, OS password,
    external helper, ``user$tag`` variants, disabled accounts) behind these calls.
    """

    async def verify_plain(self, authcid: str, password: str) -> str | None:
        """Check a clear-text password; return the canonical account name, or None."""
        ...

    async def scram_keys(self, authcid: str, mechanism: str) -> ScramKeys | None:
        """The stored SCRAM keys for ``mechanism`` (e.g. ``"SCRAM-SHA-256"``), or None."""
        ...

    async def authorize(self, account: str, authzid: str) -> bool:
        """May ``account`` act as ``authzid``?  (The manual's ``CanImpersonate``.)"""
        ...


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send ``data`` to the client (base64-encoded by the protocol) and await its answer."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Success:
    """The client is ``account``; ``authzid`` is set only when it acts as someone else.

    ``additional`` is data the server must still deliver (SCRAM's server-final
    ``v=...``): with the success reply where the protocol allows it, otherwise as
    one more challenge whose (empty) answer the protocol reads before succeeding.
    """

    account: str
    authzid: str | None = None
    additional: bytes | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """The exchange failed; ``temporary`` means a server-side problem worth retrying."""

    reason: str
    temporary: bool = False


SaslStep = Challenge | Success | Failure


class UnknownMechanism(LookupError):
    """The client asked for a mechanism this server does not offer."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class ExchangeFinished(RuntimeError):
    """``step`` was called after the exchange already succeeded or failed."""


class SaslExchange(abc.ABC):
    """One authentication attempt with one mechanism.

    Subclasses implement :meth:`_step`; :meth:`step` guards against use after
    the end.  ``authcid`` holds the identity the client claimed, once known, so
    the caller can count failures per account (see :mod:`unigate.throttle`).
    """

    name: ClassVar[str]
    #: True when the password crosses the wire (PLAIN, LOGIN): refuse it on an
    #: insecure link for accounts with "Secure Only" (manual line 9675).
    cleartext: ClassVar[bool] = False

    def __init__(self, source: CredentialSource) -> None:
        self.source = source
        self.authcid: str | None = None
        self.done = False

    async def step(self, response: bytes | None) -> SaslStep:
        """Feed the client's decoded response (None: no initial response) and get the next step."""
        if self.done:
            raise ExchangeFinished(f"{self.name} exchange already finished")
        result = await self._step(response)
        if not isinstance(result, Challenge):
            self.done = True
        return result

    @abc.abstractmethod
    async def _step(self, response: bytes | None) -> SaslStep:
        """Advance the mechanism's state machine by one client message."""

    async def _finish(
        self, account: str, authzid: str | None, additional: bytes | None = None
    ) -> SaslStep:
        """Succeed as ``account``, checking impersonation when ``authzid`` names someone else."""
        if authzid and authzid not in (account, self.authcid):
            if not await self.source.authorize(account, authzid):
                return Failure("not authorized to act as the requested identity")
            return Success(account, authzid, additional)
        return Success(account, None, additional)
