"""Mailbox sessions: views, sequence numbers, change events, concurrency, group commit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from unigate.mailboxes import (
    Appended,
    Expunged,
    FlagsChanged,
    MailboxManager,
    NoSuchMailbox,
    NoSuchMessage,
    PermissionDenied,
)
from unigate.testing.accounts import StaticAccounts
from unigate.testing.memory_driver import ReferenceDriver, ReferenceStore
from unigate_hookspecs.storage import MailboxStore, MessageRecord, NewMessage

pytestmark = pytest.mark.anyio

BOB = "bob@x.dom"
ANN = "ann@x.dom"


class CountingStore(ReferenceStore):
    driver: CountingDriver

    def append(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        driver = self.driver
        driver.batches.append(len(messages))
        if driver.fail is not None:
            raise driver.fail
        if driver.gate is not None and driver.entered is not None:  # a slow disk
            driver.entered.set()
            driver.gate.wait(10)
        return super().append(messages)


class CountingDriver(ReferenceDriver):
    def __init__(self) -> None:
        self.batches: list[int] = []
        #: when set, an append waits for it, announcing itself on ``entered``
        self.gate: threading.Event | None = None
        self.entered: threading.Event | None = None
        #: when set, an append raises it (a full disk)
        self.fail: OSError | None = None

    def open(self, path: Path) -> MailboxStore:
        store = CountingStore(path)
        store.driver = self
        if not (path / "log").is_file():
            raise FileNotFoundError(path)
        return store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def driver() -> CountingDriver:
    return CountingDriver()


@pytest.fixture
def accounts(tmp_path: Path) -> StaticAccounts:
    acc = StaticAccounts(tmp_path / "Accounts")
    acc.add(BOB)
    acc.add(ANN)
    return acc


@pytest.fixture
def mgr(accounts: StaticAccounts, driver: CountingDriver) -> MailboxManager:
    return MailboxManager({"jlog": driver}, accounts)


def msg(n: int) -> bytes:
    return f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()


async def test_views_and_events_between_sessions(mgr: MailboxManager) -> None:
    for i in range(3):
        await mgr.deliver(BOB, "INBOX", msg(i))
    a = await mgr.open(BOB, "INBOX", user=BOB)
    b = await mgr.open(BOB, "INBOX", user=BOB)
    assert [r.uid for r in a.messages()] == [1, 2, 3]
    assert a.seq_of(2) == 2 and a.uid_of(3) == 3

    # another session's append waits for refresh
    rec = await a.append(msg(9), ["\\Draft"])
    assert len(b) == 3 and b.has_changes
    (ev,) = b.refresh()
    assert isinstance(ev, Appended) and [r.uid for r in ev.records] == [rec.uid]
    assert len(b) == 4 and b.uidnext == rec.uid + 1
    # the appending session learns of its own append through refresh too
    assert [type(e) for e in a.refresh()] == [Appended]

    # flags: the storing session gets the records back, the other an event
    changed, failed = await a.store([1, 2], ["\\Seen"], "add")
    assert [r.uid for r in changed] == [1, 2] and failed == []
    assert {r.modseq for r in changed} == {changed[0].modseq}
    assert a.highestmodseq == changed[0].modseq
    assert not a.has_changes
    (ev,) = b.refresh()
    assert isinstance(ev, FlagsChanged) and [r.uid for r in ev.records] == [1, 2]
    assert b.record(1).flags == {"\\Seen"}

    # expunge: sequence numbers to announce, valid one after the other
    await a.store([1, 3], ["\\Deleted"], "add")
    b.refresh()
    gone = await a.expunge()
    assert gone.uids == (3, 1) and gone.seqs == (3, 1)
    assert [r.uid for r in a.messages()] == [2, 4]
    # b still shows them until refresh; reading an expunged message fails cleanly
    assert len(b) == 4
    with pytest.raises(NoSuchMessage):
        await b.read(1)
    assert await b.read(2) == msg(1)
    (ev,) = b.refresh()
    assert isinstance(ev, Expunged) and ev.seqs == (3, 1)
    assert [r.uid for r in b.messages()] == [2, 4]
    await a.close()
    await b.close()


async def test_sessions_share_a_snapshot_until_one_changes(mgr: MailboxManager) -> None:
    """Sessions opened on an unchanged mailbox share one view; a change copies it
    (the other keeps its own until refresh) and the next session gets a new one."""
    for i in range(3):
        await mgr.deliver(BOB, "INBOX", msg(i))
    a = await mgr.open(BOB, "INBOX", user=BOB)
    b = await mgr.open(BOB, "INBOX", user=BOB)
    assert a._view is b._view  # noqa: SLF001 - the sharing is what is tested
    await a.store([2], ["\\Seen"], "add")
    await a.store([1], ["\\Deleted"], "add")
    await a.expunge()
    assert a._view is not b._view  # noqa: SLF001
    assert [r.uid for r in a.messages()] == [2, 3] and len(b) == 3
    assert b.record(2).flags == frozenset()
    c = await mgr.open(BOB, "INBOX", user=BOB)
    assert [r.uid for r in c.messages()] == [2, 3] and c.record(2).flags == {"\\Seen"}
    b.refresh()
    assert [r.uid for r in b.messages()] == [2, 3] and b.record(2).flags == {"\\Seen"}
    for box in (a, b, c):
        await box.close()


async def test_the_by_uid_map_is_lent_until_the_mailbox_changes(mgr: MailboxManager) -> None:
    """The snapshot's by-UID map is the mailbox's own, not a copy; the mailbox copies
    it before its next change, so a session sharing it never sees a change early."""
    for i in range(3):
        await mgr.deliver(BOB, "INBOX", msg(i))
    a = await mgr.open(BOB, "INBOX", user=BOB)
    shared = a._shared  # noqa: SLF001 - the lending is what is tested
    assert a._records is shared.records  # noqa: SLF001
    await mgr.deliver(BOB, "INBOX", msg(9))  # append
    assert a._records is not shared.records and 4 not in a._records  # noqa: SLF001
    b = await mgr.open(BOB, "INBOX", user=BOB)
    await b.store([1], ["\\Seen"], "add")  # flags
    assert a.record(1).flags == frozenset() and b.record(1).flags == {"\\Seen"}
    c = await mgr.open(BOB, "INBOX", user=BOB)
    assert c._records is shared.records  # noqa: SLF001
    await c.store([2], ["\\Deleted"], "add")
    await c.expunge()  # expunge
    assert 2 in b._records and 2 not in shared.records  # noqa: SLF001
    for box in (a, b, c):
        await box.close()


async def test_counts_by_flag_set(mgr: MailboxManager) -> None:
    """count_with, first_without and unseen answer per flag set, for a shared view
    and for a view of the session's own."""
    for i in range(5):
        await mgr.deliver(BOB, "INBOX", msg(i), ["\\Seen"] if i in (0, 1, 3) else [])
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        assert box.flag_counts() == {frozenset({"\\Seen"}): 3, frozenset(): 2}
        assert (box.count_with("\\seen"), box.unseen(), box.first_without("\\Seen")) == (3, 2, 3)
        assert box.first_without("\\Flagged") == 1 and box.count_with("\\Flagged") == 0
        await box.store([3, 5], ["\\Seen"], "add")  # the view is now the session's own
        assert (box.unseen(), box.first_without("\\Seen")) == (0, None)
        await box.store([2], ["\\Deleted"], "add")
        assert box.count_with("\\Deleted") == 1
        assert box.flag_counts() == {
            frozenset({"\\Seen"}): 4,
            frozenset({"\\Seen", "\\Deleted"}): 1,
        }


