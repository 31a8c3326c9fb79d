"""The text store: round trips, reopen, flags in place, expunge, index, repair."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_hookspecs.storage import FlagChange, NewMessage
from unigate_storage_text import store as store_mod
from unigate_storage_text.driver import TextDriver
from unigate_storage_text.store import TextStore

#: messages that exercise every escaping and framing edge
EDGE_MESSAGES: list[bytes] = [
    b"Subject: a\r\n\r\nhello\r\n\r\nFrom me\r\n",
    b"x\n\n>From y\n\nFrom",
    b"",
    b"\n",
    b"\nFrom z\n",
    b"From the start\n\nFrom\n",
    b"no final newline",
    b"ends with cr\r",
    b"a\n\n\n\n",
    b"Return-Path: <bounce@example.org>\r\nSubject: b\r\n\r\n>>From\r\n",
]


def _fill(driver: TextDriver, path: Path, messages: list[bytes], batch: int = 3) -> TextStore:
    s = driver.open(path)
    assert isinstance(s, TextStore)
    s.load()
    for i in range(0, len(messages), batch):
        s.append(
            [
                NewMessage(m, frozenset({"\\Seen"}), 1700000000 + j, 5)
                for j, m in enumerate(messages[i : i + batch])
            ]
        )
    return s


def test_empty_mailbox(driver: TextDriver, mbox: Path) -> None:
    st = driver.open(mbox).load()
    assert (st.uidvalidity, st.uidnext, st.highestmodseq, st.records, st.warnings) == (
        1234,
        1,
        0,
        [],
        [],
    )


def test_round_trip_and_reopen(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES)
    for uid, m in enumerate(EDGE_MESSAGES, 1):
        assert s.read(uid) == m
    s.close()
    s2 = driver.open(mbox)
    st = s2.load()
    assert st.warnings == []
    assert [r.uid for r in st.records] == list(range(1, len(EDGE_MESSAGES) + 1))
    assert [r.size for r in st.records] == [len(m) for m in EDGE_MESSAGES]
    assert all(r.flags == {"\\Seen"} and r.modseq == 5 for r in st.records)
    assert [r.internal_date for r in st.records][:3] == [1700000000, 1700000001, 1700000002]
    for uid, m in enumerate(EDGE_MESSAGES, 1):
        assert s2.read(uid) == m
    assert st.uidnext == len(EDGE_MESSAGES) + 1
    with pytest.raises(KeyError):
        s2.read(999)


def test_return_path_goes_into_the_from_line(driver: TextDriver, mbox: Path) -> None:
    _fill(driver, mbox, EDGE_MESSAGES).close()
    assert b"\nFrom <bounce@example.org>(" in mbox.read_bytes()


def _header_on_disk(path: Path) -> tuple[int, int]:
    """(uidnext, highestmodseq) as the header message in the file says."""
    head = path.read_bytes()[:2048]
    found = [re.search(rb'"%s": (\d+)' % key, head) for key in (b"uidnext", b"highestmodseq")]
    assert found[0] and found[1]
    return int(found[0][1]), int(found[1][1])


def test_append_leaves_the_header_and_an_open_reads_uids_from_the_from_lines(
    driver: TextDriver, mbox: Path
) -> None:
    """An append flushes one place: the header catches up at close, and an open after a
    kill (no close) takes UIDNEXT/HIGHESTMODSEQ from the From-lines; an expunged top
    UID is never given out again."""
    writer = _fill(driver, mbox, EDGE_MESSAGES[:4], batch=2)  # UIDs 1-4, MODSEQ 5
    assert _header_on_disk(mbox) == (1, 0)  # not rewritten by the appends
    killed = driver.open(mbox).load()  # as after kill -9: the writer never closed
    assert (killed.uidnext, killed.highestmodseq) == (5, 5)
    writer.close()
    assert _header_on_disk(mbox) == (5, 5)
    s = driver.open(mbox)
    s.load()
    s.expunge([4], 6)
    s.append([NewMessage(b"Subject: next\r\n\r\n", frozenset(), 1700000100, 7)])
    s.close()
    again = driver.open(mbox).load()
    assert [r.uid for r in again.records] == [1, 2, 3, 5]
    assert (again.uidnext, again.highestmodseq) == (6, 7)


def test_flags_rewritten_in_place(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:4])
    size = mbox.stat().st_size
    s.set_flags([FlagChange(2, frozenset({"\\Flagged", "$Forwarded", "Work"}), 40)])
    assert mbox.stat().st_size == size
    s.close()
    st = driver.open(mbox).load()
    rec = {r.uid: r for r in st.records}
    assert rec[2].flags == {"\\Flagged", "$Forwarded", "Work"} and rec[2].modseq == 40
    assert rec[1].flags == {"\\Seen"}
    assert st.highestmodseq == 40


def test_flag_overflow_rewrites_the_file(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:3])
    many = frozenset(f"keyword{i}" for i in range(30))
    s.set_flags([FlagChange(1, many, 9)])
    assert s.read(1) == EDGE_MESSAGES[0] and s.read(3) == EDGE_MESSAGES[2]
    s.close()
    st = driver.open(mbox).load()
    assert st.records[0].flags == many


def test_expunge_compacts_and_keeps_uidnext(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES)
    before = mbox.stat().st_size
    s.expunge([2, 5, len(EDGE_MESSAGES)], 77)
    assert mbox.stat().st_size < before
    with pytest.raises(KeyError):
        s.read(2)
    s.close()
    s2 = driver.open(mbox)
    st = s2.load()
    uids = [r.uid for r in st.records]
    assert uids == [
        u for u in range(1, len(EDGE_MESSAGES) + 1) if u not in (2, 5, len(EDGE_MESSAGES))
    ]
    assert st.uidnext == len(EDGE_MESSAGES) + 1 and st.highestmodseq == 77
    for u in uids:
        assert s2.read(u) == EDGE_MESSAGES[u - 1]
    assert s2.append([NewMessage(b"new\n")])[0].uid == len(EDGE_MESSAGES) + 1


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_rewrite_moves_current_lines_and_remakes_stale_ones(
    driver: TextDriver, mbox: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    from unigate import durable

    monkeypatch.setattr(
        durable, "_HAS_COPY_FILE_RANGE", kernel_copy and durable._HAS_COPY_FILE_RANGE
    )
    s = _fill(driver, mbox, EDGE_MESSAGES)
    s.set_flags([FlagChange(4, frozenset({"\\Answered"}), 20)])  # in place: line current
    many = frozenset(f"keyword{i}" for i in range(30))
    # one change fits, one overflows: the call rewrites, both lines must be made anew
    s.set_flags([FlagChange(6, frozenset({"\\Draft"}), 21), FlagChange(7, many, 21)])
    line_of_4 = mbox.read_bytes().split(b"\n")
    kept_line = next(x for x in line_of_4 if b"-4-)" in x)
    s.expunge([1, 9], 22)
    assert kept_line in mbox.read_bytes().split(b"\n")  # moved byte for byte
    s.close()
    s2 = driver.open(mbox)
    st = s2.load()
    rec = {r.uid: r for r in st.records}
    assert sorted(rec) == [u for u in range(1, len(EDGE_MESSAGES) + 1) if u not in (1, 9)]
    assert rec[4].flags == {"\\Answered"} and rec[4].modseq == 20
    assert rec[6].flags == {"\\Draft"} and rec[7].flags == many and rec[7].modseq == 21
    assert rec[2].flags == {"\\Seen"}
    assert all(s2.read(u) == EDGE_MESSAGES[u - 1] for u in rec)


def test_close_indexes_what_was_appended(tmp_path: Path) -> None:
    driver = TextDriver(index_threshold=1000)
    path = tmp_path / "grown.mbox"
    driver.create(path, 5)
    _fill(driver, path, [b"Subject: %d\n\n" % i + b"x" * 200 + b"\n" for i in range(30)]).close()
    s = driver.open(path)
    assert isinstance(s, TextStore)
    assert len(s.load().records) == 30 and s._index_state == "clean"
    s.append([NewMessage(b"one more\n")])
    s.close()
    s = driver.open(path)
    assert isinstance(s, TextStore)
    assert len(s.load().records) == 31 and s._indexed_size == path.stat().st_size


def test_attributes_in_place_and_grown(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:2])
    size = mbox.stat().st_size
    s.set_attributes({"class": "Calendar", "acl": "anyone lr"})
    assert mbox.stat().st_size == size
    s.set_attributes({"big": "x" * 5000})
    assert s.read(2) == EDGE_MESSAGES[1]
    s.close()
    assert driver.open(mbox).load().attributes == {"big": "x" * 5000}


def test_manual_example_reads_back(tmp_path: Path, driver: TextDriver) -> None:
    path = tmp_path / "hand.mbox"
    path.write_bytes(
        b"From <>(SA-12-) Wed Nov 25 11:14:52 2026\n"
        b"Subject: one\n\nbody one\n\n"
        b"From <john@example.com>(F-13-7) Thu Nov 26 08:00:00 2026\n"
        b"Subject: two\n\n>From the past\n\n"
        b"From <>(-20-) Fri Nov 27 09:30:00 2026\n"
        b"Subject: three\n\nlast\n"
    )
    s = driver.open(path)
    st = s.load()
    assert [(r.uid, set(r.flags)) for r in st.records] == [
        (12, {"\\Seen", "\\Answered"}),
        (13, {"\\Flagged"}),
        (20, set()),
    ]
    assert st.records[0].internal_date == 1795605292
    assert s.read(12) == b"Subject: one\n\nbody one\n"
    assert s.read(13) == b"Subject: two\n\nFrom the past\n"
    assert s.read(20) == b"Subject: three\n\nlast\n"
    assert st.uidnext == 21
    assert any("header" in w for w in st.warnings)
    s.set_flags([FlagChange(20, frozenset({"\\Seen"}), 3)])
    s.close()
    s2 = driver.open(path)
    st2 = s2.load()
    assert [(r.uid, set(r.flags)) for r in st2.records][2] == (20, {"\\Seen"})
    assert s2.read(13) == b"Subject: two\n\nFrom the past\n"
    assert st2.warnings == []


def test_legacy_mbox(tmp_path: Path, driver: TextDriver) -> None:
    path = tmp_path / "old.mbox"
    legacy = (
        b"From alice@example.com Fri Jul  8 12:08:34 2011\n"
        b"Subject: old one\n\nhi\n\n"
        b"From bob@example.com Sat Jul  9 10:00:00 2011\n"
        b"Subject: old two\n\n>From here\nbye\n"
    )
    path.write_bytes(legacy)
    s = driver.open(path)
    st = s.load()
    assert [r.uid for r in st.records] == [1, 2]
    assert all(r.flags == frozenset() for r in st.records)
    assert st.records[0].internal_date == 1310126914
    assert any("legacy" in w for w in st.warnings)
    assert s.read(1) == b"Subject: old one\n\nhi\n"
    assert path.read_bytes() == legacy  # reading changes nothing
    s.set_flags([FlagChange(2, frozenset({"\\Seen"}), 1)])  # the first change converts
    s.close()
    s2 = driver.open(path)
    st2 = s2.load()
    assert st2.warnings == []
    assert [(r.uid, set(r.flags)) for r in st2.records] == [(1, set()), (2, {"\\Seen"})]
    assert s2.read(1) == b"Subject: old one\n\nhi\n"
    assert path.read_bytes().startswith(b"From <>(=mailbox+")


def test_legacy_append_by_local_mailer(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:2])
    s.close()
    with open(mbox, "ab") as f:
        f.write(b"From carol@example.com Sat Jul  9 10:00:00 2011\nSubject: local\n\nhi\n\n")
    s2 = driver.open(mbox)
    st = s2.load()
    assert [r.uid for r in st.records] == [1, 2, 3]
    assert s2.read(3) == b"Subject: local\n\nhi\n"
    s2.append([NewMessage(b"four\n")])
    s2.close()
    st3 = driver.open(mbox).load()
    assert [r.uid for r in st3.records] == [1, 2, 3, 4] and st3.warnings == []


def _message_spans(path: Path, store: TextStore) -> dict[int, int]:
    """uid -> file offset where the message's record (From-line to separator) ends."""
    return {e.uid: e.body_off + e.stored_len for e in store._entries}


