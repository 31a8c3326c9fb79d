"""Listeners: the kernel binds every declared socket and runs one task per connection.

For each accepted TCP connection, in the manual's order (Listeners, Protection): the
denied list, the listener's grant/deny lists, the connection limits (total, per
address, non-clients, the reserve kept for clients); a refused connection is closed
before any protocol byte. Then the peer is classified, implicit TLS is performed when
the socket asks for it, and the plugin's handler runs with a :class:`Connection`.

Shutdown: accepting stops at once; a session idling in ``receive()`` is woken with end
of stream; busy sessions get the grace period, then are cancelled.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import socket
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import SocketAttribute, SocketListener, TaskGroup
from anyio.streams.tls import TLSStream

from unigate.addresslist import AddressList
from unigate.logs import Logger
from unigate.settings import ListenerSettings, parse_bind
from unigate.streams import KernelStream, open_accepted
from unigate_hookspecs.listeners import ListenerSpec, PeerInfo, TLSMode, Transport

if TYPE_CHECKING:
    from unigate.server import Server

TLS_HANDSHAKE_TIMEOUT = 30.0


class Connection:
    """The kernel's implementation of :class:`unigate_hookspecs.listeners.Connection`."""

    def __init__(
        self,
        server: Server,
        stream: Any,
        peer: PeerInfo,
        session_id: int,
        log: Logger,
        *,
        tls_mode: TLSMode,
        tls_active: bool,
    ) -> None:
        self.server = server
        self.peer = peer
        self.session_id = session_id
        self.log = log
        self._stream = stream
        self._tls_mode = tls_mode
        self._tls_active = tls_active
        self._idle_scope: anyio.CancelScope | None = None
        self._closing = False
        self._closed = False

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def secure(self) -> bool:
        return self._tls_active or self._tls_mode is TLSMode.EXTERNAL

    @property
    def tls_mode(self) -> TLSMode:
        return self._tls_mode

    @property
    def closing(self) -> bool:
        return self._closing

    async def receive(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """Bytes from the peer; b"" at end of stream, on a broken connection, or at shutdown.

        ``timeout``: ``TimeoutError`` when no byte came for that many seconds. On the
        plain kernel stream this costs one timer; under TLS, one cancel scope.
        """
        if self._closing or self._closed:
            return b""
        stream = self._stream
        try:
            if isinstance(stream, KernelStream):
                return await stream.receive(max_bytes, timeout)
            deadline = math.inf if timeout is None else anyio.current_time() + timeout
            with anyio.CancelScope(deadline=deadline) as scope:
                self._idle_scope = scope
                try:
                    return await stream.receive(max_bytes)
                finally:
                    self._idle_scope = None
            if self._closing:
                return b""  # woken by shutdown while idle
            raise TimeoutError
        except TimeoutError:
            raise
        except (
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            ssl.SSLError,
            OSError,
        ):
            self._closed = True
            return b""

    async def send(self, data: bytes) -> None:
        """Send bytes; a broken connection makes the next receive() return b""."""
        if self._closed:
            return
        try:
            await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError, OSError):
            self._closed = True

    async def start_tls(self) -> None:
        """Upgrade the stream to TLS (STARTTLS). Raises ssl.SSLError if the handshake fails."""
        if self._tls_active:
            raise RuntimeError("TLS is already active")
        context = self.server.tls_context
        if context is None:
            raise RuntimeError("no TLS certificate configured")
        with anyio.fail_after(TLS_HANDSHAKE_TIMEOUT):
            self._stream = await TLSStream.wrap(
                self._stream, server_side=True, ssl_context=context, standard_compatible=False
            )
        self._tls_active = True

    async def aclose(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(OSError, anyio.BrokenResourceError, ssl.SSLError):
                await self._stream.aclose()

    def begin_shutdown(self) -> None:
        """Mark closing; wake a session that idles in receive()."""
        self._closing = True
        if isinstance(self._stream, KernelStream):
            self._stream.interrupt()
        if self._idle_scope is not None:
            self._idle_scope.cancel()


@dataclass
class BoundListener:
    """A declared listener with its settings, sockets and live connection counts."""

    spec: ListenerSpec
    settings: ListenerSettings
    tls_mode: TLSMode
    endpoints: list[tuple[str, int]]
    sockets: list[Any] = field(default_factory=list)
    addresses: list[tuple[str, int]] = field(default_factory=list)
    active: int = 0
    non_clients: int = 0
    per_address: Counter[str] = field(default_factory=Counter)
    connections: set[Connection] = field(default_factory=set)
    grant: AddressList = field(default_factory=AddressList)
    deny: AddressList = field(default_factory=AddressList)


def effective_endpoints(
    spec: ListenerSpec,
    settings: ListenerSettings,
    *,
    default_addresses: list[str],
    use_system_ports: bool,
) -> list[tuple[str, int]]:
    """Where a listener binds: its ``bind`` list, else the default addresses and port.

    A default port below 1024 becomes 8000+N unless system ports are allowed (the
    manual's rule for servers running without root); explicit binds are taken literally.
    """
    if settings.bind is not None:
        return [parse_bind(item) for item in settings.bind]
    port = spec.default_port
    if port < 1024 and not use_system_ports:
        port += 8000
    return [(address, port) for address in default_addresses]


async def bind(listener: BoundListener) -> None:
    """Open every socket of a listener (raises OSError naming the address on failure)."""
    for host, port in listener.endpoints:
        try:
            if listener.spec.transport is Transport.UDP:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = await anyio.create_udp_socket(
                    family=family, local_host=host, local_port=port
                )
                listener.sockets.append(sock)
                address = sock.extra(SocketAttribute.local_address)
            else:
                sock = await anyio.create_tcp_listener(
                    local_host=host, local_port=port, reuse_port=False
                )
                listener.sockets.append(sock)
                first = sock.listeners[0] if hasattr(sock, "listeners") else sock
                address = first.extra(SocketAttribute.local_address)
        except OSError as exc:
            raise OSError(
                exc.errno, f"listener {listener.spec.name} on [{host}]:{port}: {exc.strerror}"
            ) from exc
        listener.addresses.append((str(address[0]), int(address[1])))


_session_numbers = itertools.count(1)


async def serve(server: Server, listener: BoundListener, tg: TaskGroup) -> None:
    """Accept connections on every socket of ``listener`` until cancelled."""
    async with anyio.create_task_group() as accept_group:
        for sock in listener.sockets:
            if listener.spec.transport is Transport.UDP:
                accept_group.start_soon(_datagrams, server, listener, sock)
                continue
            for single in getattr(sock, "listeners", [sock]):
                accept_group.start_soon(_accept_loop, server, listener, single, tg)


async def _datagrams(server: Server, listener: BoundListener, sock: Any) -> None:
    """Run a UDP listener's handler on its socket; closing the socket at shutdown ends it."""
    try:
        await listener.spec.handler(sock)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the server
        server.logs.logger(listener.spec.name).crash(
            f"datagram handler failed: {type(exc).__name__}: {exc}"
        )


async def _accept_loop(
    server: Server, listener: BoundListener, sock: SocketListener, tg: TaskGroup
) -> None:
    """Accept on the listening socket itself; each connection becomes a `KernelStream`."""
    log = server.logs.logger("TCP")
    raw = sock.extra(SocketAttribute.raw_socket)
    while True:
        try:
            client, _ = raw.accept()
        except BlockingIOError:
            try:
                await anyio.wait_readable(raw)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                return
            continue
        except OSError as exc:  # EMFILE and friends: keep serving the others
            if raw.fileno() < 0:
                return
            log.failure(f"{listener.spec.name}: accept failed: {exc}")
            await anyio.sleep(0.1)
            continue
        tg.start_soon(_session, server, listener, client)


async def close_listening(sock: Any) -> None:
    """Close a listening socket, waking its accept loop first."""
    raw = sock.extra(SocketAttribute.raw_socket, None)
    if raw is not None and raw.fileno() >= 0:
        anyio.notify_closing(raw)
    await sock.aclose()


async def _session(server: Server, listener: BoundListener, conn_sock: socket.socket) -> None:
    try:
        remote = conn_sock.getpeername()
        local = conn_sock.getsockname()
    except OSError:  # gone before we looked at it
        conn_sock.close()
        return
    ip, port = str(remote[0]), int(remote[1])
    classifier = server.classifier
    name = listener.spec.name
    tcplog = server.logs.logger("TCP")
    if (
        classifier.is_denied(ip)
        or (listener.grant and ip not in listener.grant)
        or ip in listener.deny
    ):
        tcplog.low(f"{name}: connection from [{ip}] refused by address lists")
        conn_sock.close()
        return
    address_class = await classifier.classify(ip)
    limits = listener.settings
    client = address_class.trusted
    refusal = None
    if listener.active >= limits.max_connections:
        refusal = "listener connection limit"
    elif not client and limits.max_connections - listener.active <= limits.reserve_for_clients:
        refusal = "connections reserved for clients"
    elif listener.per_address[ip] >= limits.max_per_address:
        refusal = "too many connections from this address"
    elif (
        not client
        and limits.max_non_clients is not None
        and listener.non_clients >= limits.max_non_clients
    ):
        refusal = "non-client connection limit"
    if refusal:
        tcplog.problem(f"{name}: connection from [{ip}] refused: {refusal}")
        conn_sock.close()
        return
    number = next(_session_numbers)
    log = server.logs.logger(name, number, f"[{ip}]")
    if address_class.debug:
        log.force = True
    peer = PeerInfo(
        ip=ip,
        port=port,
        local_ip=str(local[0]),
        local_port=int(local[1]),
        listener=name,
        address_class=address_class,
    )
    listener.active += 1
    listener.per_address[ip] += 1
    if not client:
        listener.non_clients += 1
    connection: Connection | None = None
    stream: Any = None
    try:
        try:
            stream = await open_accepted(conn_sock)
        except OSError:
            conn_sock.close()
            return
        tls_active = False
        if listener.tls_mode is TLSMode.IMPLICIT:
            if server.tls_context is None:
                log.failure("no certificate: implicit TLS connection dropped")
                return
            try:
                with anyio.fail_after(TLS_HANDSHAKE_TIMEOUT):
                    stream = await TLSStream.wrap(
                        stream,
                        server_side=True,
                        ssl_context=server.tls_context,
                        standard_compatible=False,
                    )
            except (
                TimeoutError,
                ssl.SSLError,
                anyio.BrokenResourceError,
                anyio.EndOfStream,
                OSError,
            ) as exc:
                log.problem(f"TLS handshake failed: {exc}")
                return
            tls_active = True
        connection = Connection(
            server, stream, peer, number, log, tls_mode=listener.tls_mode, tls_active=tls_active
        )
        listener.connections.add(connection)
        log.low(
            f"got connection on [{peer.local_ip}:{peer.local_port}] from [{ip}:{port}]"
            f" ({address_class.label})"
        )
        verdict = await server.judge("unigate_connection_opened", connection=connection)
        if verdict.final and verdict.decision.value != "accept":
            log.problem(f"connection refused by plugin {verdict.plugin}: {verdict.text}")
            return
        if server.closing:
            return
        try:
            await listener.spec.handler(connection)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:  # noqa: BLE001 - one session's bug never kills the server
            log.crash(f"session failed: {type(exc).__name__}: {exc}")
            if os.environ.get("UNIGATE_RAISE_SESSION_ERRORS"):
                raise
    finally:
        listener.active -= 1
        listener.per_address[ip] -= 1
        if listener.per_address[ip] <= 0:
            del listener.per_address[ip]
        if not client:
            listener.non_clients -= 1
        if connection is not None:
            listener.connections.discard(connection)
            await connection.aclose()
        elif stream is not None:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(OSError, anyio.BrokenResourceError, ssl.SSLError):
                    await stream.aclose()
        log.low("closed")
