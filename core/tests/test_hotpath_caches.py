"""The mail hot path's caches: what they save, and that they never serve stale data
longer than documented.

* the Queue keeps a just-submitted message's bytes for its delivery (no spool re-read);
* a settings file is trusted for a second after its ``stat`` (in-process writes show at
  once, through the settings generation);
* the mailbox manager's quota limits follow the same rule;
* a shared mailbox keeps its byte usage up to date without summing every record;
* a session's view (records in sequence order) follows its own and others' changes,
  and records with equal flags share one flag-set object.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from unigate import dataformat
from unigate.blocking import run_blocking
from unigate.mailboxes import MailboxManager, QuotaExceeded
from unigate.objects.files import FileCache, generation
from unigate.queue import FakeClock, Queue, QueueSettings
from unigate.queue.disk import SpoolDirectory
from unigate.testing.accounts import StaticAccounts
from unigate.testing.memory_driver import ReferenceDriver
from unigate_hookspecs.delivery import (
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Envelope,
    Recipient,
    RecipientResult,
)

pytestmark = pytest.mark.anyio

MESSAGE = b"From: a@here.example\r\nSubject: hi\r\n\r\nbody\r\n"
BOB = "bob@x.dom"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ------------------------------------------------------------------ run_blocking


async def test_run_blocking_returns_and_raises() -> None:
    assert await run_blocking(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        await run_blocking(lambda: 1 / 0)


# ------------------------------------------------------------------ queue bytes cache


class Recorder(DeliveryModule):
    name = "LOCAL"
    concurrency = 4

    def __init__(self) -> None:
        self.data: list[bytes] = []

    async def deliver(self, batch: DeliveryBatch) -> list[RecipientResult]:
        self.data.append(await batch.read())
        return [batch.result(i, DeliveryOutcome.DELIVERED) for i in range(len(batch.indexes))]


def _router(address: str) -> object:
    class Route:
        module = "LOCAL"
        queue = address.partition("@")[0]

    Route.address = address  # type: ignore[attr-defined]
    return Route()


async def test_delivery_uses_the_submitted_bytes_without_reading_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    original = SpoolDirectory.read_range

    def counting(path: Path, offset: int, size: int) -> bytes:
        reads.append(path)
        return original(path, offset, size)

    monkeypatch.setattr(SpoolDirectory, "read_range", staticmethod(counting))
    module = Recorder()
    queue = Queue(
        tmp_path / "Queue",
        router=_router,  # type: ignore[arg-type]
        modules={"LOCAL": module},
        settings=QueueSettings(),
        clock=FakeClock(),
    )
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        for n in range(3):
            await queue.submit(
                Envelope(return_path="", recipients=(Recipient(f"u{n}@local.example"),)),
                MESSAGE + str(n).encode(),
            )
        await queue.settle()
        assert sorted(module.data) == [MESSAGE + str(n).encode() for n in range(3)]
        assert reads == []
        assert queue._recent == {} and queue._recent_bytes == 0  # forgotten once done
        await queue.stop()


async def test_the_bytes_cache_is_bounded(tmp_path: Path) -> None:
    module = Recorder()
    queue = Queue(
        tmp_path / "Queue",
        router=_router,  # type: ignore[arg-type]
        modules={"LOCAL": module},
        settings=QueueSettings(memory_cache_bytes=len(MESSAGE) + 10),
        clock=FakeClock(),
    )
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        async with anyio.create_task_group() as senders:
            for n in range(4):
                senders.start_soon(
                    queue.submit,
                    Envelope(return_path="", recipients=(Recipient(f"u{n}@local.example"),)),
                    MESSAGE,
                )
        assert queue._recent_bytes <= len(MESSAGE) + 10
        await queue.settle()
        assert module.data == [MESSAGE] * 4  # the ones not cached were read back
        await queue.stop()


# ------------------------------------------------------------------ settings files


def test_file_cache_trusts_a_stat_for_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "account.settings"
    dataformat.write_file(path, {"Key": "one"})
    cache = FileCache(revalidate_after=0.05)
    assert cache.read(path) == {"Key": "one"}
    # another process changes the file: not seen within the interval ...
    dataformat.write_file(path, {"Key": "two", "More": "x"})
    assert cache.read(path) == {"Key": "one"}
    # ... but after it, and at once when asked for a fresh copy
    assert cache.read(path, fresh=True) == {"Key": "two", "More": "x"}
    dataformat.write_file(path, {"Key": "three"})
    time.sleep(0.06)
    assert cache.read(path) == {"Key": "three"}


def test_file_cache_sees_writes_of_this_process_at_once(tmp_path: Path) -> None:
    path = tmp_path / "account.settings"
    reader, writer = FileCache(revalidate_after=60), FileCache(revalidate_after=60)
    assert reader.read(path) == {}  # missing files are cached too
    before = generation()
    writer.write(path, {"Key": "new"})
    assert generation() != before
    assert reader.read(path) == {"Key": "new"}
    writer.update(path, {"Key": None, "Other": "1"})
    assert reader.read(path) == {"Other": "1"}


# ------------------------------------------------------------------ mailbox manager


@pytest.fixture
def accounts(tmp_path: Path) -> StaticAccounts:
    acc = StaticAccounts(tmp_path / "Accounts")
    acc.add(BOB)
    return acc


async def test_quota_limits_follow_settings_writes_at_once(
    accounts: StaticAccounts, tmp_path: Path
) -> None:
    mgr = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    await mgr.deliver(BOB, "INBOX", b"x" * 600)
    accounts.settings[BOB] = {"MaxAccountSize": 1000}
    # a settings write in this process (any FileCache) invalidates the cached limits
    FileCache().write(tmp_path / "unrelated.settings", {})
    with pytest.raises(QuotaExceeded):
        await mgr.deliver(BOB, "INBOX", b"y" * 500)
    accounts.settings[BOB] = {}
    FileCache().write(tmp_path / "unrelated.settings", {})
    await mgr.deliver(BOB, "INBOX", b"y" * 500)


async def test_usage_is_kept_up_to_date(accounts: StaticAccounts) -> None:
    mgr = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    for size in (100, 250, 50):
        await mgr.deliver(BOB, "INBOX", b"z" * size)
    assert (await mgr.quota(BOB)).used == 400
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        first = box.messages()[0]
        await box.store([first.uid], ["\\Deleted"])
        await box.expunge()
    assert (await mgr.quota(BOB)).used == 300
    fresh = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    assert (await fresh.quota(BOB)).used == 300


async def test_session_view_follows_changes(accounts: StaticAccounts) -> None:
    """`messages()` is kept beside the UID list: it must always equal a fresh walk."""
    mgr = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    for n in range(6):
        await mgr.deliver(BOB, "INBOX", b"m%d" % n)

    def walk(box: object) -> list[object]:
        return [box.record(box.uid_of(seq)) for seq in range(1, len(box) + 1)]  # type: ignore[attr-defined]

    async with (
        await mgr.open(BOB, "INBOX", user=BOB) as mine,
        await mgr.open(BOB, "INBOX", user=BOB) as other,
    ):
        uids = [r.uid for r in mine.messages()]
        await mine.store(uids[1:3], ["\\Flagged"])
        await mine.store(uids[:1], ["\\Deleted"])
        assert mine.messages() == walk(mine)
        assert "\\Flagged" in mine.messages()[1].flags
        await other.store(uids[4:], ["\\Seen"])
        await other.expunge()  # uids[0] goes
        await mgr.deliver(BOB, "INBOX", b"late")
        mine.refresh()
        assert mine.messages() == walk(mine)
        assert [r.uid for r in mine.messages()] == [*uids[1:], uids[-1] + 1]
        assert "\\Seen" in mine.messages()[-2].flags
        copy = mine.messages()
        copy.clear()  # a copy: the view is not the caller's to change
        assert len(mine.messages()) == len(mine)


async def test_equal_flag_sets_are_one_object(accounts: StaticAccounts) -> None:
    mgr = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    for n in range(4):
        await mgr.deliver(BOB, "INBOX", b"m%d" % n, flags=["\\Seen"])
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        records = box.messages()
        assert len({id(r.flags) for r in records}) == 1
        await box.store([r.uid for r in records[:2]], ["\\Flagged"])
        await box.store([records[2].uid], ["\\Flagged"])
        changed = box.messages()[:3]
        assert len({id(r.flags) for r in changed}) == 1


async def test_an_append_only_session_builds_no_view(accounts: StaticAccounts) -> None:
    """``open(view=False)`` costs nothing per message; a view used anyway starts then."""
    mgr = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    for n in range(3):
        await mgr.deliver(BOB, "INBOX", b"m%d" % n)
    async with await mgr.open(BOB, "INBOX", user=BOB, view=False) as box:
        rec = await box.append(b"appended")
        assert "_view" not in vars(box) and "_records" not in vars(box)
        assert [r.uid for r in box.messages()][-1] == rec.uid
        assert len(box) == 4 and box.record(rec.uid) == rec