def test_truncation_at_any_offset_keeps_complete_messages(
    tmp_path: Path, driver: TextDriver
) -> None:
    src = tmp_path / "src.mbox"
    driver.create(src, 9)
    s = _fill(driver, src, EDGE_MESSAGES, batch=2)
    ends = _message_spans(src, s)
    s.close()
    full = src.read_bytes()
    header_end = min(e.line_off for e in s._entries)
    for cut in range(header_end, len(full), 7):
        path = tmp_path / f"cut{cut}.mbox"
        path.write_bytes(full[:cut])
        t = driver.open(path)
        st = t.load()
        expect = [u for u, end in ends.items() if end <= cut]
        assert [r.uid for r in st.records] == expect, cut
        for u in expect:
            assert t.read(u) == EDGE_MESSAGES[u - 1]
        t.append([NewMessage(b"after repair\n")])
        t.close()
        t2 = driver.open(path)
        st2 = t2.load()
        assert [r.uid for r in st2.records] == [*expect, len(EDGE_MESSAGES) + 1]
        assert t2.read(st2.records[-1].uid) == b"after repair\n"
        t2.close()
        path.unlink()
        path.with_name(path.name + ".bdx").unlink(missing_ok=True)


def test_index_is_used_and_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = TextDriver(index_threshold=1000)
    path = tmp_path / "big.mbox"
    driver.create(path, 5)
    msgs = [b"Subject: %d\n\n" % i + b"x" * 200 + b"\n" for i in range(30)]
    s = _fill(driver, path, msgs, batch=10)
    s.close()
    s = driver.open(path)
    s.load()  # writes the index (file above the threshold)
    s.close()
    bdx_path = path.with_name("big.mbox.bdx")
    assert bdx_path.exists() and driver.sidecars(path) == [bdx_path]
    scanned: list[int] = []
    real_scan = TextStore._scan

    def counting_scan(self: TextStore, data: bytes, start: int, warnings: list[str]):  # type: ignore[no-untyped-def]
        scanned.append(max(0, len(data) - start))
        return real_scan(self, data, start, warnings)

    monkeypatch.setattr(TextStore, "_scan", counting_scan)
    s = driver.open(path)
    st = s.load()
    assert scanned == [0] and len(st.records) == 30
    s.append([NewMessage(b"tail one\n")])  # index still covers the prefix
    s.set_flags([FlagChange(3, frozenset({"\\Deleted"}), 50)])  # marks the index dirty
    s.close.__func__  # noqa: B018 - no close: simulate a kill
    scanned.clear()
    s2 = driver.open(path)
    st2 = s2.load()
    assert scanned and scanned[0] > 5000  # dirty index: full parse
    assert {r.uid: r.flags for r in st2.records}[3] == {"\\Deleted"}
    assert s2.read(31) == b"tail one\n"
    s2.close()
    scanned.clear()
    s3 = driver.open(path)
    assert len(s3.load().records) == 31 and scanned == [0]
    s3.expunge(list(range(1, 31)), 60)  # shrinks below the threshold: index removed
    assert not bdx_path.exists()
    s3.close()


