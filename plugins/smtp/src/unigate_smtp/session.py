"""The anyio loop of one SMTP/submission/SMTPS/LMTP session around `ServerConnection`.

The sans-I/O core parses; `SmtpSession` decides; this loop only moves bytes: it reads
when the core needs data (with the RFC 5321 §4.5.3.2 timeouts), writes the replies
collected so far before every read (so pipelined replies go out in one segment), runs
the STARTTLS handshake when the core pauses for it, and says 421 on shutdown or timeout.
"""

from __future__ import annotations

import ssl
from functools import partial
from typing import Any

import anyio

from unigate_smtp.policy import SmtpState
from unigate_smtp.protocol import (
    NEED_DATA,
    PAUSED,
    Chunk,
    ConnectionClosed,
    Limits,
    MessageData,
    ProtocolError,
    Reply,
    ServerConnection,
    ServerState,
)
from unigate_smtp.transaction import SmtpSession

READ_SIZE = 256 * 1024


def handler_for(mode: str) -> Any:
    """The listener handler for ``smtp``, ``submission``, ``smtps`` or ``lmtp``."""
    return partial(handle, mode=mode)


async def handle(connection: Any, *, mode: str) -> None:
    """Serve one connection until QUIT, EOF, a fatal error, a timeout or shutdown."""
    state: SmtpState = connection.server.state["smtp"]
    ip = connection.peer.ip
    state.connections[ip] += 1
    try:
        await _serve(connection, state, mode)
    finally:
        state.connections[ip] -= 1
        if state.connections[ip] <= 0:
            del state.connections[ip]


async def _serve(connection: Any, state: SmtpState, mode: str) -> None:
    settings = state.settings
    session = SmtpSession(connection, state, mode)
    conn = ServerConnection(
        hostname=state.hostname,
        lmtp=session.lmtp,
        limits=Limits(
            max_message_size=settings.max_message_size,
            max_recipients=settings.max_recipients,
            max_bad_commands=settings.max_bad_commands,
        ),
        extensions=session.extensions(),
        tls_active=connection.tls_active,
    )
    log = connection.log
    out = bytearray()

    async def flush() -> None:
        if out:
            log.data("out", bytes(out))
            await connection.send(bytes(out))
            out.clear()

    limit = settings.max_connections_per_address
    if limit and state.connections[connection.peer.ip] > limit:
        out += conn.send(Reply(421, "4.7.0", f"{state.hostname} too many connections"))
        await flush()
        return
    kind = "LMTP" if session.lmtp else "ESMTP"
    out += conn.send(Reply(220, None, f"{state.hostname} {kind} Unigate ready"))
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            await flush()
            timeout = (
                settings.data_timeout
                if conn.state in (ServerState.DATA, ServerState.CHUNKING)
                else settings.command_timeout
            )
            try:
                data = await connection.receive(READ_SIZE, timeout)
            except TimeoutError:
                out += conn.send(Reply(421, "4.4.2", f"{state.hostname} timeout, closing"))
                break
            if not data and connection.closing:
                out += conn.send(Reply(421, "4.3.2", f"{state.hostname} shutting down"))
                break
            if data:
                log.data("inp", data)
            conn.receive_data(data)
        elif event is PAUSED:  # the 220 to STARTTLS is out: handshake
            await flush()
            if conn.state is not ServerState.TLS:
                log.problem("SMTP session paused outside STARTTLS")
                return
            try:
                await connection.start_tls()
            except (ssl.SSLError, OSError, TimeoutError, anyio.BrokenResourceError) as error:
                log.low(f"TLS handshake failed: {error}")
                return
            conn.start_tls_done()
            session.account = None
            conn.extensions = session.extensions()
        elif isinstance(event, ConnectionClosed):
            break
        elif isinstance(event, ProtocolError):
            out += conn.send(event.reply)
        else:
            try:
                replies = await session.decide(conn, event)
            except Exception as error:  # a bug or a failing service: 451, the session goes on
                log.problem(f"{type(event).__name__} failed: {error!r}")
                end = isinstance(event, MessageData) or (isinstance(event, Chunk) and event.last)
                count = conn.recipients if conn.lmtp and end else 1
                replies = [Reply(451, "4.3.0", "Local error in processing")] * max(1, count)
            for reply in replies:
                out += conn.send(reply)
        if conn.state is ServerState.CLOSED:
            break
    await flush()
