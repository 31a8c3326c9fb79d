"""Hook family: routing -- resolve an address to (module, queue, address) and the relay marker.

Every address the server handles -- an envelope recipient, a Signal target, a login
name -- goes through the kernel's one Router (the manual's "Router" section). The Router
applies, in order: its routing table (the manual's record syntax), the special
addresses and pseudo-domains (``null``, ``error``, ``._via``, ``.local``, ...), the
domain objects of the account database (accounts, aliases, forwarders, groups), and
only then this hook, for the addresses none of those decided (the manual's "Routing via
Modules": a mailing list, an external helper, an ENUM lookup, a protocol's own
pseudo-domains). The domain's unknown-name policy and the built-in SMTP/SIP relaying
apply after the hook has passed.

The values here are what crosses the hook and what the Router returns:

- :class:`Route` -- an accepted address: the module, its queue, the address inside it;
- :class:`RouteFailure` -- a rejected address (with the reason kind and the text);
- :class:`Reroute` -- "I changed the address; route this one instead" (the manual's
  modules may *modify* an address, after which the Router makes a new iteration).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from unigate_hookspecs.markers import hookspec


class RouteOp(enum.Enum):
    """The operation an address is routed for (the manual's ``Mail:``/``Signal:``/``Access:``)."""

    MAIL = "mail"  # an E-mail delivery (envelope recipient, redirect, ...)
    SIGNAL = "signal"  # a real-time Signal (SIP, XMPP, IM, presence)
    ACCESS = "access"  # an account access operation (a login name)


@dataclass(frozen=True, slots=True)
class Route:
    """An address the Router (or a routing plugin) accepted.

    ``module``
        The module that takes the address, upper case as the manual prints it:
        ``"LOCAL"`` (Local Delivery), ``"SMTP"``, ``"SIP"``, ``"LIST"``, ``"GROUP"``,
        ``"PBX"`` (a real-time application), ``"SYSTEM"`` (a built-in destination:
        ``NULL`` the black hole, ``ALL``/``ALLDOMAINS`` the all-accounts objects), or a
        plugin's own module name.
    ``queue``
        The object or queue inside the module: for ``LOCAL`` the account, always
        ``account@domain`` with the real (not alias) names; for ``SMTP``/``SIP`` the host
        to send to (``host``, ``host:port`` or ``[ip]``); for ``SYSTEM`` the built-in
        destination name (``"NULL"``, ``"ALL"``, ``"ALLDOMAINS"``); for ``GROUP`` and
        ``LIST`` the object's ``name@domain``; for ``PBX`` the account the application
        runs for.
    ``address``
        The address inside that queue: for ``SMTP``/``SIP`` the address sent to the host
        (``user@client1.com``); for ``LOCAL`` the name as addressed (the manual's
        ``X-Real-To:`` value, e.g. the local parts sent to a Unified Domain-Wide Account).
    ``relay``
        The "can relay" marker of the manual's Protection section: set by a ``Relay:``
        record (when the rewritten address is simple) or a ``RelayAll:`` record or a
        Forwarder; never reset once set.
    ``mailbox``
        ``LOCAL`` only: Direct Mailbox Addressing (``box#account``) -- store into this
        mailbox and skip the account's rules. None = the normal INBOX delivery.
    ``application``/``parameters``
        ``PBX`` only: the real-time application (``myProgram{mixer,fast}#user@domain``
        gives ``application="myProgram"``, ``parameters=("mixer", "fast")``).
    ``members``
        ``GROUP`` only: the group's member addresses, as stored (the LIST module or
        the Signal component distributes to them).

    ``str(route)`` is the manual's routing string ``module(queue)address``, e.g.
    ``SMTP(remote.example)bob@remote.example``.

    Examples::

        Route("LOCAL", "alice@example.test", "alice")
        Route("LOCAL", "public@example.test", "sales", mailbox="sales")
        Route("SMTP", "remote.example", "bob@remote.example", relay=True)
        Route("SYSTEM", "NULL", "junk")
    """

    module: str
    queue: str
    address: str
    relay: bool = False
    mailbox: str | None = None
    application: str | None = None
    parameters: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.module}({self.queue}){self.address}"


