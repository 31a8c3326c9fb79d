"""Account-wide watches (IMAP NOTIFY's source), deferred removals and bounded pending queues."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from unigate.mailboxes import (
    Appended,
    ChangeKind,
    Expunged,
    FlagsChanged,
    MailboxCreated,
    MailboxDeleted,
    MailboxLocation,
    MailboxManager,
    MailboxRenamed,
    MessagesChanged,
    SubscriptionChanged,
)
from unigate.mailboxes import session as session_module
from unigate.testing.accounts import StaticAccounts
from unigate.testing.memory_driver import ReferenceDriver

pytestmark = pytest.mark.anyio

BOB = "bob@x.dom"
ANN = "ann@x.dom"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mgr(tmp_path: Path) -> MailboxManager:
    acc = StaticAccounts(tmp_path / "Accounts")
    acc.add(BOB)
    acc.add(ANN)
    return MailboxManager({"jlog": ReferenceDriver()}, acc)


def msg(n: int) -> bytes:
    return f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()


async def test_message_events_of_any_mailbox_are_coalesced(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Work", BOB)
    watch = mgr.watch(BOB, BOB)
    assert not watch.pending
    for i in range(5):
        await mgr.deliver(BOB, "Work", msg(i))
    await mgr.deliver(BOB, "INBOX", msg(9))
    # five deliveries into Work are one event until taken: the watcher reads STATUS anyway
    assert watch.take() == [
        MessagesChanged(BOB, "Work", ChangeKind.NEW),
        MessagesChanged(BOB, "INBOX", ChangeKind.NEW),
    ]
    box = await mgr.open(BOB, "Work", user=BOB)
    await box.store([1], ["\\Deleted"], "add")
    await box.expunge()
    assert [e.kind for e in watch.take()] == [ChangeKind.FLAGS, ChangeKind.EXPUNGE]  # type: ignore[union-attr]
    await box.close()
    watch.close()
    await mgr.deliver(BOB, "Work", msg(7))
    assert watch.take() == [] and not mgr._watches


async def test_own_changes_are_not_reported(mgr: MailboxManager) -> None:
    me, other = object(), object()
    watch = mgr.watch(BOB, BOB, origin=me)
    mine = await mgr.open(BOB, "INBOX", user=BOB, origin=me)
    theirs = await mgr.open(BOB, "INBOX", user=BOB, origin=other)
    await mine.append(msg(1))
    await mgr.create(BOB, "Mine", BOB, origin=me)
    await mgr.subscribe(BOB, "Mine", origin=me)
    await mine.copy([1], "Mine")
    assert watch.take() == []
    await theirs.append(msg(2))
    await mgr.create(BOB, "Theirs", BOB, origin=other)
    assert watch.take() == [
        MessagesChanged(BOB, "INBOX", ChangeKind.NEW),
        MailboxCreated(BOB, "Theirs"),
    ]
    await mine.close()
    await theirs.close()
    watch.close()


async def test_name_events(mgr: MailboxManager) -> None:
    watch = mgr.watch(BOB, BOB)
    await mgr.create(BOB, "A/B/C", BOB)  # the parents appear with it
    assert watch.take() == [
        MailboxCreated(BOB, "A"),
        MailboxCreated(BOB, "A/B"),
        MailboxCreated(BOB, "A/B/C"),
    ]
    await mgr.rename(BOB, "A/B", "X", BOB)
    assert watch.take() == [MailboxRenamed(BOB, "A/B", "X"), MailboxRenamed(BOB, "A/B/C", "X/C")]
    await mgr.delete(BOB, "X", BOB, recursive=True)
    assert watch.take() == [MailboxDeleted(BOB, "X/C"), MailboxDeleted(BOB, "X")]
    await mgr.rename(BOB, "INBOX", "Old", BOB)
    assert watch.take() == [MailboxRenamed(BOB, "INBOX", "Old"), MailboxCreated(BOB, "INBOX")]
    await mgr.subscribe(BOB, "Old")
    await mgr.subscribe(BOB, "Old")  # no change, no event
    await mgr.unsubscribe(BOB, "Old")
    assert watch.take() == [
        SubscriptionChanged(BOB, "Old", True),
        SubscriptionChanged(BOB, "Old", False),
    ]
    watch.close()


async def test_foreign_names_need_the_lookup_right(mgr: MailboxManager) -> None:
    watch = mgr.watch(ANN, ANN, owners=[BOB])
    await mgr.create(BOB, "Private", BOB)
    await mgr.subscribe(BOB, "Private")  # bob's subscriptions are not ann's business
    await mgr.deliver(BOB, "Private", msg(1))  # message events carry no data: STATUS decides
    assert watch.take() == [MessagesChanged(BOB, "Private", ChangeKind.NEW)]
    await mgr.set_acl(BOB, "Private", BOB, ANN, "lr")
    await mgr.set_acl(BOB, "Private", BOB, ANN, "lrs")  # still listable: nothing new
    assert watch.take() == [MailboxCreated(BOB, "Private")]
    await mgr.create(BOB, "Private/Sub", BOB)  # inherits the ACL: ann sees it
    await mgr.create(BOB, "Other", BOB)  # ann cannot see it
    assert watch.take() == [MailboxCreated(BOB, "Private/Sub")]
    await mgr.set_acl(BOB, "Private", BOB, ANN, None)
    await mgr.delete(BOB, "Other", BOB)
    await mgr.delete(BOB, "Private/Sub", BOB)
    assert watch.take() == [MailboxDeleted(BOB, "Private"), MailboxDeleted(BOB, "Private/Sub")]
    watch.set_owners([])
    await mgr.create(BOB, "Later", BOB)
    await mgr.deliver(BOB, "Later", msg(2))
    assert watch.take() == []
    watch.close()


async def test_overflow_drops_everything_and_stops(mgr: MailboxManager) -> None:
    watch = mgr.watch(BOB, BOB, limit=3)
    for i in range(3):
        await mgr.create(BOB, f"M{i}", BOB)
    assert not watch.overflowed
    await mgr.create(BOB, "M3", BOB)
    assert watch.overflowed and watch.pending and watch.take() == []
    await mgr.create(BOB, "M4", BOB)
    assert watch.take() == [] and watch.overflowed
    watch.close()


async def test_wait_wakes_on_an_event_and_on_close(mgr: MailboxManager) -> None:
    watch = mgr.watch(BOB, BOB)
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.wait)
            await anyio.sleep(0.01)
            await mgr.deliver(BOB, "INBOX", msg(1))
        async with anyio.create_task_group() as tg:
            watch.take()
            tg.start_soon(watch.wait)
            await anyio.sleep(0.01)
            watch.close()


async def test_resolve_name(mgr: MailboxManager) -> None:
    assert await mgr.resolve_name(ANN, "inbox") == MailboxLocation(ANN, "INBOX")
    assert await mgr.resolve_name(ANN, "~bob/Work/X") == MailboxLocation(BOB, "Work/X")
    assert await mgr.resolve_name(ANN, "~bob") == MailboxLocation(BOB, "")


async def test_deferred_removals_keep_sequence_numbers(mgr: MailboxManager) -> None:
    for i in range(3):
        await mgr.deliver(BOB, "INBOX", msg(i))
    a = await mgr.open(BOB, "INBOX", user=BOB)
    b = await mgr.open(BOB, "INBOX", user=BOB)
    await a.store([1], ["\\Deleted"], "add")
    await a.expunge()
    await a.store([2], ["\\Flagged"], "add")
    await mgr.deliver(BOB, "INBOX", msg(3))
    events = b.refresh(defer_removals=True)
    assert [type(e) for e in events] == [FlagsChanged, FlagsChanged, Appended]
    assert [r.uid for r in b.messages()] == [1, 2, 3, 4]  # 1 is held, numbers do not move
    assert b.has_changes
    with anyio.fail_after(1):  # held removals do not count as new changes to wait for
        await mgr.deliver(BOB, "INBOX", msg(4))
        await b.wait_changes()
    assert [type(e) for e in b.refresh(defer_removals=True)] == [Appended]
    (ev,) = b.refresh()
    assert isinstance(ev, Expunged) and ev.uids == (1,) and ev.seqs == (1,)
    assert [r.uid for r in b.messages()] == [2, 3, 4, 5] and not b.has_changes
    await a.close()
    await b.close()


async def test_pending_events_are_compacted(
    mgr: MailboxManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "COMPACT_AT", 8)
    await mgr.deliver(BOB, "INBOX", msg(0))
    a = await mgr.open(BOB, "INBOX", user=BOB)
    frozen = await mgr.open(BOB, "INBOX", user=BOB)  # never refreshes for a while
    for i in range(1, 30):
        await mgr.deliver(BOB, "INBOX", msg(i))
        await a.store([1], ["\\Flagged"] if i % 2 else [], "replace")
    a.refresh()
    await a.store([2, 3], ["\\Deleted"], "add")
    await a.expunge()
    assert len(frozen._pending) <= 8
    events = frozen.refresh()
    assert [r.uid for r in frozen.messages()] == [r.uid for r in a.messages()]
    assert frozen.record(1).flags == a.record(1).flags  # type: ignore[union-attr]
    assert any(isinstance(e, Expunged) for e in events)
    await a.close()
    await frozen.close()
