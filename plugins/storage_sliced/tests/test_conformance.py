"""The kernel's driver conformance kit, run against the sliced driver, and the manager
making sliced mailboxes concurrently."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from unigate.mailboxes import MailboxManager
from unigate.testing.accounts import StaticAccounts
from unigate.testing.storage_kit import DriverConformance
from unigate_storage_sliced.driver import SlicedDriver


class TestSlicedConformance(DriverConformance):
    @pytest.fixture
    def driver(self) -> SlicedDriver:
        return SlicedDriver()


class TestSlicedConformanceSmallFiles(DriverConformance):
    """Tiny data files, so appends roll and compaction merges on every run."""

    crash_rounds = 6

    @pytest.fixture
    def driver(self) -> SlicedDriver:
        return SlicedDriver(max_file_size=8192)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_concurrent_first_uses_of_inbox(tmp_path: Path, anyio_backend: str) -> None:
    """A delivery and a login making an account's INBOX at the same moment: both see
    one whole mailbox (the directory once appeared before its index, and an open then
    rebuilt an index over the one being written)."""
    accounts = StaticAccounts(tmp_path / "Accounts")
    names = [f"u{i}@x.dom" for i in range(12)]
    for name in names:
        accounts.add(name)
    manager = MailboxManager({"mslc": SlicedDriver()}, accounts)

    async def login(name: str) -> None:
        session = await manager.open(name, "INBOX", user=name)
        await session.close()

    for _round in range(6):
        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(manager.deliver, name, "INBOX", b"Subject: x\r\n\r\nx\r\n")
                tg.start_soon(login, name)
        names = [f"v{_round}-{n}" for n in names]
        for name in names:
            accounts.add(name)
    for leftover in (tmp_path / "Accounts").rglob(".*.new"):
        raise AssertionError(f"{leftover} left behind")