async def test_unchangedsince(mgr: MailboxManager) -> None:
    await mgr.deliver(BOB, "INBOX", msg(1))
    await mgr.deliver(BOB, "INBOX", msg(2))
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        before = box.highestmodseq
        changed, _ = await box.store([1], ["\\Flagged"], "add")
        changed, failed = await box.store([1, 2], ["\\Answered"], "add", unchangedsince=before)
        assert failed == [1] and [r.uid for r in changed] == [2]
        changed, _ = await box.store([2], ["\\Answered"], "remove")
        assert changed[0].flags == frozenset()
        changed, _ = await box.store([2], ["a", "\\Seen"], "replace")
        assert changed[0].flags == {"a", "\\Seen"}
        # keywords are case-insensitive
        changed, _ = await box.store([2], ["A"], "add")
        assert changed == []
        changed, _ = await box.store([2], ["A"], "remove")
        assert changed[0].flags == {"\\Seen"}


async def test_modseq_survives_reopen(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    await mgr.deliver(BOB, "INBOX", msg(1))
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        changed, _ = await box.store([1], ["\\Seen"], "add")
        high = box.highestmodseq
    await mgr.aclose()
    fresh = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    async with await fresh.open(BOB, "INBOX", user=BOB) as box:
        assert box.highestmodseq == high
        assert box.record(1).modseq == changed[0].modseq
        (rec,) = (await box.store([1], ["\\Flagged"], "add"))[0]
        assert rec.modseq > high


async def test_wait_changes_wakes_idle_session(mgr: MailboxManager) -> None:
    idle = await mgr.open(BOB, "INBOX", user=BOB)
    woke: list[list[object]] = []

    async def idler() -> None:
        await idle.wait_changes()
        woke.append(idle.refresh())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(idler)
            await anyio.sleep(0.01)
            assert woke == []
            await mgr.deliver(BOB, "INBOX", msg(1))
    assert len(woke) == 1 and isinstance(woke[0][0], Appended)
    await idle.close()


async def test_frozen_view_without_refresh(mgr: MailboxManager) -> None:
    await mgr.deliver(BOB, "INBOX", msg(1))
    pop = await mgr.open(BOB, "INBOX", user=BOB)
    imap = await mgr.open(BOB, "INBOX", user=BOB)
    await mgr.deliver(BOB, "INBOX", msg(2))
    await imap.store([1], ["\\Deleted"])
    await imap.expunge()
    assert [r.uid for r in pop.messages()] == [1]  # POP keeps its snapshot
    await pop.close()
    await imap.close()


async def test_group_commit(mgr: MailboxManager, driver: CountingDriver) -> None:
    await mgr.deliver(BOB, "INBOX", msg(0))
    driver.batches.clear()
    uids: list[int] = []

    async def one(i: int) -> None:
        uids.append(await mgr.deliver(BOB, "INBOX", msg(i)))

    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        async with anyio.create_task_group() as tg:
            for i in range(1, 31):
                tg.start_soon(one, i)
        assert sorted(uids) == list(range(2, 32))
        assert sum(driver.batches) == 30
        assert len(driver.batches) < 30, driver.batches  # appends shared an fsync
        events = box.refresh()
        assert sum(len(e.records) for e in events if isinstance(e, Appended)) == 30
        assert [r.uid for r in box.messages()] == list(range(1, 32))
        bodies = {await box.read(u) for u in range(2, 32)}
        assert bodies == {msg(i) for i in range(1, 31)}


async def test_a_failing_watcher_neither_hangs_nor_fails_the_writers(
    mgr: MailboxManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The messages are on disk when the change is announced: a watcher that raises must
    # not leave the writers waiting (the commit runs in a task of its own), nor turn
    # their acknowledgement into an error (a client would send the message again).
    await mgr.deliver(BOB, "INBOX", msg(0))
    watch = mgr.watch(BOB, BOB)

    def broken(event: object) -> None:
        raise RuntimeError("watcher bug")

    monkeypatch.setattr(watch, "_push", broken)
    uids: list[int] = []

    async def one(i: int) -> None:
        uids.append(await mgr.deliver(BOB, "INBOX", msg(i)))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(1, 11):
                tg.start_soon(one, i)
    watch.close()
    assert sorted(uids) == list(range(2, 12))
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        assert [r.uid for r in box.messages()] == list(range(1, 12))


async def test_a_failed_write_reaches_every_writer_of_its_batch(
    mgr: MailboxManager, driver: CountingDriver
) -> None:
    await mgr.deliver(BOB, "INBOX", msg(0))
    driver.fail = OSError(28, "No space left on device")
    errors: list[BaseException] = []

    async def one(i: int) -> None:
        try:
            await mgr.deliver(BOB, "INBOX", msg(i))
        except OSError as error:
            errors.append(error)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(1, 6):
                tg.start_soon(one, i)
    assert len(errors) == 5
    driver.fail = None
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        assert [r.uid for r in box.messages()] == [1]
        await mgr.deliver(BOB, "INBOX", msg(6))  # the mailbox goes on
        box.refresh()
        assert len(box.messages()) == 2


async def test_a_cancelled_writer_does_not_cancel_the_write(
    mgr: MailboxManager, driver: CountingDriver
) -> None:
    # A commit once taken is written and announced whatever happens to its caller (an
    # SMTP session that times out, a client that hangs up): the store is never left
    # with records the mailbox does not know, and the next append commits normally.
    await mgr.deliver(BOB, "INBOX", msg(0))
    driver.gate, driver.entered = threading.Event(), threading.Event()
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        async with anyio.create_task_group() as tg:
            tg.start_soon(mgr.deliver, BOB, "INBOX", msg(1))
            with anyio.fail_after(5):
                while not driver.entered.is_set():
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()  # the writer goes while its batch is on the disk
        driver.gate.set()
        with anyio.fail_after(5):
            while len(box.refresh()) == 0:
                await anyio.sleep(0.01)
        assert [r.uid for r in box.messages()] == [1, 2]
        driver.gate = driver.entered = None
        assert await mgr.deliver(BOB, "INBOX", msg(2)) == 3


async def test_two_writers_interleaved(mgr: MailboxManager) -> None:
    a = await mgr.open(BOB, "INBOX", user=BOB)
    b = await mgr.open(BOB, "INBOX", user=BOB)

    async def writer(s, base: int) -> None:
        for i in range(10):
            rec = await s.append(msg(base + i))
            s.refresh()  # own appends join the view at refresh, as IMAP announces EXISTS
            await s.store([rec.uid], ["\\Seen"], "add")

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer, a, 0)
        tg.start_soon(writer, b, 100)
    a.refresh()
    b.refresh()
    assert [r.uid for r in a.messages()] == [r.uid for r in b.messages()] == list(range(1, 21))
    assert all(r.flags == {"\\Seen"} for r in a.messages())
    modseqs = [r.modseq for r in b.messages()]
    assert len(set(modseqs)) == 20
    await a.close()
    await b.close()


async def test_copy_and_move(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Archive", BOB)
    for i in range(3):
        await mgr.deliver(BOB, "INBOX", msg(i), ["\\Seen"] if i == 0 else [], 1000 + i)
    dest = await mgr.open(BOB, "Archive", user=BOB)
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        mapping = await box.copy([1, 2], "Archive")
        assert mapping == {1: 1, 2: 2}
        mapping, gone = await box.move([3], "Archive")
        assert mapping == {3: 3} and gone.uids == (3,) and gone.seqs == (3,)
        assert [r.uid for r in box.messages()] == [1, 2]
    events = dest.refresh()
    assert [type(e) for e in events] == [Appended, Appended]
    recs = dest.messages()
    assert [r.internal_date for r in recs] == [1000, 1001, 1002]
    assert recs[0].flags == {"\\Seen"}
    assert await dest.read(3) == msg(2)
    await dest.close()


async def test_copy_needs_insert_right(mgr: MailboxManager) -> None:
    await mgr.set_acl(ANN, "INBOX", ANN, "bob", "lr")
    await mgr.deliver(BOB, "INBOX", msg(1))
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        with pytest.raises(PermissionDenied):
            await box.copy([1], "~ann/INBOX")
        await mgr.set_acl(ANN, "INBOX", ANN, "bob", "lri")
        assert await box.copy([1], "~ann/INBOX") == {1: 1}


async def test_readonly_session(mgr: MailboxManager) -> None:
    await mgr.deliver(BOB, "INBOX", msg(1))
    async with await mgr.open(BOB, "INBOX", user=BOB, readonly=True) as box:
        with pytest.raises(PermissionDenied):
            await box.store([1], ["\\Seen"])
        assert await box.read(1) == msg(1)


async def test_flag_change_hides_message_from_foreign_view(mgr: MailboxManager) -> None:
    await mgr.set_acl(BOB, "INBOX", BOB, "ann", "lr")
    await mgr.deliver(BOB, "INBOX", msg(1))
    await mgr.deliver(BOB, "INBOX", msg(2))
    ann = await mgr.open(BOB, "~bob/INBOX", user=ANN)
    async with await mgr.open(BOB, "INBOX", user=BOB) as own:
        await own.store([1], ["$Hidden"])
    (ev,) = ann.refresh()
    assert isinstance(ev, Expunged) and ev.uids == (1,) and ev.seqs == (1,)
    assert [r.uid for r in ann.messages()] == [2]
    await ann.close()


async def test_delete_and_rename_while_open(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Temp", BOB)
    await mgr.deliver(BOB, "Temp", msg(1))
    box = await mgr.open(BOB, "Temp", user=BOB)
    await mgr.rename(BOB, "Temp", "Kept", BOB)
    with pytest.raises(NoSuchMailbox):
        await box.read(1)
    await box.close()
    async with await mgr.open(BOB, "Kept", user=BOB) as kept:
        assert await kept.read(1) == msg(1)
        await mgr.delete(BOB, "Kept", BOB)
        with pytest.raises(NoSuchMailbox):
            await kept.store([1], ["\\Seen"])


async def test_cache(mgr: MailboxManager) -> None:
    await mgr.deliver(BOB, "INBOX", msg(1))
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        assert await box.cache_get(1, "envelope") is None
        await box.cache_put(1, "envelope", b"(ENV)")
        assert await box.cache_get(1, "envelope") == b"(ENV)"


async def test_shared_store_is_reused_and_closed(mgr: MailboxManager) -> None:
    a = await mgr.open(BOB, "INBOX", user=BOB)
    b = await mgr.open(BOB, "INBOX", user=BOB)
    assert a._shared is b._shared and a._shared.refs == 2
    await a.close()
    await a.close()  # idempotent
    assert b._shared.refs == 1
    await b.close()
    await mgr.aclose()
    assert b._shared.dead


async def test_idle_session_learns_of_delete(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Gone", BOB)
    idle = await mgr.open(BOB, "Gone", user=BOB)
    errors: list[Exception] = []

    async def idler() -> None:
        try:
            await idle.wait_changes()
        except NoSuchMailbox as exc:
            errors.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(idler)
            await anyio.sleep(0.01)
            await mgr.delete(BOB, "Gone", BOB)
    assert len(errors) == 1
    await idle.close()
