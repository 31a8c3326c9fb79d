"""The kernel's TCP byte stream: an asyncio protocol that keeps reading, cheap per call.

Why not anyio's own ``SocketStream``: it pauses the transport after every receive and
resumes it before the next (two ``epoll_ctl`` calls per read), sets the write buffer
limit to zero so that every ``send`` waits until the kernel took the bytes, and yields
to the event loop on every send. A mail session reads and writes a few times per
message, so those costs were a large share of the server's CPU per message.

`KernelStream` instead:

* reads continuously into a queue of chunks, and pauses the transport only when more
  than `READ_HIGH` bytes wait unread (so a client that floods is still bounded);
* returns a waiting chunk without touching the event loop; waits on one future when
  nothing is there;
* writes into the transport's buffer and waits only when that buffer is above its
  high-water mark (asyncio's flow control: ``pause_writing``/``resume_writing``);
* closes gracefully (buffered output is flushed, then the socket closed).

It is an ``anyio.abc.SocketStream``: the socket attributes (addresses, raw socket)
come from the base class, and ``anyio.streams.tls.TLSStream.wrap`` layers TLS on it
for implicit TLS and STARTTLS.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque

import anyio
import anyio.abc
import anyio.lowlevel

__all__ = ["READ_HIGH", "KernelStream", "open_accepted"]

#: unread bytes buffered before the transport stops reading from the socket
READ_HIGH = 1024 * 1024
#: the transport's write buffer high-water mark (asyncio's default is 64 KiB)
WRITE_HIGH = 256 * 1024
#: seconds a closed stream may spend flushing its output to a peer that does not read
CLOSE_FLUSH_TIMEOUT = 30.0


class _Protocol(asyncio.Protocol):
    """Collects received chunks; wakes the one reader and the one writer that wait."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.reading_paused = False
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self.read_waiter: asyncio.Future[None] | None = None
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but behave as one
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=WRITE_HIGH)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
        self.buffered += len(data)
        if self.buffered > READ_HIGH and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return True  # keep the transport open for writing; aclose() closes it

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.lost = True
        self.error = exc
        self._wake_reader()
        self.write_paused = False
        self._wake_writer()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writer()

    def _wake_reader(self) -> None:
        waiter = self.read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class KernelStream(anyio.abc.SocketStream):
    """A connected TCP socket as an anyio byte stream (see the module docstring)."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False

    @property
    def _raw_socket(self) -> socket.socket:
        return self._transport.get_extra_info("socket")  # type: ignore[no-any-return]

    def interrupt(self) -> None:
        """End a receive that waits, and every later one, with end of stream (shutdown)."""
        self._protocol.eof = True
        self._protocol._wake_reader()

    async def receive(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """The next bytes; ``timeout`` bounds the wait for them (``TimeoutError``)."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        p = self._protocol
        if not p.chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if not p.eof:
                loop = asyncio.get_running_loop()
                waiter = loop.create_future()
                p.read_waiter = waiter
                timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
                try:
                    await waiter
                finally:
                    p.read_waiter = None
                    if timer is not None:
                        timer.cancel()
            if not p.chunks:
                if self._closed:
                    raise anyio.ClosedResourceError
                if p.error is not None:
                    raise anyio.BrokenResourceError from p.error
                raise anyio.EndOfStream
        chunk = p.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            p.chunks.appendleft(rest)
        elif p.chunks and len(chunk) < max_bytes:
            parts = [chunk]
            size = len(chunk)
            while p.chunks and size + len(p.chunks[0]) <= max_bytes:
                nxt = p.chunks.popleft()
                parts.append(nxt)
                size += len(nxt)
            chunk = b"".join(parts)
        p.buffered -= len(chunk)
        if p.reading_paused and p.buffered <= READ_HIGH // 2 and not p.lost:
            p.reading_paused = False
            self._transport.resume_reading()
        return chunk

    async def send(self, item: bytes) -> None:
        p = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if p.lost or self._transport.is_closing():
            raise anyio.BrokenResourceError from p.error
        self._transport.write(item)
        if p.write_paused:
            waiter = asyncio.get_running_loop().create_future()
            p.drain_waiter = waiter
            try:
                await waiter
            finally:
                p.drain_waiter = None
            if p.lost and p.error is not None:
                raise anyio.BrokenResourceError from p.error

    async def send_eof(self) -> None:
        if not self._transport.is_closing():
            self._transport.write_eof()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._protocol._wake_reader()
        transport = self._transport
        if not transport.is_closing():
            transport.close()  # flushes what is buffered, then closes
            if transport.get_write_buffer_size():  # a peer that never reads: give up later
                asyncio.get_running_loop().call_later(CLOSE_FLUSH_TIMEOUT, transport.abort)
        await anyio.lowlevel.checkpoint()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def open_accepted(sock: socket.socket) -> KernelStream:
    """Wrap a socket that ``accept()`` returned (non-blocking) into a `KernelStream`."""
    sock.setblocking(False)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_accepted_socket(_Protocol, sock)
    return KernelStream(transport, protocol)  # type: ignore[arg-type]