def test_damaged_index_is_ignored(tmp_path: Path) -> None:
    driver = TextDriver(index_threshold=100)
    path = tmp_path / "i.mbox"
    driver.create(path, 5)
    s = _fill(driver, path, EDGE_MESSAGES)
    s.set_flags([FlagChange(1, frozenset(), 8)])
    s.close()
    bdx_path = path.with_name("i.mbox.bdx")
    raw = bytearray(bdx_path.read_bytes())
    bdx_path.write_bytes(bytes(raw[:-3]))
    st = driver.open(path).load()
    assert len(st.records) == len(EDGE_MESSAGES) and st.records[0].flags == frozenset()


def test_create_refuses_existing(mbox: Path, driver: TextDriver) -> None:
    with pytest.raises(FileExistsError):
        driver.create(mbox, 1)


def test_remove_takes_the_index(tmp_path: Path) -> None:
    driver = TextDriver(index_threshold=10)
    path = tmp_path / "r.mbox"
    driver.create(path, 1)
    _fill(driver, path, EDGE_MESSAGES).close()
    driver.open(path).load()
    shutil.copy(path, tmp_path / "other.mbox")
    driver.remove(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.mbox"]


def test_plugin_hook() -> None:
    from unigate_storage_text import plugin

    drivers = plugin.unigate_storage_formats()
    assert [d.extension for d in drivers] == ["mbox"] and not drivers[0].is_directory
    assert store_mod.DEFAULT_INDEX_THRESHOLD == 300 * 1024


def test_flag_change_after_indexed_open_keeps_return_path(tmp_path: Path) -> None:
    driver = TextDriver(index_threshold=100)
    path = tmp_path / "rp.mbox"
    driver.create(path, 5)
    _fill(driver, path, EDGE_MESSAGES).close()
    s = driver.open(path)
    s.load()  # writes the index
    s.close()
    s = driver.open(path)
    s.load()  # entries come from the index
    s.set_flags([FlagChange(10, frozenset({"\\Seen"}), 9)])
    s.close()
    assert b"\nFrom <bounce@example.org>(S__" in path.read_bytes()


_LINES = [b"From x", b">From", b">>From y", b"", b"\r", b"a", b"From", b"Fro", b" From"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(_LINES), max_size=8),
            st.sampled_from([b"\n", b"\r\n"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_message_reads_back_exactly(specs: list[tuple[list[bytes], bytes, bool]]) -> None:
    messages = [eol.join(lines) + (eol if final else b"") for lines, eol, final in specs]
    with tempfile.TemporaryDirectory() as tmp:
        driver = TextDriver(index_threshold=64)
        path = Path(tmp) / "h.mbox"
        driver.create(path, 3)
        s = driver.open(path)
        s.load()
        s.append([NewMessage(m) for m in messages])
        s.close()
        s = driver.open(path)
        state = s.load()
        assert state.warnings == []
        assert [r.size for r in state.records] == [len(m) for m in messages]
        assert [s.read(r.uid) for r in state.records] == messages
        s.expunge([state.records[0].uid], 2)
        assert [s.read(r.uid) for r in state.records[1:]] == messages[1:]
        s.close()


def test_local_mailer_appends_while_open(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:2])
    with open(mbox, "ab") as f:
        f.write(b"From dave@example.com Sat Jul  9 10:00:00 2011\nSubject: local\n\nhi\n\n")
    (rec,) = s.append([NewMessage(b"ours\n")])
    s.close()
    s2 = driver.open(mbox)
    st = s2.load()
    assert st.warnings == []
    assert [r.uid for r in st.records] == [1, 2, 3, rec.uid] and rec.uid == 4
    assert s2.read(3) == b"Subject: local\n\nhi\n" and s2.read(4) == b"ours\n"


def test_local_mailer_append_survives_expunge(driver: TextDriver, mbox: Path) -> None:
    s = _fill(driver, mbox, EDGE_MESSAGES[:3])
    with open(mbox, "ab") as f:
        f.write(b"From erin@example.com Sat Jul  9 10:00:00 2011\nSubject: local\n\nhi\n\n")
    s.expunge([2], 5)
    s.close()
    s2 = driver.open(mbox)
    st = s2.load()
    assert [r.uid for r in st.records] == [1, 3, 4]
    assert s2.read(4) == b"Subject: local\n\nhi\n"
