"""The kernel's TCP stream: reading, flow control both ways, end of stream, closing."""

from __future__ import annotations

import socket
import threading

import anyio
import pytest

from unigate import streams
from unigate.streams import KernelStream, open_accepted

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[False, True], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param:
        pytest.importorskip("uvloop")
    return ("asyncio", {"use_uvloop": request.param})


async def pair() -> tuple[KernelStream, socket.socket]:
    """A `KernelStream` on the server side and a plain blocking client socket."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    client = socket.create_connection(listening.getsockname())
    accepted, _ = listening.accept()
    listening.close()
    return await open_accepted(accepted), client


async def test_receive_send_and_end_of_stream() -> None:
    stream, client = await pair()
    client.sendall(b"one\r\n")
    assert await stream.receive() == b"one\r\n"
    await stream.send(b"two\r\n")
    assert client.recv(100) == b"two\r\n"
    client.sendall(b"abcdef")
    await anyio.sleep(0.05)
    assert await stream.receive(4) == b"abcd"  # a chunk bigger than asked is split
    assert await stream.receive(4) == b"ef"
    client.shutdown(socket.SHUT_WR)
    with pytest.raises(anyio.EndOfStream):
        await stream.receive()
    await stream.send(b"still writable\r\n")  # half-closed: we may still answer
    assert client.recv(100) == b"still writable\r\n"
    await stream.aclose()
    assert client.recv(100) == b""
    with pytest.raises(anyio.ClosedResourceError):
        await stream.receive()
    client.close()


async def test_small_chunks_are_joined_up_to_max_bytes() -> None:
    stream, client = await pair()
    for part in (b"a", b"b", b"c"):
        client.sendall(part)
        await anyio.sleep(0.02)
    assert await stream.receive(2) + await stream.receive(2) == b"abc"
    await stream.aclose()
    client.close()


async def test_a_flooding_peer_is_paused_at_the_read_limit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(streams, "READ_HIGH", 64 * 1024)
    stream, client = await pair()
    client.setblocking(False)
    sent = 0
    chunk = b"x" * 65536
    with anyio.move_on_after(2):
        while True:
            try:
                sent += client.send(chunk)
            except BlockingIOError:
                await anyio.sleep(0.05)  # let the server side read what it will
                try:
                    sent += client.send(chunk)
                except BlockingIOError:
                    break
    protocol = stream._protocol
    assert protocol.reading_paused
    assert protocol.buffered < sent  # the rest waits in the kernel's socket buffers
    got = 0
    while got < sent:
        got += len(await stream.receive(1 << 20))
    assert got == sent and not protocol.reading_paused
    await stream.aclose()
    client.close()


async def test_send_waits_for_a_slow_reader_and_close_flushes() -> None:
    stream, client = await pair()
    payload = b"y" * (8 * 1024 * 1024)
    received = bytearray()

    def reader() -> None:
        while True:
            data = client.recv(1 << 16)
            if not data:
                return
            received.extend(data)

    thread = threading.Thread(target=reader)
    await stream.send(payload[: 1024 * 1024])
    assert stream._protocol.write_paused or stream._transport.get_write_buffer_size() == 0
    thread.start()
    await stream.send(payload[1024 * 1024 :])
    await stream.aclose()  # everything buffered still reaches the peer
    await anyio.to_thread.run_sync(thread.join, 10)
    assert bytes(received) == payload
    client.close()


async def test_a_vanished_peer_breaks_send() -> None:
    stream, client = await pair()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # RST
    with anyio.fail_after(5):
        with pytest.raises((anyio.BrokenResourceError, anyio.EndOfStream)):
            while True:
                await stream.send(b"z" * 65536)
                await anyio.sleep(0.01)
    await stream.aclose()


async def test_receive_timeout_and_interrupt() -> None:
    stream, client = await pair()
    with pytest.raises(TimeoutError):
        await stream.receive(100, 0.05)
    client.sendall(b"late")
    assert await stream.receive(100, 1.0) == b"late"  # a timeout leaves the stream usable

    async def interrupt_soon() -> None:
        await anyio.sleep(0.05)
        stream.interrupt()

    async with anyio.create_task_group() as tg:
        tg.start_soon(interrupt_soon)
        with anyio.fail_after(2), pytest.raises(anyio.EndOfStream):
            await stream.receive(100, 10.0)
    await stream.aclose()
    client.close()