class FailureKind(enum.Enum):
    """Why an address was rejected."""

    ERROR = "error"  # routed to ``error`` (the address or the domain)
    BLACKLISTED = "blacklisted"  # routed to ``blacklisted``: "Blacklisted Address"
    SPAMTRAP = "spamtrap"  # routed to ``spamtrap``: SMTP rejects the whole message
    INCOMPLETE = "incomplete"  # routed to ``incomplete``: "Address Incomplete" (Signals)
    UNKNOWN = "unknown"  # no such object in a local domain (the unknown-name policy said reject)
    UNROUTABLE = "unroutable"  # nothing can take the address (e.g. an unqualified domain)
    LOOP = "loop"  # the routing did not converge
    SYNTAX = "syntax"  # the address cannot be parsed
    TEMPORARY = "temporary"  # a lookup failed for now (DNS, directory): try again later


@dataclass(frozen=True, slots=True)
class RouteFailure:
    """An address the Router rejected.

    ``kind`` says why (:class:`FailureKind`); ``text`` is the human-readable error for the
    report or the protocol reply (e.g. ``"unknown account"``); ``address`` is the address
    at the point of failure (after any rewriting). ``temporary`` is True only when the
    same address may route later (a DNS or directory outage).
    """

    kind: FailureKind
    text: str
    address: str
    temporary: bool = False

    def __str__(self) -> str:
        return f"{self.kind.value.upper()}: {self.text} ({self.address})"


@dataclass(frozen=True, slots=True)
class Reroute:
    """A routing plugin's answer "route this address instead": the Router restarts with it.

    ``relay`` True sets the "can relay" marker (like a ``RelayAll:`` record); False leaves
    the marker as it is (like ``NoRelay:``).
    """

    address: str
    relay: bool = False


#: what a routing hook may answer (None = no opinion)
RouteAnswer = Route | RouteFailure | Reroute


@hookspec(firstresult=True)
def unigate_route(server: Any, address: str, operation: RouteOp) -> RouteAnswer | None:
    """Route an address that the routing table and the domain objects did not decide.

    Called when: the Router has applied its table, the special addresses and
    pseudo-domains and the account database's objects, and the address is still open:
    a name in a local domain that is no account/alias/forwarder/group (before the
    domain's unknown-name policy applies), or a remote domain (before the built-in
    SMTP/SIP relaying applies), or the pseudo-domains the kernel leaves to plugins
    (``external``, ``x._enum``). This is the manual's "Routing via Modules" step: a
    mailing-list plugin takes ``listname@domain``; an ENUM plugin resolves
    ``+N@e164.arpa._enum``; a helper answers ``tele-5556666@external``.

    Params: ``server`` -- the Server handle; ``address`` -- the address in canonical
    form ``local%hop2%hop1@domain`` (a main-domain address carries the main domain
    name); ``operation`` -- the :class:`RouteOp`.

    Return: None = no opinion (the Router goes on: unknown-name policy, then relaying);
    a :class:`Route` accepts the address (the Router ORs ``relay`` with its own marker);
    a :class:`RouteFailure` rejects it; a :class:`Reroute` changes it (the Router
    restarts with the new address, counted against its loop limit). Stops at the first
    non-None result (firstresult). Async or sync (the kernel awaits a coroutine result
    through ``unigate.api`` and hands the answer to ``Router.aroute``).

    Example::

        @hookimpl
        async def unigate_route(server, address, operation):
            local, _, domain = address.rpartition("@")
            if operation is RouteOp.MAIL and await lists.exists(local, domain):
                return Route("LIST", f"{local}@{domain}", address)
            return None
    """
