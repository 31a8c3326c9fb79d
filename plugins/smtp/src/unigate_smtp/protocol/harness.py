"""Drive a `ServerConnection` over scripted input, for tests and examples (no I/O).

`drive()` is the pull loop of a session reduced to its essence: feed the next chunk when
the core needs data, answer every command with the `respond` policy, send core errors as
they are, pretend a STARTTLS handshake succeeded. It returns the events seen and the bytes
the server wrote, so a test can compare both byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    Chunk,
    ConnectionClosed,
    DataStart,
    Event,
    Helo,
    MessageData,
    ProtocolError,
    Quit,
    StartTLS,
)
from .replies import Reply
from .server import ServerConnection
from .state import ServerState

Responder = Callable[[ServerConnection, Event], Reply | Sequence[Reply]]


def accept_all(conn: ServerConnection, event: Event) -> Reply | Sequence[Reply]:
    """A permissive policy: accept everything with typical texts."""
    if isinstance(event, Helo):
        return conn.ehlo_reply()
    if isinstance(event, DataStart):
        return Reply(354, None, "End data with <CR><LF>.<CR><LF>")
    if isinstance(event, StartTLS):
        return Reply(220, "2.0.0", "Ready to start TLS")
    if isinstance(event, Auth | AuthResponse):
        return Reply(235, "2.7.0", "Authentication successful")
    if isinstance(event, Quit):
        return Reply(221, "2.0.0", "Bye")
    if isinstance(event, MessageData) or (isinstance(event, Chunk) and event.last):
        if conn.lmtp:
            return [Reply(250, "2.1.5", "Delivered")] * conn.recipients
        return Reply(250, "2.0.0", "Queued")
    return Reply(250, "2.0.0", "OK")


def drive(
    conn: ServerConnection,
    chunks: Iterable[bytes],
    respond: Responder = accept_all,
    *,
    greeting: Reply | None = None,
    eof: bool = False,
) -> tuple[list[Event], bytes]:
    """Run `conn` over `chunks`; return (events, server output).

    Sends `greeting` (default 220) first if the banner is still due. With `eof`, the input
    ends with EOF after the last chunk.
    """
    out = bytearray()
    events: list[Event] = []
    if conn.state is ServerState.GREETING:
        out += conn.send(greeting or Reply(220, None, f"{conn.hostname} ESMTP"))
    feed = iter([*chunks, b""] if eof else chunks)
    while conn.state is not ServerState.CLOSED:
        event = conn.next_event()
        if event is NEED_DATA:
            chunk = next(feed, None)
            if chunk is None:
                break
            conn.receive_data(chunk)
            continue
        if event is PAUSED:
            if conn.state is ServerState.TLS:
                conn.start_tls_done()
                continue
            raise AssertionError("paused without a pending handshake")
        assert isinstance(event, Event)
        events.append(event)
        if isinstance(event, ConnectionClosed):
            break
        if isinstance(event, ProtocolError):
            out += conn.send(event.reply)
            continue
        replies = respond(conn, event)
        for reply in [replies] if isinstance(replies, Reply) else replies:
            out += conn.send(reply)
    return events, bytes(out)
