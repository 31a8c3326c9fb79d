"""The mailbox manager: names, INBOX rules, hierarchy, formats, subscriptions, quotas."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from unigate.mailboxes import (
    CannotDeleteInbox,
    InvalidMailboxName,
    MailboxExists,
    MailboxHasChildren,
    MailboxLocked,
    MailboxManager,
    NoSuchAccount,
    NoSuchMailbox,
    NotSelectable,
    QuotaExceeded,
)
from unigate.testing.accounts import StaticAccounts
from unigate.testing.memory_driver import ReferenceDriver

pytestmark = pytest.mark.anyio

BOB = "bob@x.dom"


class OtherDriver(ReferenceDriver):
    """The reference format under a second extension (for per-format choices)."""

    extension = "jlg2"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def accounts(tmp_path: Path) -> StaticAccounts:
    acc = StaticAccounts(tmp_path / "Accounts")
    acc.add(BOB)
    acc.add("alice@x.dom")
    return acc


@pytest.fixture
def mgr(accounts: StaticAccounts) -> MailboxManager:
    return MailboxManager({"jlog": ReferenceDriver(), "jlg2": OtherDriver()}, accounts)


def names(infos: list) -> list[str]:
    return [i.name for i in infos]


async def test_inbox_always_exists(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    listed = await mgr.list(BOB, BOB)
    assert names(listed) == ["INBOX"]
    assert (accounts.account_path(BOB) / "INBOX.jlog").is_dir()
    # INBOX is case-insensitive, other names are not
    async with await mgr.open(BOB, "inbox", user=BOB) as box:
        assert box.mailbox == "INBOX"
    await mgr.create(BOB, "Work", BOB)
    with pytest.raises(NoSuchMailbox):
        await mgr.open(BOB, "work", user=BOB)


async def test_first_uses_of_inbox_at_once_create_it_once(mgr: MailboxManager) -> None:
    # A delivery and a login racing to the not-yet-created INBOX: one creation, no error.
    uids: list[int] = []

    async def deliver(n: int) -> None:
        uids.append(await mgr.deliver(BOB, "INBOX", b"Subject: %d\r\n\r\nx\r\n" % n))

    async def login() -> None:
        async with await mgr.open(BOB, "INBOX", user=BOB):
            pass

    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(deliver, n)
            tg.start_soon(login)
    assert sorted(uids) == [1, 2, 3, 4, 5]


async def test_inbox_cannot_be_deleted_but_renamed(mgr: MailboxManager) -> None:
    # testable behaviour 15
    uid = await mgr.deliver(BOB, "INBOX", b"Subject: one\r\n\r\nbody\r\n")
    with pytest.raises(CannotDeleteInbox):
        await mgr.delete(BOB, "INBOX", BOB)
    with pytest.raises(CannotDeleteInbox):
        await mgr.delete(BOB, "Inbox", BOB)
    await mgr.create(BOB, "INBOX/child", BOB)
    assert await mgr.rename(BOB, "INBOX", "Old", BOB) == "Old"
    async with await mgr.open(BOB, "Old", user=BOB) as old:
        assert [r.uid for r in old.messages()] == [uid]
        assert await old.read(uid) == b"Subject: one\r\n\r\nbody\r\n"
    async with await mgr.open(BOB, "INBOX", user=BOB) as inbox:
        assert inbox.messages() == []
    # the INBOX sub-mailboxes stay where they were
    assert set(names(await mgr.list(BOB, BOB))) == {"INBOX", "INBOX/child", "Old"}


async def test_directory_only_names(mgr: MailboxManager) -> None:
    # testable behaviour 16
    await mgr.create(BOB, "ABCDEF/", BOB)
    (info,) = [i for i in await mgr.list(BOB, BOB) if i.name == "ABCDEF"]
    assert "\\Noselect" in info.attributes
    with pytest.raises(NotSelectable):
        await mgr.open(BOB, "ABCDEF", user=BOB)
    with pytest.raises(MailboxExists):
        await mgr.create(BOB, "ABCDEF/", BOB)
    await mgr.create(BOB, "ABCDEF/child", BOB)
    await mgr.create(BOB, "ABCDEF", BOB)
    listed = {i.name: i.attributes for i in await mgr.list(BOB, BOB)}
    assert "\\Noselect" not in listed["ABCDEF"]
    assert "\\HasChildren" in listed["ABCDEF"]
    assert "\\HasNoChildren" in listed["ABCDEF/child"]
    async with await mgr.open(BOB, "ABCDEF", user=BOB) as box:
        assert len(box) == 0


async def test_hierarchy_create_delete_rename(
    mgr: MailboxManager, accounts: StaticAccounts
) -> None:
    await mgr.create(BOB, "a/b/c", BOB)
    listed = {i.name: i.attributes for i in await mgr.list(BOB, BOB)}
    assert "\\Noselect" in listed["a"] and "\\Noselect" in listed["a/b"]
    root = accounts.account_path(BOB)
    assert (root / "a.folder" / "b.folder" / "c.jlog").is_dir()
    with pytest.raises(MailboxExists):
        await mgr.create(BOB, "a/b/c", BOB)
    # a non-selectable name with children cannot be deleted (IMAP)
    with pytest.raises(MailboxHasChildren):
        await mgr.delete(BOB, "a/b", BOB)
    await mgr.deliver(BOB, "a/b/c", b"x\r\n")
    await mgr.rename(BOB, "a", "z/y", BOB)
    assert set(names(await mgr.list(BOB, BOB))) == {"INBOX", "z", "z/y", "z/y/b", "z/y/b/c"}
    async with await mgr.open(BOB, "z/y/b/c", user=BOB) as box:
        assert len(box) == 1
    with pytest.raises(InvalidMailboxName):
        await mgr.rename(BOB, "z", "z/q", BOB)
    # deleting a mailbox with children keeps the name as non-selectable
    await mgr.create(BOB, "z/y", BOB)
    await mgr.delete(BOB, "z/y", BOB)
    listed = {i.name: i.attributes for i in await mgr.list(BOB, BOB)}
    assert "\\Noselect" in listed["z/y"]
    await mgr.delete(BOB, "z", BOB, recursive=True)
    assert names(await mgr.list(BOB, BOB)) == ["INBOX"]


async def test_pattern_matching(mgr: MailboxManager) -> None:
    for n in ("Work", "Work/A", "Work/A/deep", "Private"):
        await mgr.create(BOB, n, BOB)
    assert names(await mgr.list(BOB, BOB, "Work/%")) == ["Work/A"]
    assert names(await mgr.list(BOB, BOB, "Work/*")) == ["Work/A", "Work/A/deep"]
    assert names(await mgr.list(BOB, BOB, "%")) == ["INBOX", "Private", "Work"]
    assert names(await mgr.list(BOB, BOB, "inbox")) == ["INBOX"]


async def test_bad_names(mgr: MailboxManager) -> None:
    for bad in ("", "a//b", "../x", ".hidden", "a/./b", "~x", "$Fake$", "a\x01b"):
        with pytest.raises((InvalidMailboxName, NoSuchAccount)):
            await mgr.create(BOB, bad, BOB)
    assert names(await mgr.list(BOB, BOB)) == ["INBOX"]


async def test_format_chosen_by_extension(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    # testable behaviour 17
    root = accounts.account_path(BOB)
    assert await mgr.create(BOB, "Proposals.jlg2", BOB) == "Proposals"
    assert (root / "Proposals.jlg2").is_dir()
    await mgr.create(BOB, "Plain", BOB)
    assert (root / "Plain.jlog").is_dir()
    accounts.settings[BOB] = {"DefaultMailboxType": "jlg2"}
    await mgr.create(BOB, "Other", BOB)
    assert (root / "Other.jlg2").is_dir()
    assert set(names(await mgr.list(BOB, BOB))) == {"INBOX", "Proposals", "Plain", "Other"}
    # a name with an unknown extension is just a name with a dot
    assert await mgr.create(BOB, "my.box", BOB) == "my.box"
    assert (root / "my.box.jlg2").is_dir()


async def test_locked_mailboxes(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Calendar", BOB)
    await mgr.set_locked(BOB, "Calendar", True)
    with pytest.raises(MailboxLocked):
        await mgr.delete(BOB, "Calendar", BOB)
    with pytest.raises(MailboxLocked):
        await mgr.rename(BOB, "Calendar", "Cal", BOB)
    # a locked child goes with its unlocked parent
    await mgr.create(BOB, "P/Locked", BOB)
    await mgr.set_locked(BOB, "P/Locked", True)
    await mgr.rename(BOB, "P", "Q", BOB)
    await mgr.delete(BOB, "Q", BOB, recursive=True)
    assert set(names(await mgr.list(BOB, BOB))) == {"INBOX", "Calendar"}
    await mgr.set_locked(BOB, "Calendar", False)
    await mgr.delete(BOB, "Calendar", BOB)


async def test_mailbox_class(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "Contacts", BOB, mailbox_class="IPF.Contact")
    (info,) = [i for i in await mgr.list(BOB, BOB) if i.name == "Contacts"]
    assert info.mailbox_class == "IPF.Contact"
    await mgr.set_class(BOB, "Contacts", BOB, None)
    assert await mgr.mailbox_class(BOB, "Contacts", BOB) is None


async def test_special_mailboxes(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    accounts.settings[BOB] = {"TrashBox": "Deleted Items"}
    assert await mgr.create(BOB, "$Trash$", BOB) == "Deleted Items"
    await mgr.create(BOB, "Sent", BOB)
    listed = {i.name: i.attributes for i in await mgr.list(BOB, BOB)}
    assert "\\Trash" in listed["Deleted Items"]
    assert "\\Sent" in listed["Sent"]
    assert not any(n.startswith("$") for n in listed)
    uid = await mgr.deliver(BOB, "$Trash$", b"t\r\n")
    async with await mgr.open(BOB, "Deleted Items", user=BOB) as box:
        assert [r.uid for r in box.messages()] == [uid]


async def test_subscriptions_in_account_info(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    await mgr.create(BOB, "Work", BOB)
    await mgr.subscribe(BOB, "Work")
    await mgr.subscribe(BOB, "inbox")
    await mgr.subscribe(BOB, "Gone")
    await mgr.subscribe(BOB, "Work")
    assert await mgr.subscriptions(BOB) == ["Work", "INBOX", "Gone"]
    text = (accounts.account_path(BOB) / "account.info").read_text()
    assert "#Subscription" in text
    subs = {i.name: i for i in await mgr.list(BOB, BOB, subscribed_only=True)}
    assert set(subs) == {"Work", "INBOX", "Gone"}
    assert "\\NonExistent" in subs["Gone"].attributes
    assert subs["Work"].subscribed
    await mgr.unsubscribe(BOB, "Gone")
    # a fresh manager reads the file
    fresh = MailboxManager({"jlog": ReferenceDriver()}, accounts)
    assert await fresh.subscriptions(BOB) == ["Work", "INBOX"]
    listed = {i.name: i for i in await fresh.list(BOB, BOB)}
    assert listed["Work"].subscribed and listed["INBOX"].subscribed


async def test_quota_storage_and_mailbox_count(
    mgr: MailboxManager, accounts: StaticAccounts
) -> None:
    accounts.settings[BOB] = {"MaxAccountSize": 1000, "MaxMailboxes": 3}
    await mgr.deliver(BOB, "INBOX", b"x" * 600)
    q = await mgr.quota(BOB)
    assert (q.used, q.limit, q.count, q.count_limit) == (600, 1000, 1, 3)
    with pytest.raises(QuotaExceeded) as exc:
        await mgr.deliver(BOB, "INBOX", b"y" * 500)
    assert exc.value.temporary  # it would fit once messages are removed
    with pytest.raises(QuotaExceeded) as exc:
        await mgr.deliver(BOB, "INBOX", b"y" * 1001)
    assert not exc.value.temporary  # larger than the whole quota
    await mgr.create(BOB, "A", BOB)
    await mgr.create(BOB, "B", BOB)
    with pytest.raises(QuotaExceeded):
        await mgr.create(BOB, "C", BOB)
    await mgr.create(BOB, "D/", BOB)  # directory-only names do not count
    # expunging frees space
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        (rec,) = box.messages()
        await box.store([rec.uid], ["\\Deleted"])
        await box.expunge()
    assert (await mgr.quota(BOB)).used == 0
    await mgr.deliver(BOB, "INBOX", b"y" * 500)
    # a fresh manager counts what is on disk
    fresh = MailboxManager({"jlog": ReferenceDriver(), "jlg2": OtherDriver()}, accounts)
    assert (await fresh.quota(BOB)).used == 500


async def test_quota_applies_to_append(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    accounts.settings[BOB] = {"MaxAccountSize": 100}
    async with await mgr.open(BOB, "INBOX", user=BOB) as box:
        await box.append(b"z" * 80)
        with pytest.raises(QuotaExceeded):
            await box.append(b"z" * 80)


async def test_deliver_create_and_missing(mgr: MailboxManager) -> None:
    with pytest.raises(NoSuchMailbox):
        await mgr.deliver(BOB, "Nope", b"x\r\n")
    uid = await mgr.deliver(BOB, "Auto/Created", b"x\r\n", ["\\Flagged"], 1234, create=True)
    async with await mgr.open(BOB, "Auto/Created", user=BOB) as box:
        (rec,) = box.messages()
        assert (rec.uid, rec.flags, rec.internal_date) == (uid, {"\\Flagged"}, 1234)


async def test_status(mgr: MailboxManager) -> None:
    await mgr.deliver(BOB, "INBOX", b"a\r\n", ["\\Seen"])
    await mgr.deliver(BOB, "INBOX", b"bb\r\n")
    await mgr.deliver(BOB, "INBOX", b"svc\r\n", ["$Service"])
    st = await mgr.status(BOB, "INBOX", BOB)
    assert st.messages == 2 and st.unseen == 1 and st.size == 7
    assert st.uidnext == 4 and st.uidvalidity > 0 and st.highestmodseq >= 3


async def test_uidvalidity_changes_when_recreated(mgr: MailboxManager) -> None:
    await mgr.create(BOB, "X", BOB)
    first = (await mgr.status(BOB, "X", BOB)).uidvalidity
    await mgr.delete(BOB, "X", BOB)
    await mgr.create(BOB, "X", BOB)
    assert (await mgr.status(BOB, "X", BOB)).uidvalidity > first


async def test_unknown_account(mgr: MailboxManager) -> None:
    with pytest.raises(NoSuchAccount):
        await mgr.list("nobody@x.dom", "nobody@x.dom")
    with pytest.raises(NoSuchAccount):
        await mgr.open(BOB, "~nobody/INBOX", user=BOB)


async def test_quota_settings_as_text(mgr: MailboxManager, accounts: StaticAccounts) -> None:
    accounts.settings[BOB] = {"MaxAccountSize": "1K", "MaxMailboxes": "unlimited"}
    q = await mgr.quota(BOB)
    assert (q.limit, q.count_limit) == (1024, None)
