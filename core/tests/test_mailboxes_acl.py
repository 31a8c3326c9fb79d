"""Mailbox ACLs: the manual's effective-rights rules and examples, foreign access, aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.mailboxes import (
    GUEST,
    MailboxManager,
    NoSuchMailbox,
    PermissionDenied,
    effective_rights,
    parse_flag_name,
)
from unigate.mailboxes.acl import apply_rights_change
from unigate.mailboxes.flags import InvalidFlag, normalize_flag, normalize_flags
from unigate.testing.accounts import StaticAccounts
from unigate.testing.memory_driver import ReferenceDriver

pytestmark = pytest.mark.anyio

BOSS = "j.smith@company.com"
ASSISTANT = "assistant@company.com"
OTHER = "carl@company.com"


# -- pure rules ------------------------------------------------------------------------


def test_owner_has_everything() -> None:
    assert effective_rights({}, "bob@a.com", "bob@a.com") == "lrswipcda"
    assert effective_rights({}, "BOB@a.com", "bob@a.com") == "lrswipcda"


def test_manual_example_same_domain() -> None:
    acl = {"anyone@": "lrs", "-john": "rs", "+susan": "d"}
    owner = "boss@company.com"
    assert effective_rights(acl, "john@company.com", owner) == "l"
    assert effective_rights(acl, "susan@company.com", owner) == "lrsd"
    assert effective_rights(acl, "mary@company.com", owner) == "lrs"
    assert effective_rights(acl, "mary@other.com", owner) == ""


def test_manual_example_other_domains() -> None:
    acl = {"anyone@company2.com": "lrs", "-john@company2.com": "lrs", "susan@company3.com": "lrd"}
    owner = "boss@company.com"
    assert effective_rights(acl, "john@company2.com", owner) == ""
    assert effective_rights(acl, "pete@company2.com", owner) == "lrs"
    assert effective_rights(acl, "susan@company3.com", owner) == "lrd"


def test_exact_entry_wins_outright() -> None:
    acl = {"anyone": "lrswi", "john": "l", "+john": "d"}
    assert effective_rights(acl, "john@a.com", "boss@a.com") == "l"
    assert effective_rights(acl, "x@b.com", "boss@a.com") == "lrswi"


def test_groups_and_guests() -> None:
    acl = {"#sales": "lr", "#ops@b.com": "i", "null@null": "l"}
    owner = "boss@a.com"
    assert effective_rights(acl, "u@a.com", owner, lambda: {"sales@a.com"}) == "lr"
    assert effective_rights(acl, "u@a.com", owner, lambda: {"sales@b.com"}) == ""
    assert effective_rights(acl, "u@c.com", owner, lambda: {"ops@b.com"}) == "i"
    assert effective_rights(acl, GUEST, owner) == "l"
    assert effective_rights({"anyone": "lr"}, GUEST, owner) == ""


def test_rights_changes() -> None:
    assert apply_rights_change("lr", "+sw") == "lrsw"
    assert apply_rights_change("lrsw", "-rw") == "ls"
    assert apply_rights_change("lrsw", "ai") == "ia"
    with pytest.raises(ValueError):
        apply_rights_change("", "lz")


def test_flag_names() -> None:
    assert parse_flag_name("Read") == ("\\Seen", True)
    assert parse_flag_name("Unseen") == ("\\Seen", False)
    assert parse_flag_name("NotRedirected") == ("$Forwarded", False)
    assert parse_flag_name("Junk") == ("Junk", True)
    assert parse_flag_name("MyKeyword") == ("MyKeyword", True)
    assert normalize_flag("\\SEEN") == "\\Seen"
    assert normalize_flag("$hidden") == "$Hidden"
    assert normalize_flags(["Work", "work", "\\deleted"]) in (
        {"Work", "\\Deleted"},
        {"work", "\\Deleted"},
    )
    for bad in ("a b", "x(y", "%", 'q"', "\\Bogus", "\\Recent", ""):
        with pytest.raises(InvalidFlag):
            normalize_flag(bad)


# -- through the manager -----------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def accounts(tmp_path: Path) -> StaticAccounts:
    acc = StaticAccounts(tmp_path / "Accounts")
    for a in (BOSS, ASSISTANT, OTHER, "admin@company.com"):
        acc.add(a)
    acc.aliases["boss@company.com"] = BOSS
    acc.admins.add("admin@company.com")
    return acc


@pytest.fixture
def mgr(accounts: StaticAccounts) -> MailboxManager:
    return MailboxManager({"jlog": ReferenceDriver()}, accounts)


async def test_sub_mailbox_inherits_acl(mgr: MailboxManager) -> None:
    # testable behaviour 19
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lrs")
    await mgr.create(BOSS, "INBOX/sales", BOSS)
    assert await mgr.get_acl(BOSS, "INBOX/sales", BOSS) == {"assistant": "lrs"}
    await mgr.set_acl(BOSS, "INBOX/sales", BOSS, "assistant", "+w")
    assert await mgr.get_acl(BOSS, "INBOX/sales", BOSS) == {"assistant": "lrsw"}
    assert await mgr.get_acl(BOSS, "INBOX", BOSS) == {"assistant": "lrs"}
    await mgr.set_acl(BOSS, "INBOX/sales", BOSS, "assistant", None)
    assert await mgr.get_acl(BOSS, "INBOX/sales", BOSS) == {}


async def test_foreign_list_open_and_rights(mgr: MailboxManager) -> None:
    await mgr.create(BOSS, "Pending", BOSS)
    await mgr.create(BOSS, "Secret", BOSS)
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lrs")
    await mgr.set_acl(BOSS, "Pending", BOSS, "assistant", "l")
    listed = [i.name for i in await mgr.list(ASSISTANT, ASSISTANT, "~j.smith/*")]
    assert listed == ["~j.smith/INBOX", "~j.smith/Pending"]
    # the account part is routed: an alias works
    listed = [i.name for i in await mgr.list(ASSISTANT, ASSISTANT, "~boss/*")]
    assert listed == ["~boss/INBOX", "~boss/Pending"]
    assert await mgr.my_rights(ASSISTANT, "~j.smith/INBOX", ASSISTANT) == "lrs"
    with pytest.raises(NoSuchMailbox):  # no right at all: the mailbox does not exist
        await mgr.open(ASSISTANT, "~j.smith/Secret", user=ASSISTANT)
    with pytest.raises(PermissionDenied) as exc:  # lookup only
        await mgr.open(ASSISTANT, "~j.smith/Pending", user=ASSISTANT)
    assert exc.value.right == "r"
    with pytest.raises(PermissionDenied):
        await mgr.get_acl(ASSISTANT, "~j.smith/INBOX", ASSISTANT)
    with pytest.raises(PermissionDenied):
        await mgr.set_acl(ASSISTANT, "~j.smith/INBOX", ASSISTANT, "assistant", "lrswipcda")
    async with await mgr.open(ASSISTANT, "~j.smith@company.com/INBOX", user=ASSISTANT) as box:
        assert box.owner == BOSS and box.mailbox == "INBOX"
    # an administrator sees everything
    admin = "admin@company.com"
    assert await mgr.my_rights(admin, "~j.smith/Secret", admin) == "lrswipcda"


async def test_foreign_create_delete_rename_rules(
    mgr: MailboxManager, accounts: StaticAccounts
) -> None:
    # testable behaviour 20
    await mgr.create(BOSS, "X/Y", BOSS)
    await mgr.set_acl(BOSS, "X/Y", BOSS, "assistant", "lr")
    with pytest.raises(PermissionDenied) as exc:
        await mgr.delete(ASSISTANT, "~j.smith/X/Y", ASSISTANT)
    assert exc.value.right == "c"  # c on the parent X is missing
    await mgr.set_acl(BOSS, "X", BOSS, "assistant", "lc")
    with pytest.raises(PermissionDenied) as exc:
        await mgr.delete(ASSISTANT, "~j.smith/X/Y", ASSISTANT)
    assert exc.value.right == "d"
    await mgr.set_acl(BOSS, "X/Y", BOSS, "assistant", "lrd")
    await mgr.create(ASSISTANT, "~j.smith/X/Z", ASSISTANT)  # c on X suffices
    assert await mgr.get_acl(BOSS, "X/Z", BOSS) == {"assistant": "lc"}  # inherited from X
    # rename needs c on the new parent too
    with pytest.raises(PermissionDenied):
        await mgr.rename(ASSISTANT, "~j.smith/X/Y", "~j.smith/Top", ASSISTANT)
    await mgr.rename(ASSISTANT, "~j.smith/X/Y", "~j.smith/X/W", ASSISTANT)
    await mgr.delete(ASSISTANT, "~j.smith/X/W", ASSISTANT)
    # top level: the account's CreateMailboxes right decides
    with pytest.raises(PermissionDenied):
        await mgr.create(ASSISTANT, "~j.smith/Top", ASSISTANT)
    accounts.account_acl[(BOSS, ASSISTANT)] = "c"
    await mgr.create(ASSISTANT, "~j.smith/Top", ASSISTANT)
    names = [i.name for i in await mgr.list(BOSS, BOSS)]
    assert names == ["INBOX", "Top", "X", "X/Z"]


async def test_hidden_and_service_messages(mgr: MailboxManager) -> None:
    # testable behaviour 21
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lr")
    await mgr.set_acl(BOSS, "INBOX", BOSS, "carl", "lra")
    plain = await mgr.deliver(BOSS, "INBOX", b"plain\r\n")
    hidden = await mgr.deliver(BOSS, "INBOX", b"hidden\r\n", ["$Hidden"])
    service = await mgr.deliver(BOSS, "INBOX", b"service\r\n", ["$Service"])
    async with await mgr.open(ASSISTANT, "~j.smith/INBOX", user=ASSISTANT) as box:
        assert [r.uid for r in box.messages()] == [plain]
    async with await mgr.open(OTHER, "~j.smith/INBOX", user=OTHER) as box:
        assert [r.uid for r in box.messages()] == [plain, hidden]
    async with await mgr.open(BOSS, "INBOX", user=BOSS) as box:
        assert [r.uid for r in box.messages()] == [plain, hidden]
    async with await mgr.open(BOSS, "INBOX", user=BOSS, service_visible=True) as box:
        assert [r.uid for r in box.messages()] == [plain, hidden, service]
    st = await mgr.status(ASSISTANT, "~j.smith/INBOX", ASSISTANT)
    assert (st.messages, st.unseen, st.size) == (1, 1, len(b"plain\r\n"))
    st = await mgr.status(OTHER, "~j.smith/INBOX", OTHER)  # may see $Hidden ("a")
    assert (st.messages, st.unseen, st.size) == (2, 2, len(b"plain\r\nhidden\r\n"))


async def test_seen_needs_s_right(mgr: MailboxManager) -> None:
    # testable behaviour 22
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lr")
    uid = await mgr.deliver(BOSS, "INBOX", b"m\r\n")
    async with await mgr.open(ASSISTANT, "~j.smith/INBOX", user=ASSISTANT) as box:
        changed, failed = await box.store([uid], ["\\Seen", "\\Flagged"], "add")
        assert changed == [] and failed == []
        with pytest.raises(PermissionDenied):
            await box.append(b"x\r\n")
        with pytest.raises(PermissionDenied):
            await box.expunge()
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lrs")
    async with await mgr.open(ASSISTANT, "~j.smith/INBOX", user=ASSISTANT) as box:
        changed, _ = await box.store([uid], ["\\Seen", "\\Flagged"], "add")
        assert [r.flags for r in changed] == [{"\\Seen"}]
        # replace keeps the flags the user may not change
        await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lrsw")
    async with await mgr.open(BOSS, "INBOX", user=BOSS) as own:
        await own.store([uid], ["\\Deleted"], "add")
    async with await mgr.open(ASSISTANT, "~j.smith/INBOX", user=ASSISTANT) as box:
        changed, _ = await box.store([uid], ["Work"], "replace")
        assert changed[0].flags == {"Work", "\\Deleted"}


async def test_mailbox_alias_to_account(mgr: MailboxManager) -> None:
    # the manual's sample: "boss" -> ~j.smith, INBOX and Pending shared with the assistant
    await mgr.create(BOSS, "Pending", BOSS)
    await mgr.create(BOSS, "Private", BOSS)
    for box in ("INBOX", "Pending"):
        await mgr.set_acl(BOSS, box, BOSS, "assistant", "lrs")
    await mgr.set_alias(ASSISTANT, "boss", "~j.smith")
    listed = {i.name: i.attributes for i in await mgr.list(ASSISTANT, ASSISTANT)}
    assert set(listed) == {"INBOX", "boss", "boss/INBOX", "boss/Pending"}
    assert "\\Noselect" in listed["boss"]
    # a new shared mailbox appears at once
    await mgr.create(BOSS, "Urgent", BOSS)
    await mgr.set_acl(BOSS, "Urgent", BOSS, "assistant", "lr")
    listed = {i.name for i in await mgr.list(ASSISTANT, ASSISTANT)}
    assert "boss/Urgent" in listed
    uid = await mgr.deliver(BOSS, "Pending", b"p\r\n")
    async with await mgr.open(ASSISTANT, "boss/Pending", user=ASSISTANT) as box:
        assert box.owner == BOSS and [r.uid for r in box.messages()] == [uid]


async def test_mailbox_alias_to_mailbox(mgr: MailboxManager) -> None:
    await mgr.create(BOSS, "Sales/2026", BOSS)
    for box in ("Sales", "Sales/2026"):
        await mgr.set_acl(BOSS, box, BOSS, "assistant", "lr")
    await mgr.set_alias(ASSISTANT, "salesBox", "~j.smith/Sales")
    listed = {i.name for i in await mgr.list(ASSISTANT, ASSISTANT)}
    assert {"salesBox", "salesBox/2026"} <= listed
    async with await mgr.open(ASSISTANT, "salesBox/2026", user=ASSISTANT) as box:
        assert box.mailbox == "Sales/2026"
    await mgr.set_alias(ASSISTANT, "salesBox", None)
    assert "salesBox" not in {i.name for i in await mgr.list(ASSISTANT, ASSISTANT)}


async def test_subscribed_foreign_mailbox(mgr: MailboxManager) -> None:
    await mgr.set_acl(BOSS, "INBOX", BOSS, "assistant", "lr")
    await mgr.subscribe(ASSISTANT, "~j.smith/INBOX")
    await mgr.subscribe(ASSISTANT, "~j.smith/Nothing")
    subs = {
        i.name: i.attributes for i in await mgr.list(ASSISTANT, ASSISTANT, subscribed_only=True)
    }
    assert "\\NonExistent" not in subs["~j.smith/INBOX"]
    assert "\\NonExistent" in subs["~j.smith/Nothing"]


async def test_guest_and_anyone(mgr: MailboxManager) -> None:
    await mgr.create(BOSS, "Public", BOSS)
    await mgr.set_acl(BOSS, "Public", BOSS, "anyone", "lr")
    assert [i.name for i in await mgr.list(OTHER, OTHER, "~j.smith/*")] == ["~j.smith/Public"]
    assert await mgr.list(OTHER, GUEST, "~j.smith/*") == []
    await mgr.set_acl(BOSS, "Public", BOSS, "null@null", "l")
    assert [i.name for i in await mgr.list(OTHER, GUEST, "~j.smith/*")] == ["~j.smith/Public"]
