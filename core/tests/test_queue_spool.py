"""The Queue on disk: the spool format, group commit, durability and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate.queue import CorruptFile, FakeClock, Queue, QueueFull, QueueSettings, spoolfile
from unigate.queue.commit import GroupCommit
from unigate.queue.enqueuer import count_hops
from unigate_hookspecs.delivery import (
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Destination,
    Envelope,
    Recipient,
    RecipientResult,
)

pytestmark = pytest.mark.anyio

MESSAGE = b"From: a@here.example\r\nSubject: x\r\n\r\n" + b"0123456789" * 1000 + b"\r\n"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def routed(address: str, module: str = "SMTP") -> Recipient:
    return Recipient(address, route=Destination(module, address.rpartition("@")[2], address))


def envelope(*addresses: str, **more: object) -> Envelope:
    return Envelope(
        return_path="a@here.example",
        recipients=tuple(routed(a) for a in addresses),
        **more,  # type: ignore[arg-type]
    )


class Recorder(DeliveryModule):
    name = "SMTP"
    concurrency = 4

    def __init__(self) -> None:
        self.delivered: list[tuple[str, bytes]] = []

    async def deliver(self, batch: DeliveryBatch) -> list[RecipientResult]:
        self.delivered.append((batch.queue_id, await batch.read()))
        return [batch.result(i, DeliveryOutcome.DELIVERED) for i in range(len(batch.indexes))]


class CountingFsync:
    """An fsync that counts and remembers which files it made durable."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, fd: int) -> None:
        self.paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        os.fsync(fd)

    @property
    def count(self) -> int:
        return len(self.paths)


# -------------------------------------------------------------------- the file format


def test_spool_round_trip_and_status_records() -> None:
    first = envelope("b@there.example", envid="E1", ret="HDRS")
    second = Envelope(
        "",
        (
            Recipient(
                "c@x.example",
                orcpt="rfc822;C@x.example",
                notify=frozenset({"SUCCESS", "DELAY"}),
                route=Destination("LOCAL", "c", "c"),
            ),
        ),
        body="8BITMIME",
        smtputf8=True,
        auth_account="a",
        source="DSN",
        client_address="192.0.2.1",
        received_at=12.5,
    )
    content, offsets = spoolfile.build_spool([(0, first, b"one"), (1, second, b"two!")])
    content += spoolfile.encode_json(spoolfile.FINAL, {"n": 1, "i": 0, "o": "delivered"})
    parsed = spoolfile.parse_spool(content)
    assert [
        (m.number, m.envelope, content[m.offset : m.offset + m.size]) for m in parsed.messages
    ] == [
        (0, first, b"one"),
        (1, second, b"two!"),
    ]
    assert [m.offset for m in parsed.messages] == offsets
    assert parsed.statuses == [(b"S", {"n": 1, "i": 0, "o": "delivered"})]
    assert parsed.valid_length == len(content) and not parsed.torn_tail


