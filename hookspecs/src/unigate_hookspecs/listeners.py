"""Hook family: listeners -- a plugin declares the sockets it serves; the kernel binds them.

Plugins never bind sockets themselves. A plugin declares each listener once (name,
transport, default port, TLS mode, handler); the operator binds it with
``[listeners.<name>] bind = ["127.0.0.1:2525", "[::1]:2525"]`` (``[]`` turns it off, port 0
binds an ephemeral port, an unnamed listener binds its default). For every accepted
TCP connection the kernel checks the address lists and connection limits, classifies
the peer, performs implicit TLS when asked, and then runs ``handler(connection)`` in
its own task. The handler owns the session; when it returns, the kernel closes the
connection.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from unigate_hookspecs.markers import hookspec


class Transport(enum.Enum):
    """How a listener receives: byte streams or datagrams."""

    TCP = "tcp"
    UDP = "udp"


class TLSMode(enum.Enum):
    """TLS on a listener socket (the manual's Init SSL/TLS: off / on / Ext)."""

    NONE = "none"  # clear text; the protocol may offer STARTTLS on the same stream
    STARTTLS = "starttls"  # clear text, STARTTLS offered (and may be required by settings)
    IMPLICIT = "implicit"  # TLS handshake before the first protocol byte (the manual's "on")
    EXTERNAL = "external"  # TLS terminated in front of us: treat as secure, refuse STARTTLS


@dataclass(frozen=True, slots=True)
class AddressClass:
    """What the kernel's address-classification service says about a peer address.

    Computed once per connection in the manual's order (Protection, Network): denied,
    the listener's grant/deny, client (trusted) addresses, white hole, blacklisted
    (lists and DNSBL), temporarily blocked; debug addresses log everything.
    """

    ip: str
    client: bool = False
    temp_trusted: bool = False
    white_hole: bool = False
    blacklisted: bool = False
    blacklist_source: str | None = None
    temp_blocked: bool = False
    lan: bool = False
    local: bool = False
    debug: bool = False

    @property
    def trusted(self) -> bool:
        """Client or temporarily trusted (read-then-send)."""
        return self.client or self.temp_trusted

    @property
    def label(self) -> str:
        """The manual's Test Address status word."""
        if self.client:
            return "Trusted"
        if self.temp_trusted:
            return "TempTrusted"
        if self.blacklisted:
            return "Blacklisted" + (f" by {self.blacklist_source}" if self.blacklist_source else "")
        return "Regular"


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """Both ends of a connection, as the handler sees them."""

    ip: str
    port: int
    local_ip: str
    local_port: int
    listener: str
    address_class: AddressClass


@runtime_checkable
class Connection(Protocol):
    """What a TCP listener handler receives (implemented by the kernel).

    ``receive()`` returns b"" at end of stream. ``start_tls()`` upgrades the same
    stream (STARTTLS); the protocol core must discard any plaintext it buffered before
    the upgrade. ``server`` is the :class:`unigate.api.Server` handle; ``log`` writes
    records tagged with the listener and session number in the manual's format.
    """

    server: Any
    peer: PeerInfo
    session_id: int
    log: Any

    @property
    def tls_active(self) -> bool: ...

    @property
    def secure(self) -> bool:
        """TLS active, or an EXTERNAL-mode listener."""
        ...

    @property
    def closing(self) -> bool:
        """True once the server started shutting down: finish the session soon."""
        ...

    async def receive(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` from the peer; b"" at end of stream or at shutdown.

        ``timeout``: seconds to wait for the first byte; ``TimeoutError`` when none came
        (cheaper than a cancel scope around every read).

        .. versionchanged:: 1.1 ``timeout``.
        """
        ...

    async def send(self, data: bytes) -> None: ...

    async def start_tls(self) -> None: ...

    async def aclose(self) -> None: ...


Handler = Callable[[Connection], Awaitable[None]]
DatagramHandler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """A listener a plugin declares.

    ``default_port`` is the port bound when the settings do not name the listener
    (use unprivileged defaults; the README lists them). For ``Transport.UDP`` the
    handler receives a datagram endpoint once per bound socket instead of a connection.
    """

    name: str
    default_port: int
    handler: Handler | DatagramHandler
    transport: Transport = Transport.TCP
    tls: TLSMode = TLSMode.NONE
    description: str = ""


@hookspec
def unigate_listeners() -> list[ListenerSpec]:
    """Declare the listeners this plugin serves.

    Called when: once at start-up, before settings are validated (the kernel builds the
    ``[listeners.<name>]`` sections from these declarations).

    Params: none.

    Return: a list of :class:`ListenerSpec`. Every plugin contributes; a name declared
    twice makes start-up fail naming both plugins. Sync.

    Example::

        @hookimpl
        def unigate_listeners():
            return [ListenerSpec("hello", 7777, handle_hello)]
    """


@hookspec
def unigate_connection_opened(connection: Connection) -> Any:
    """Judge a new connection before the protocol speaks.

    Called when: after the kernel's own address checks passed, before the handler runs.

    Params: ``connection`` -- the new :class:`Connection` (``connection.peer`` has the
    address class).

    Return: a :class:`~unigate_hookspecs.verdict.Verdict` or None (no opinion). The kernel
    walks plugins in order until one returns a final verdict; REJECT, DEFER and
    DISCONNECT close the connection before the greeting. Async or sync.
    """
