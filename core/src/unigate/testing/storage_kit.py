"""The format-driver conformance kit: one pytest suite every mailbox driver must pass.

Why: the mailbox manager relies on the promises written in
:mod:`unigate_hookspecs.storage` (durable appends, UIDs that never go back, repair after
a crash, an index that can be rebuilt from the data). This kit checks them the same way
for our drivers and for a third party's.

Use it from a driver's tests::

    import pytest
    from unigate.testing.storage_kit import DriverConformance
    from unigate_mydriver import MyDriver

    class TestMyDriverConformance(DriverConformance):
        @pytest.fixture
        def driver(self):
            return MyDriver()

The base class is not collected by itself (its name does not start with ``Test``).
A subclass may override these class attributes and methods:

``flags_survive_index_loss``
    False when flag changes live only in the index, so that losing every index file
    may reset flags to their appended values (UIDs, sizes, dates and bytes must still
    survive).
``crash_rounds`` / ``crash_window``
    How many kill-and-reopen rounds each crash test runs, and the range of seconds the
    child runs before it is killed (keep the product a few seconds).
``index_files(path)``
    The files whose loss or damage the driver must survive. By default: the driver's
    ``sidecars(path)`` plus, for a directory format, every file in the mailbox
    directory whose name starts with ``index`` or ends with ``.bdx``.

Every test is synchronous; the tests that go through the mailbox manager run their own
event loop with :func:`anyio.run`, so no async pytest plugin is needed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from unigate_hookspecs.storage import (
    FlagChange,
    FormatDriver,
    MailboxState,
    MailboxStore,
    NewMessage,
)

__all__ = ["DriverConformance", "make_message"]


def make_message(marker: str, size: int = 0, *, tricky: bool = True) -> bytes:
    """A valid RFC 5322 message (CRLF line ends) that contains ``marker`` once.

    With ``tricky`` the body holds the lines that break naive formats: a ``From``
    line after a blank line, a ``>From`` line, a lone ``.`` line, a bare CR. ``size``
    pads the body with lines up to roughly that many bytes.
    """
    head = (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: test {marker}\r\n"
        f"Message-ID: <{marker}@kit>\r\n\r\n"
    )
    body = f"marker {marker}\r\n"
    if tricky:
        body += "\r\nFrom here, a line an mbox must escape\r\n>From quoted\r\n.\r\nbare\rcr\r\n"
    pad = []
    n = 0
    while len(head) + len(body) + n < size:
        line = f"{marker} padding line {len(pad):06d} ................................\r\n"
        pad.append(line)
        n += len(line)
    return (head + body + "".join(pad)).encode()


def _marker_of(data: bytes) -> str:
    start = data.index(b"Message-ID: <") + len(b"Message-ID: <")
    return data[start : data.index(b"@kit>", start)].decode()


class DriverConformance:
    """Mixin of conformance tests. Subclass it and provide a ``driver`` fixture."""

    flags_survive_index_loss: bool = True
    crash_rounds: int = 4
    crash_window: tuple[float, float] = (0.08, 0.4)

    # -- helpers a subclass may override ----------------------------------------

    def index_files(self, driver: FormatDriver, path: Path) -> list[Path]:
        files = [p for p in driver.sidecars(path) if p.exists()]
        if driver.is_directory and path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and (p.name.startswith("index") or p.name.endswith(".bdx")):
                    files.append(p)
        return files

    # -- small tools ----------------------------------------------------------------

    @staticmethod
    def _path(driver: FormatDriver, tmp_path: Path, name: str = "box") -> Path:
        return tmp_path / f"{name}.{driver.extension}"

    @staticmethod
    def _open(driver: FormatDriver, path: Path) -> tuple[MailboxStore, MailboxState]:
        store = driver.open(path)
        return store, store.load()

    def _reopen(
        self, driver: FormatDriver, path: Path, store: MailboxStore
    ) -> tuple[MailboxStore, MailboxState]:
        store.close()
        return self._open(driver, path)

    @staticmethod
    def _files(path: Path) -> dict[Path, int]:
        if path.is_dir():
            return {p: p.stat().st_size for p in path.rglob("*") if p.is_file()}
        out = {path: path.stat().st_size} if path.exists() else {}
        for p in path.parent.glob(path.name + ".*"):
            if p.is_file():
                out[p] = p.stat().st_size
        return out

    @staticmethod
    def _assert_sane(state: MailboxState) -> None:
        uids = [r.uid for r in state.records]
        assert uids == sorted(uids), "records are not in UID order"
        assert len(set(uids)) == len(uids), "a UID appears twice"
        assert all(u > 0 for u in uids)
        if uids:
            assert state.uidnext > uids[-1], "uidnext does not exceed the last UID"
        assert state.uidvalidity > 0
        for r in state.records:
            assert r.modseq <= state.highestmodseq or r.modseq == 0

    def _assert_rebuild_agrees(self, driver: FormatDriver, path: Path) -> None:
        """Reopen, then drop every index file and reopen: both opens see the same mailbox."""
        store, first = self._open(driver, path)
        store.close()
        for p in self.index_files(driver, path):
            p.unlink()
        store, second = self._open(driver, path)
        store.close()

        def key(state: MailboxState) -> list[tuple[object, ...]]:
            return [
                (r.uid, r.size, r.internal_date)
                + ((r.flags,) if self.flags_survive_index_loss else ())
                for r in state.records
            ]

        assert key(first) == key(second), "the index disagrees with the data"
        assert second.uidnext >= first.uidnext or second.uidvalidity != first.uidvalidity

    # -- basic round trips ---------------------------------------------------------

    def test_create_and_load_empty(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 1234567)
        assert path.exists()
        assert path.is_dir() == driver.is_directory
        store, state = self._open(driver, path)
        assert state.uidvalidity == 1234567
        assert state.records == []
        assert state.uidnext >= 1
        store.close()

    def test_append_read_roundtrip(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 7)
        store, state = self._open(driver, path)
        msgs = [
            NewMessage(make_message("m1"), frozenset({"\\Seen"}), 1_700_000_000, 1),
            NewMessage(make_message("m2", 5000), frozenset(), 1_700_000_100, 2),
            NewMessage(b"Subject: x\r\n\r\nFrom me\r\n", frozenset({"$Hidden", "Work"}), 3, 3),
            NewMessage(b"Subject: no final newline\r\n\r\nbody", frozenset(), 4, 4),
            NewMessage(make_message("big", 400_000), frozenset({"\\Draft"}), 5, 5),
            NewMessage(b"Subject: binary\r\n\r\n" + bytes(range(256)) + b"\r\n", frozenset(), 6, 6),
        ]
        recs = store.append(msgs)
        assert [r.uid for r in recs] == sorted(r.uid for r in recs)
        assert recs[0].uid >= state.uidnext
        for rec, msg in zip(recs, msgs, strict=True):
            assert rec.size == len(msg.data)
            assert rec.flags == msg.flags
            assert rec.internal_date == msg.internal_date
            assert rec.modseq == msg.modseq
            assert store.read(rec.uid) == msg.data
        store, state = self._reopen(driver, path, store)
        self._assert_sane(state)
        assert [(r.uid, r.flags, r.internal_date, r.size, r.modseq) for r in state.records] == [
            (r.uid, r.flags, r.internal_date, r.size, r.modseq) for r in recs
        ]
        for rec, msg in zip(recs, msgs, strict=True):
            assert store.read(rec.uid) == msg.data
        with pytest.raises(KeyError):
            store.read(recs[-1].uid + 100)
        store.close()

    def test_uids_strictly_increase_across_reopen(
        self, driver: FormatDriver, tmp_path: Path
    ) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 9)
        store, _ = self._open(driver, path)
        seen: list[int] = []
        for i in range(3):
            recs = store.append(
                [NewMessage(make_message(f"u{i}-{j}"), modseq=i + 1) for j in range(3)]
            )
            seen += [r.uid for r in recs]
            store, state = self._reopen(driver, path, store)
            assert [r.uid for r in state.records] == seen
        # expunging the newest message must not let its UID be reused
        store.expunge([seen[-1]], 10)
        store, state = self._reopen(driver, path, store)
        assert state.uidnext > seen[-1]
        (rec,) = store.append([NewMessage(make_message("after"), modseq=11)])
        assert rec.uid > seen[-1]
        assert seen == sorted(set(seen))
        store.close()

    def test_flags_and_modseq_persist(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 11)
        store, _ = self._open(driver, path)
        recs = store.append([NewMessage(make_message(f"f{i}"), modseq=i + 1) for i in range(4)])
        store.set_flags(
            [
                FlagChange(recs[0].uid, frozenset({"\\Seen", "\\Flagged"}), 10),
                FlagChange(recs[2].uid, frozenset({"$Forwarded", "Custom-Kw"}), 10),
            ]
        )
        store.set_flags([FlagChange(recs[0].uid, frozenset({"\\Seen"}), 11)])
        store, state = self._reopen(driver, path, store)
        by_uid = {r.uid: r for r in state.records}
        assert by_uid[recs[0].uid].flags == {"\\Seen"}
        assert by_uid[recs[0].uid].modseq == 11
        assert by_uid[recs[1].uid].flags == frozenset()
        assert by_uid[recs[1].uid].modseq == 2
        assert by_uid[recs[2].uid].flags == {"$Forwarded", "Custom-Kw"}
        assert by_uid[recs[2].uid].modseq == 10
        assert state.highestmodseq >= 11
        store.close()

    def test_expunge_persists(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 12)
        store, _ = self._open(driver, path)
        msgs = [make_message(f"e{i}", 300 * i) for i in range(6)]
        recs = store.append([NewMessage(m, modseq=1) for m in msgs])
        gone = [recs[1].uid, recs[4].uid]
        store.expunge(gone, 5)
        for uid in gone:
            with pytest.raises(KeyError):
                store.read(uid)
        store, state = self._reopen(driver, path, store)
        assert [r.uid for r in state.records] == [r.uid for r in recs if r.uid not in gone]
        assert state.highestmodseq >= 5
        for rec, data in zip(recs, msgs, strict=True):
            if rec.uid not in gone:
                assert store.read(rec.uid) == data
        store.close()

    def test_compact_preserves_everything(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 13)
        store, _ = self._open(driver, path)
        msgs = [make_message(f"c{i}", 2000 * (i % 3)) for i in range(12)]
        recs = store.append(
            [NewMessage(m, frozenset({"\\Seen"}), 100 + i, i + 1) for i, m in enumerate(msgs)]
        )
        store.set_attributes({"Class": "IPF.Note", "x": "y"})
        gone = {recs[i].uid for i in (0, 3, 4, 5, 11)}
        store.expunge(sorted(gone), 20)
        store.set_flags([FlagChange(recs[6].uid, frozenset({"\\Answered"}), 21)])
        store.compact()
        for rec, data in zip(recs, msgs, strict=True):
            if rec.uid not in gone:
                assert store.read(rec.uid) == data
        store, state = self._reopen(driver, path, store)
        self._assert_sane(state)
        assert [r.uid for r in state.records] == [r.uid for r in recs if r.uid not in gone]
        assert state.uidnext > recs[-1].uid
        assert state.attributes.get("Class") == "IPF.Note"
        by_uid = {r.uid: r for r in state.records}
        assert by_uid[recs[6].uid].flags == {"\\Answered"}
        assert by_uid[recs[7].uid].internal_date == 107
        for rec, data in zip(recs, msgs, strict=True):
            if rec.uid not in gone:
                assert store.read(rec.uid) == data
        (new,) = store.append([NewMessage(make_message("post-compact"), modseq=22)])
        assert new.uid > recs[-1].uid
        store.close()

    def test_attributes_persist(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 14)
        store, state = self._open(driver, path)
        assert state.attributes == {}
        attrs = {"Class": "IPF.Appointment", "ACL": "anyone@=lrs", "Locked": "YES"}
        store.set_attributes(attrs)
        store.append([NewMessage(make_message("a1"), modseq=1)])
        store, state = self._reopen(driver, path, store)
        assert state.attributes == attrs
        store.set_attributes({"Class": "IPF.Note"})
        store, state = self._reopen(driver, path, store)
        assert state.attributes == {"Class": "IPF.Note"}
        assert len(state.records) == 1
        store.close()

    def test_cache_is_best_effort(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 15)
        store, _ = self._open(driver, path)
        (rec,) = store.append([NewMessage(make_message("k"), modseq=1)])
        assert store.cache_get(rec.uid, "envelope") in (None,)
        store.cache_put(rec.uid, "envelope", b"(ENV)")
        assert store.cache_get(rec.uid, "envelope") in (None, b"(ENV)")
        got = store.cache_get(rec.uid, "envelope")
        assert store.cache_get_many([rec.uid, rec.uid + 1], "envelope") == (
            {} if got is None else {rec.uid: got}
        )
        store.expunge([rec.uid], 2)
        assert store.cache_get(rec.uid, "envelope") is None
        assert store.cache_get_many([rec.uid], "envelope") == {}
        store.close()

    def test_remove(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 16)
        store, _ = self._open(driver, path)
        store.append([NewMessage(make_message("r"), modseq=1)])
        store.close()
        driver.remove(path)
        assert not path.exists()
        assert not any(p.exists() for p in driver.sidecars(path))

    # -- damage and repair ------------------------------------------------------------

    def _filled(
        self, driver: FormatDriver, tmp_path: Path, n: int = 8
    ) -> tuple[Path, list[tuple[int, bytes, frozenset[str], int]]]:
        path = self._path(driver, tmp_path)
        driver.create(path, 17)
        store, _ = self._open(driver, path)
        msgs = [make_message(f"d{i}", 700 * (i % 4)) for i in range(n)]
        recs = store.append([NewMessage(m, frozenset(), 1000 + i, 1) for i, m in enumerate(msgs)])
        store.set_flags([FlagChange(recs[2].uid, frozenset({"\\Seen", "kw"}), 2)])
        store.expunge([recs[5].uid], 3)
        # a mutation after the last open makes index-keeping drivers write their index
        store.close()
        store, _ = self._open(driver, path)
        store.close()
        flags = {r.uid: r.flags for r in recs}
        flags[recs[2].uid] = frozenset({"\\Seen", "kw"})
        expected = [
            (r.uid, m, flags[r.uid], r.internal_date)
            for r, m in zip(recs, msgs, strict=True)
            if r.uid != recs[5].uid
        ]
        return path, expected

    def _check_expected(
        self,
        driver: FormatDriver,
        path: Path,
        expected: list[tuple[int, bytes, frozenset[str], int]],
        *,
        check_flags: bool,
    ) -> None:
        store, state = self._open(driver, path)
        self._assert_sane(state)
        assert [r.uid for r in state.records] == [e[0] for e in expected]
        for rec, (uid, data, flags, date) in zip(state.records, expected, strict=True):
            assert rec.size == len(data)
            assert rec.internal_date == date
            if check_flags:
                assert rec.flags == flags, f"flags of UID {uid} lost"
            assert store.read(uid) == data
        (new,) = store.append([NewMessage(make_message("after-repair"), modseq=50)])
        assert new.uid > expected[-1][0]
        store.close()
        self._assert_rebuild_agrees(driver, path)

    def test_index_loss_is_recovered(self, driver: FormatDriver, tmp_path: Path) -> None:
        path, expected = self._filled(driver, tmp_path)
        for p in self.index_files(driver, path):
            p.unlink()
        self._check_expected(driver, path, expected, check_flags=self.flags_survive_index_loss)

    def test_index_damage_is_recovered(self, driver: FormatDriver, tmp_path: Path) -> None:
        path, expected = self._filled(driver, tmp_path)
        rnd = random.Random(5)
        files = self.index_files(driver, path)
        for i, p in enumerate(files):
            raw = bytearray(p.read_bytes())
            if i % 2 == 0 and len(raw) > 8:
                del raw[len(raw) // 2 :]  # truncated
            for _ in range(max(1, len(raw) // 16)):
                if raw:
                    raw[rnd.randrange(len(raw))] ^= 0x5A  # scribbled
            p.write_bytes(bytes(raw))
        self._check_expected(driver, path, expected, check_flags=self.flags_survive_index_loss)

    def test_torn_tail_is_repaired(self, driver: FormatDriver, tmp_path: Path) -> None:
        rnd = random.Random(7)
        for trial in range(6):
            path = self._path(driver, tmp_path, f"torn{trial}")
            driver.create(path, 18)
            store, _ = self._open(driver, path)
            kept = [make_message(f"t{trial}-{i}", 1500) for i in range(3)]
            recs = store.append([NewMessage(m, modseq=1) for m in kept])
            store.close()
            store, _ = self._open(driver, path)
            before = self._files(path)
            last = make_message(f"t{trial}-last", 4000)
            store.append([NewMessage(last, modseq=2)])
            store.close()
            after = self._files(path)
            grown = [p for p, size in after.items() if size > before.get(p, 0)]
            assert grown, "an append changed no file"
            for p in grown:
                cut = rnd.randrange(before.get(p, 0), after[p])
                with open(p, "r+b") as f:
                    f.truncate(cut)
            store, state = self._open(driver, path)
            self._assert_sane(state)
            uids = [r.uid for r in state.records]
            assert uids[:3] == [r.uid for r in recs]
            assert len(uids) in (3, 4)
            for rec, data in zip(recs, kept, strict=True):
                assert store.read(rec.uid) == data
            if len(uids) == 4:
                assert store.read(uids[3]) == last
            (new,) = store.append([NewMessage(make_message(f"t{trial}-new"), modseq=3)])
            assert new.uid > recs[-1].uid
            store, state = self._reopen(driver, path, store)
            assert state.records[-1].uid == new.uid
            assert store.read(new.uid) == make_message(f"t{trial}-new")
            store.close()
            self._assert_rebuild_agrees(driver, path)
            store, state = self._open(driver, path)
            assert state.records[-1].uid == new.uid
            assert store.read(new.uid) == make_message(f"t{trial}-new")
            store.close()

    # -- through the mailbox manager ----------------------------------------------------

    def test_manager_two_writers_and_a_reader(self, driver: FormatDriver, tmp_path: Path) -> None:
        """Two sessions append and flag concurrently; a third sees every change as events."""
        import anyio

        from unigate.mailboxes import Appended, Expunged, FlagsChanged, MailboxManager
        from unigate.testing.accounts import StaticAccounts

        user = "kit@kit.test"

        async def main() -> None:
            accounts = StaticAccounts(tmp_path / "accounts")
            accounts.add(user, DefaultMailboxType=driver.extension)
            mgr = MailboxManager({driver.extension: driver}, accounts)
            await mgr.create(user, "Box", user)
            reader = await mgr.open(user, "Box", user=user)
            w1 = await mgr.open(user, "Box", user=user)
            w2 = await mgr.open(user, "Box", user=user)
            sent: dict[int, bytes] = {}

            async def writer(session: object, tag: str) -> None:
                for i in range(12):
                    data = make_message(f"{tag}{i}", 100 * i)
                    if i % 3 == 0:
                        uid = await mgr.deliver(user, "Box", data)
                    else:
                        uid = (await session.append(data)).uid  # type: ignore[attr-defined]
                    sent[uid] = data
                    session.refresh()  # type: ignore[attr-defined]
                    await session.store([uid], ["\\Seen", f"kw{tag}"], "add")  # type: ignore[attr-defined]

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(writer, w1, "a")
                    tg.start_soon(writer, w2, "b")
            events = reader.refresh()
            appended = [r.uid for e in events if isinstance(e, Appended) for r in e.records]
            assert appended == sorted(sent)
            assert any(isinstance(e, FlagsChanged) for e in events)
            assert [r.uid for r in reader.messages()] == sorted(sent)
            for rec in reader.messages():
                assert "\\Seen" in rec.flags
                assert await reader.read(rec.uid) == sent[rec.uid]
            victims = sorted(sent)[::4]
            w1.refresh()
            await w1.store(victims, ["\\Deleted"], "add")
            await w1.expunge()
            (ev,) = [e for e in reader.refresh() if isinstance(e, Expunged)]
            assert sorted(ev.uids) == victims
            high = reader.highestmodseq
            for s in (reader, w1, w2):
                await s.close()
            await mgr.aclose()
            again = MailboxManager({driver.extension: driver}, accounts)
            async with await again.open(user, "Box", user=user) as box:
                assert [r.uid for r in box.messages()] == [
                    u for u in sorted(sent) if u not in victims
                ]
                assert box.highestmodseq >= high
                for rec in box.messages():
                    assert await box.read(rec.uid) == sent[rec.uid]
            await again.aclose()

        anyio.run(main)

    def test_manager_rename_and_delete(self, driver: FormatDriver, tmp_path: Path) -> None:
        """Rename moves the mailbox with its sidecars; delete leaves nothing behind."""
        import anyio

        from unigate.mailboxes import MailboxManager
        from unigate.testing.accounts import StaticAccounts

        user = "kit@kit.test"

        async def main() -> None:
            accounts = StaticAccounts(tmp_path / "accounts")
            accounts.add(user, DefaultMailboxType=driver.extension)
            root = accounts.account_path(user)
            assert root is not None
            mgr = MailboxManager({driver.extension: driver}, accounts)
            await mgr.create(user, "Old", user)
            sent: dict[int, bytes] = {}
            seen: set[int] = set()
            for i in range(30):
                data = make_message(f"r{i}", 500 * (i % 7))
                uid = await mgr.deliver(user, "Old", data, ["\\Seen"] if i % 2 else [])
                sent[uid] = data
                if i % 2:
                    seen.add(uid)
            async with await mgr.open(user, "Old", user=user) as box:
                await box.store(list(sent)[:5], ["\\Deleted"], "add")
                await box.expunge()
            await mgr.aclose()
            await mgr.rename(user, "Old", "New/Inner", user)
            leftovers = [p.name for p in root.iterdir() if p.name.startswith("Old.")]
            assert leftovers == [], f"files left behind by rename: {leftovers}"
            async with await mgr.open(user, "New/Inner", user=user) as box:
                assert [r.uid for r in box.messages()] == list(sent)[5:]
                for rec in box.messages():
                    assert await box.read(rec.uid) == sent[rec.uid]
                    assert ("\\Seen" in rec.flags) == (rec.uid in seen)
            await mgr.delete(user, "New", user, recursive=True)
            names = sorted(p.name for p in root.iterdir())
            assert names == ["INBOX." + driver.extension, "account.mailboxes"] or names == [
                "INBOX." + driver.extension
            ], names
            await mgr.aclose()

        anyio.run(main)

    # -- crash injection --------------------------------------------------------------

    def _run_child(self, body: Callable[[Callable[[str], None]], None], window: float) -> list[str]:
        """Fork a child that runs ``body(report)``; SIGKILL it after ``window`` seconds.

        ``report(line)`` writes one line to the parent only after the operation it
        describes has returned in the child. Returns the lines received.
        """
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(rfd)

                def report(line: str) -> None:
                    os.write(wfd, (line + "\n").encode())

                body(report)
            except BaseException:  # noqa: BLE001 - reported to the parent through the pipe
                import traceback

                code = 1
                text = traceback.format_exc().replace("\n", "\\n")
                os.write(wfd, ("!" + text + "\n").encode())
            finally:
                os._exit(code)
        os.close(wfd)
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.005)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        chunks = []
        while chunk := os.read(rfd, 65536):
            chunks.append(chunk)
        os.close(rfd)
        text = b"".join(chunks).decode()
        # a line cut by the kill (no newline yet) was never fully reported
        lines = text.split("\n")[:-1]
        for line in lines:
            if line.startswith("!"):
                raise AssertionError("the child failed:\n" + line[1:].replace("\\n", "\n"))
        return lines

    def test_crash_during_appends(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 19)
        rnd = random.Random(11)
        acked: dict[str, int] = {}
        for rnd_no in range(self.crash_rounds):
            seed = rnd.randrange(1 << 30)

            def body(report: Callable[[str], None], seed: int = seed, rnd_no: int = rnd_no) -> None:
                r = random.Random(seed)
                store = driver.open(path)
                store.load()
                i = 0
                while True:
                    batch = [f"c{rnd_no}-{i + k}" for k in range(r.choice((1, 1, 2, 5)))]
                    i += len(batch)
                    recs = store.append(
                        [
                            NewMessage(make_message(m, r.choice((0, 200, 3000, 40000))), modseq=1)
                            for m in batch
                        ]
                    )
                    report(json.dumps([[m, rec.uid] for m, rec in zip(batch, recs, strict=True)]))

            lines = self._run_child(body, rnd.uniform(*self.crash_window))
            for line in lines:
                for marker, uid in json.loads(line):
                    acked[marker] = uid
            store, state = self._open(driver, path)
            self._assert_sane(state)
            found: dict[str, int] = {}
            for rec in state.records:
                data = store.read(rec.uid)
                marker = _marker_of(data)
                assert marker not in found, f"message {marker} stored twice"
                found[marker] = rec.uid
                size = len(data)
                assert rec.size == size
                assert data in (make_message(marker, s) for s in (0, 200, 3000, 40000)), (
                    f"message {marker} is corrupt"
                )
            for marker, uid in acked.items():
                assert found.get(marker) == uid, f"acknowledged append {marker} (UID {uid}) lost"
            store.close()
            self._assert_rebuild_agrees(driver, path)
        assert acked, "the child never completed an append: widen crash_window"

    def test_crash_during_expunge_and_compact(self, driver: FormatDriver, tmp_path: Path) -> None:
        path = self._path(driver, tmp_path)
        driver.create(path, 20)
        store, _ = self._open(driver, path)
        originals: dict[str, bytes] = {}
        prepopulated: set[int] = set()
        for chunk in range(4):
            names = [f"p{chunk}-{i}" for i in range(15)]
            for n in names:
                originals[n] = make_message(n, 500 * (len(originals) % 5))
            recs = store.append([NewMessage(originals[n], modseq=1) for n in names])
            prepopulated |= {r.uid for r in recs}
        store.close()
        rnd = random.Random(13)
        expunged: set[int] = set()
        appended: dict[str, int] = {}
        for rnd_no in range(self.crash_rounds):
            seed = rnd.randrange(1 << 30)

            def body(report: Callable[[str], None], seed: int = seed, rnd_no: int = rnd_no) -> None:
                r = random.Random(seed)
                st = driver.open(path)
                state = st.load()
                live = [x.uid for x in state.records]
                modseq = state.highestmodseq + 1
                step = 0
                while True:
                    step += 1
                    op = r.random()
                    if op < 0.5 and len(live) > 5:
                        victims = sorted(r.sample(live, r.randint(1, 3)))
                        report(json.dumps(["intent", victims]))
                        st.expunge(victims, modseq)
                        live = [u for u in live if u not in victims]
                        report(json.dumps(["expunged", victims]))
                    elif op < 0.8:
                        marker = f"n{rnd_no}-{step}"
                        (rec,) = st.append([NewMessage(make_message(marker, 900), modseq=modseq)])
                        live.append(rec.uid)
                        report(json.dumps(["appended", marker, rec.uid]))
                    else:
                        st.compact()
                        report(json.dumps(["compacted"]))
                    modseq += 1

            lines = self._run_child(body, rnd.uniform(*self.crash_window))
            in_flight: set[int] = set()
            for line in lines:
                kind, *args = json.loads(line)
                if kind == "intent":
                    in_flight = set(args[0])
                elif kind == "expunged":
                    expunged |= set(args[0])
                    in_flight = set()
                elif kind == "appended":
                    appended[args[0]] = args[1]
                    originals[args[0]] = make_message(args[0], 900)
            store, state = self._open(driver, path)
            self._assert_sane(state)
            present = {r.uid for r in state.records}
            assert not (present & expunged), "an acknowledged expunge came back"
            seen: set[str] = set()
            for rec in state.records:
                data = store.read(rec.uid)
                marker = _marker_of(data)
                assert marker not in seen, f"message {marker} stored twice"
                seen.add(marker)
                expected = originals.get(marker, make_message(marker, 900))
                assert data == expected, f"message {marker} is corrupt"
                assert rec.size == len(data)
            for marker, uid in appended.items():
                if uid not in expunged and uid not in in_flight:
                    assert uid in present, f"acknowledged append {marker} lost"
            # every message nobody tried to expunge is still there
            vanished = prepopulated - present - expunged - in_flight
            assert not vanished, f"messages vanished: {sorted(vanished)}"
            expunged |= in_flight - present
            store.close()
            self._assert_rebuild_agrees(driver, path)