def test_a_torn_tail_is_cut_but_a_torn_body_is_corrupt() -> None:
    content, _ = spoolfile.build_spool([(0, envelope("b@there.example"), b"data")])
    status = spoolfile.encode_json(
        spoolfile.TEMPORARY, {"n": 0, "i": 0, "o": "temporary", "at": 1, "next": 5}
    )
    parsed = spoolfile.parse_spool(content + status[:-3])
    assert parsed.torn_tail and parsed.valid_length == len(content) and parsed.statuses == []
    for cut in (len(content) - 1, len(content) // 2, 10):
        with pytest.raises(CorruptFile):
            spoolfile.parse_spool(content[:cut])
    damaged = bytearray(content)
    damaged[len(spoolfile.MAGIC) + 20] ^= 0xFF
    with pytest.raises(CorruptFile):
        spoolfile.parse_spool(bytes(damaged))
    with pytest.raises(CorruptFile):
        spoolfile.parse_spool(b"From: x\r\n\r\nhello")


# -------------------------------------------------------------------- group commit


async def test_concurrent_submits_share_fsyncs(tmp_path: Path) -> None:
    fsync = CountingFsync()
    (tmp_path / "Queue").mkdir()
    queue = Queue(tmp_path / "Queue", fsync=fsync, clock=FakeClock())
    ids: list[str] = []

    async def one(n: int) -> None:
        ids.append(await queue.submit(envelope(f"u{n}@there.example"), MESSAGE + str(n).encode()))

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(one, n)
    assert len(set(ids)) == 20
    assert fsync.count < 20, fsync.paths
    files = sorted((tmp_path / "Queue").glob("*.msg"))
    assert len(files) < 20
    assert not list((tmp_path / "Queue").glob("*.tmp"))
    # every fsynced file was the .tmp before its rename, and the directory followed
    assert all(p.endswith(".tmp") or p == str(tmp_path / "Queue") for p in fsync.paths)
    assert fsync.paths.count(str(tmp_path / "Queue")) == len(files)


async def test_group_commit_bounds_a_batch_and_reports_errors() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        await anyio.sleep(0.01)
        if 13 in items:
            raise OSError("disk full")
        return [item * 2 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(flush, max_items=4)
    results: dict[int, object] = {}

    async def one(n: int) -> None:
        try:
            results[n] = await commit.submit(n)
        except OSError as error:
            results[n] = error

    async with anyio.create_task_group() as tg:
        for n in range(14):
            tg.start_soon(one, n)
    assert batches[0] == [0, 1, 2, 3] and all(len(b) <= 4 for b in batches)
    assert sorted(x for b in batches for x in b) == list(range(14))
    failed = next(b for b in batches if 13 in b)
    for n in range(14):
        if n in failed:
            assert isinstance(results[n], OSError)
        else:
            assert results[n] == n * 2


# -------------------------------------------------------------------- durability


async def test_submit_returns_only_when_the_file_is_complete_on_disk(tmp_path: Path) -> None:
    fsync = CountingFsync()
    (tmp_path / "Queue").mkdir()
    queue = Queue(tmp_path / "Queue", fsync=fsync, clock=FakeClock())
    queue_id = await queue.submit(envelope("b@there.example"), MESSAGE)
    name = queue_id.rsplit("-", 1)[0]
    path = tmp_path / "Queue" / f"{name}.msg"
    assert fsync.paths == [str(tmp_path / "Queue" / f"{name}.tmp"), str(tmp_path / "Queue")]
    parsed = spoolfile.parse_spool(path.read_bytes())
    [message] = parsed.messages
    assert path.read_bytes()[message.offset : message.offset + message.size] == MESSAGE
    assert message.envelope.recipients[0].route == Destination(
        "SMTP", "there.example", "b@there.example"
    )


async def test_start_removes_tmp_quarantines_damage_and_resumes(tmp_path: Path) -> None:
    directory = tmp_path / "Queue"
    queue = Queue(directory, clock=FakeClock())
    good = await queue.submit(envelope("b@there.example"), b"good\r\n")
    (directory / "999.tmp").write_bytes(b"half a message")  # never acknowledged
    content, _ = spoolfile.build_spool([(0, envelope("c@there.example"), b"never ended")])
    (directory / "998.msg").write_bytes(content[:-5])
    module = Recorder()
    queue = Queue(directory, modules={"SMTP": module}, clock=FakeClock())
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.settle()
        await queue.stop()
    assert module.delivered == [(good, b"good\r\n")]
    assert not (directory / "999.tmp").exists()
    assert (tmp_path / "BadFiles" / "998.msg").read_bytes() == content[:-5]
    assert sorted(p.name for p in directory.iterdir()) == [".lock"]


async def test_torn_status_record_is_cut_and_appends_continue(tmp_path: Path) -> None:
    directory = tmp_path / "Queue"
    clock = FakeClock()
    queue = Queue(directory, clock=clock)
    queue_id = await queue.submit(envelope("b@there.example", "c@there.example"), b"m\r\n")
    path = next(directory.glob("*.msg"))
    final = spoolfile.encode_json(
        spoolfile.FINAL, {"n": 0, "i": 0, "o": "delivered", "st": "2.0.0"}
    )
    with open(path, "ab") as file:
        file.write(final + final[:7])  # c's record was torn by the crash
    module = Recorder()
    queue = Queue(directory, modules={"SMTP": module}, clock=clock)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.settle()
        await queue.stop()
    assert [(qid, [len(d)]) for qid, d in module.delivered] == [(queue_id, [3])]
    assert not path.exists()  # both final now: the file is gone


async def test_queue_size_limit(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "Queue", settings=QueueSettings(size_limit=2), clock=FakeClock())
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("b@there.example"), b"1")
        await queue.submit(envelope("b@there.example"), b"2")
        with pytest.raises(QueueFull):
            await queue.submit(envelope("b@there.example"), b"3")
        await queue.stop()


CHILD = textwrap.dedent(
    """
    import os, sys, time, anyio
    from pathlib import Path
    from unigate_hookspecs.delivery import Destination, Envelope, Recipient
    from unigate.queue import Queue

    def slow_fsync(fd):
        time.sleep(0.01)
        os.fsync(fd)

    async def main():
        queue = Queue(Path(sys.argv[1]), fsync=slow_fsync)
        async def submitter(k):
            n = 0
            while True:
                tag = f"{k}.{n}"
                env = Envelope("a@here.example", (Recipient("b@there.example",
                               route=Destination("SMTP", "there.example", "b@there.example")),))
                queue_id = await queue.submit(env, f"X-Tag: {tag}\\r\\n\\r\\n".encode() + b"x" * 10000)
                print(queue_id, tag, flush=True)
                n += 1
        async with anyio.create_task_group() as tg:
            for k in range(20):
                tg.start_soon(submitter, k)

    anyio.run(main)
    """
)


@pytest.mark.parametrize("acks_before_kill", [1, 25, 60])
async def test_sigkill_mid_submit_loses_no_acknowledged_message(
    tmp_path: Path, acks_before_kill: int
) -> None:
    directory = tmp_path / "Queue"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    acknowledged: dict[str, str] = {}
    try:
        assert child.stdout is not None
        while len(acknowledged) < acks_before_kill:
            line = child.stdout.readline()
            assert line, "the child died"
            queue_id, tag = line.split()
            acknowledged[queue_id] = tag
    finally:
        child.send_signal(signal.SIGKILL)
        rest = child.communicate()[0]
    for line in rest.split("\n")[:-1]:  # acknowledged while we were killing it (whole lines)
        queue_id, tag = line.split()
        acknowledged[queue_id] = tag

    module = Recorder()
    queue = Queue(directory, modules={"SMTP": module}, clock=FakeClock())
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.settle()
        await queue.stop()
    delivered = {qid: data for qid, data in module.delivered}
    for queue_id, tag in acknowledged.items():  # every acknowledged message, complete
        assert delivered[queue_id] == f"X-Tag: {tag}\r\n\r\n".encode() + b"x" * 10000
    for data in delivered.values():  # and nothing torn (a written but unanswered one may be extra)
        assert data.endswith(b"x" * 10000) and len(data) > 10000
    assert not list(directory.glob("*.tmp")) and not list(directory.glob("*.msg"))
    assert not (tmp_path / "BadFiles").exists()


async def test_a_failed_write_is_never_acknowledged(tmp_path: Path) -> None:
    calls = 0

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(5, "I/O error")
        os.fsync(fd)

    (tmp_path / "Queue").mkdir()
    queue = Queue(tmp_path / "Queue", fsync=failing_fsync, clock=FakeClock())
    with pytest.raises(OSError):
        await queue.submit(envelope("b@there.example"), MESSAGE)
    assert list((tmp_path / "Queue").iterdir()) == []  # the .tmp is discarded
    queue_id = await queue.submit(envelope("b@there.example"), MESSAGE)  # and the queue goes on
    assert (tmp_path / "Queue" / f"{queue_id.rsplit('-', 1)[0]}.msg").exists()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"Received: x",
                b"received:y",
                b"Subject: s",
                b" Received: folded",
                b"",
                b"\r",
                b"X: 1",
            ]
        ),
        max_size=12,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_count_hops_counts_received_fields_of_the_header_only(lines, eol) -> None:
    data = eol.join(lines) + eol + b"body" + eol + b"Received: in the body" + eol
    expected = 0
    for line in data.split(b"\n"):
        if line in (b"", b"\r"):
            break
        if line[:9].lower() == b"received:":
            expected += 1
    assert count_hops(data) == expected
