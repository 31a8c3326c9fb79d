"""The sliced store: layout, reopen, journal replay, rebuild, adoption, compaction."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from unigate_hookspecs.storage import FlagChange, MailboxState, NewMessage
from unigate_storage_sliced import changelog, frames, indexfile, layout
from unigate_storage_sliced.driver import SlicedDriver
from unigate_storage_sliced.flagcodec import FlagCodec
from unigate_storage_sliced.store import SlicedStore


def _msg(i: int, size: int = 600) -> bytes:
    head = b"Subject: message %d\r\n\r\n" % i
    return head + (b"line %d\r\n" % i) * max(1, (size - len(head)) // 9)


def _box(tmp_path: Path, max_file_size: int = 4096, name: str = "box") -> tuple[SlicedDriver, Path]:
    driver = SlicedDriver(max_file_size=max_file_size)
    path = tmp_path / f"{name}.mslc"
    driver.create(path, 4242)
    return driver, path


def _open(driver: SlicedDriver, path: Path) -> tuple[SlicedStore, MailboxState]:
    s = driver.open(path)
    assert isinstance(s, SlicedStore)
    return s, s.load()


def _fill(driver: SlicedDriver, path: Path, n: int, batch: int = 4) -> SlicedStore:
    s, _ = _open(driver, path)
    for i in range(0, n, batch):
        s.append(
            [
                NewMessage(_msg(j), frozenset({"\\Seen"}) if j % 2 else frozenset(), 1000 + j, 1)
                for j in range(i, min(n, i + batch))
            ]
        )
    return s


def _key(st: MailboxState) -> list[tuple[object, ...]]:
    return [(r.uid, r.flags, r.internal_date, r.size, r.modseq) for r in st.records]


def test_layout_constants() -> None:
    assert layout.RECORD.size == 64
    assert layout.INDEX_HEADER.size <= layout.HEADER_SIZE
    assert layout.FRAME.size == layout.FRAME_PREFIX.size + 4
    assert layout.data_name(7) == "data0007" and layout.parse_data_name("data0007") == 7
    assert layout.parse_data_name("data12345") == 12345
    assert layout.parse_data_name("index.bdx") is None


def test_frame_scan_skips_corruption() -> None:
    a, _ = frames.frame(1, 1, ["Work"], 5, 6, b"hello")
    b, _ = frames.frame(2, 0, [], 5, 7, b"world!")
    data = b"H" * 32 + a + b"hello" + b"garbage" + b + b"world!" + b"UGM1torn"
    found, good_end, skipped = frames.scan(data, 32)
    assert [(f.uid, f.keywords, f.length) for f in found] == [(1, ["Work"], 5), (2, [], 6)]
    assert data[found[1].body_offset : found[1].body_offset + 6] == b"world!"
    assert good_end == len(data) - 8 and skipped == 7
    bad = bytearray(data)
    bad[32 + len(a) + 1] ^= 1  # body of frame 1 damaged: only frame 2 survives
    found, _, _ = frames.scan(bytes(bad), 32)
    assert [f.uid for f in found] == [2]


def test_flag_codec() -> None:
    c = FlagCodec()
    sysbits, kwbits, new = c.encode(frozenset({"\\Seen", "Junk", "Work", "$Media"}))
    assert sysbits == 1 | (1 << 9) | (1 << 10) and kwbits == 1 and new == [(0, "Work")]
    assert c.decode(sysbits, kwbits) == {"\\Seen", "Junk", "Work", "$Media"}
    assert c.encode(frozenset({"work"}))[1:] == (1, [])  # case-insensitive
    assert c.decode_many([1, 0], [0, 0]) == [frozenset({"\\Seen"}), frozenset()]
    with pytest.raises(ValueError):
        c.encode(frozenset(f"k{i}" for i in range(70)))


def test_journal_decode_stops_at_torn_entry() -> None:
    raw = layout.LOG_HEADER.pack(layout.LOG_MAGIC, layout.VERSION, 3)
    raw += changelog.flags_entry([(1, 2, 0, 9)]) + changelog.expunge_entry([4, 5], 10)
    good = len(raw)
    raw += changelog.keyword_entry(0, "Work")[:-2]
    gen, ops, end = changelog.decode(raw)
    assert gen == 3 and end == good
    assert ops == [(layout.OP_FLAGS, [(1, 2, 0, 9)]), (layout.OP_EXPUNGE, (10, [4, 5]))]


def test_round_trip_rolls_data_files(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 20)
    assert len([n for n in os.listdir(path) if n.startswith("data")]) >= 3
    for uid in range(1, 21):
        assert s.read(uid) == _msg(uid - 1)
    s.close()
    s, st = _open(driver, path)
    assert st.warnings == [] and st.uidvalidity == 4242 and st.uidnext == 21
    assert [r.uid for r in st.records] == list(range(1, 21))
    assert st.records[1].flags == {"\\Seen"} and st.records[0].flags == frozenset()
    assert all(s.read(u) == _msg(u - 1) for u in range(1, 21))


def test_big_message_gets_its_own_file(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=1000)
    s, _ = _open(driver, path)
    recs = s.append([NewMessage(_msg(0, 300)), NewMessage(_msg(1, 5000)), NewMessage(_msg(2, 300))])
    assert [s.read(r.uid) for r in recs] == [_msg(0, 300), _msg(1, 5000), _msg(2, 300)]
    assert sorted(n for n in os.listdir(path) if n.startswith("data")) == [
        "data0001",
        "data0002",
        "data0003",
    ]


def test_open_does_not_read_data_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    driver, path = _box(tmp_path)
    _fill(driver, path, 12).close()
    calls: list[object] = []
    monkeypatch.setattr(frames, "scan", lambda *a: calls.append(a) or ([], 0, 0))
    _s, st = _open(driver, path)
    assert len(st.records) == 12 and calls == []


def test_journal_replay_flags_keywords_expunge(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 10)
    s.set_flags([FlagChange(3, frozenset({"\\Flagged", "Project-X"}), 5)])
    s.set_flags(
        [FlagChange(3, frozenset({"Project-X", "Later"}), 6), FlagChange(4, frozenset(), 6)]
    )
    s.expunge([2, 9, 777], 7)
    with pytest.raises(KeyError):
        s.read(2)
    s.close()
    s, st = _open(driver, path)
    by = {r.uid: r for r in st.records}
    assert 2 not in by and 9 not in by and len(by) == 8
    assert by[3].flags == {"Project-X", "Later"} and by[3].modseq == 6
    assert by[4].flags == frozenset() and st.highestmodseq == 7
    s.append([NewMessage(b"kw\r\n", frozenset({"Later", "Fresh"}), 1, 8)])
    s.close()
    s, st2 = _open(driver, path)
    assert st2.records[-1].flags == {"Later", "Fresh"}


def test_rebuild_matches_fast_open(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 15)
    s.set_flags([FlagChange(5, frozenset({"Tag"}), 3)])
    s.expunge([7], 4)
    s.close()
    _s, good = _open(driver, path)
    _s.close()
    for damage in ("delete", "truncate", "flip"):
        idx = path / "index.bdx"
        if damage == "delete":
            idx.unlink()
        elif damage == "truncate":
            idx.write_bytes(idx.read_bytes()[:-10])
        else:
            raw = bytearray(idx.read_bytes())
            raw[layout.RECORDS_OFFSET + 70] ^= 0xFF
            idx.write_bytes(bytes(raw))
        s, st = _open(driver, path)
        assert any("rebuilt" in w for w in st.warnings)
        assert _key(st) == _key(good) and st.uidnext == good.uidnext
        assert all(s.read(r.uid) == _msg(r.uid - 1) for r in st.records)
        s.close()
        _s, again = _open(driver, path)
        assert again.warnings == [] and _key(again) == _key(good)
        _s.close()


def test_crash_between_data_and_index_adopts_frames(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=2500)
    s = _fill(driver, path, 3)
    s.close()
    saved = (path / "index.bdx").read_bytes()
    s, _ = _open(driver, path)
    s.append([NewMessage(_msg(i)) for i in range(3, 9)])  # rolls into new files
    s.close()
    (path / "index.bdx").write_bytes(saved)  # as if the index write never happened
    s, st = _open(driver, path)
    assert [r.uid for r in st.records] == list(range(1, 10))
    assert any("adopted" in w for w in st.warnings)
    assert all(s.read(u) == _msg(u - 1) for u in range(1, 10))
    s.close()
    _s, st2 = _open(driver, path)
    assert st2.warnings == [] and len(st2.records) == 9


def test_appends_past_the_checkpoint_survive_a_kill(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=8192)
    _fill(driver, path, 10).close()  # close checkpoints the index
    s, _ = _open(driver, path)
    s.set_flags([FlagChange(1, frozenset({"Other"}), 2)])  # keyword id 0, in the journal
    recs = s.append(
        [
            NewMessage(_msg(i), frozenset({"Later"}) if i % 2 else frozenset(), 2000 + i, 3)
            for i in range(10, 30)
        ]
    )  # keyword id 1; durable, but the index still ends at message 10
    header, _rows = indexfile.read(path / "index.bdx") or (None, None)
    assert header is not None and header.count == 10
    s.set_flags([FlagChange(recs[0].uid, frozenset({"\\Flagged", "Other"}), 4)])
    s.expunge([recs[1].uid, recs[-1].uid], 5)
    s.close.__func__  # noqa: B018 - no close: the process is killed here
    s2, st = _open(driver, path)
    assert any("adopted" in w for w in st.warnings)
    live = [u for u in range(1, 31) if u not in (recs[1].uid, recs[-1].uid)]
    assert [r.uid for r in st.records] == live and st.uidnext == 31 and st.highestmodseq == 5
    by = {r.uid: r for r in st.records}
    assert by[1].flags == {"Other"}
    assert by[11].flags == {"\\Flagged", "Other"} and by[11].modseq == 4
    assert by[13].flags == frozenset() and by[14].flags == {"Later"}
    assert all(s2.read(u) == _msg(u - 1) for u in live)
    s2.close()
    s3, again = _open(driver, path)
    assert again.warnings == [] and _key(again) == _key(st)
    s3.close()


def test_truncated_data_file_keeps_whole_frames(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=1 << 20)
    s = _fill(driver, path, 8)
    ends = {row[0]: row[2] + row[3] for row in s._rows}
    s.close()
    full = (path / "data0001").read_bytes()
    snapshot = tmp_path / "snap"
    shutil.copytree(path, snapshot)
    for cut in range(layout.DATA_HEADER.size, len(full), 97):
        shutil.rmtree(path)
        shutil.copytree(snapshot, path)
        with open(path / "data0001", "r+b") as f:
            f.truncate(cut)
        s, st = _open(driver, path)
        expect = [u for u, end in ends.items() if end <= cut]
        assert [r.uid for r in st.records] == expect, cut
        assert all(s.read(u) == _msg(u - 1) for u in expect)
        (rec,) = s.append([NewMessage(b"after\r\n")])
        assert rec.uid == 9  # UIDs of lost messages are never reused
        s.close()


def test_torn_journal_tail(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 4)
    s.set_flags([FlagChange(1, frozenset({"\\Seen"}), 2)])
    s.set_flags([FlagChange(3, frozenset({"\\Seen"}), 3)])
    s.close()
    journal = path / "journal.0"
    journal.write_bytes(journal.read_bytes()[:-5])
    _s, st = _open(driver, path)
    assert st.records[0].flags == {"\\Seen"} and st.records[2].flags == frozenset()
    assert any("torn" in w for w in st.warnings)


def test_compaction_merges_and_reclaims(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=8192)
    s = _fill(driver, path, 60, batch=1)
    s.set_flags([FlagChange(u, frozenset({"\\Answered", "Kept"}), 9) for u in range(1, 61, 10)])
    s.expunge(list(range(2, 61, 5)), 10)
    before = sum(p.stat().st_size for p in path.iterdir() if p.name.startswith("data"))
    s.compact()
    after = sum(p.stat().st_size for p in path.iterdir() if p.name.startswith("data"))
    assert after < before * 0.85
    assert (path / "journal.1").exists() and not (path / "journal.0").exists()
    s.close()
    s, st = _open(driver, path)
    assert st.warnings == []
    uids = [u for u in range(1, 61) if u not in range(2, 61, 5)]
    assert [r.uid for r in st.records] == uids
    by = {r.uid: r for r in st.records}
    assert by[11].flags == {"\\Answered", "Kept"} and by[11].modseq == 9
    assert all(s.read(u) == _msg(u - 1) for u in uids)
    s.close()
    (path / "index.bdx").unlink()
    _s, rebuilt = _open(driver, path)
    assert _key(rebuilt) == _key(st)


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_compaction_copies_frames_and_remakes_a_misplaced_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    from unigate import durable

    monkeypatch.setattr(
        durable, "_HAS_COPY_FILE_RANGE", kernel_copy and durable._HAS_COPY_FILE_RANGE
    )
    driver, path = _box(tmp_path, max_file_size=1 << 20)
    s, _ = _open(driver, path)
    flags = [frozenset({"Work", "$Label1"}) if i % 3 else frozenset() for i in range(30)]
    s.append([NewMessage(_msg(i), flags[i], 1000 + i, 1) for i in range(30)])
    s.set_flags([FlagChange(7, frozenset({"\\Flagged", "Later"}), 5)])
    s.expunge([3, 20], 6)
    data = (path / "data0001").read_bytes()
    # damage the header of message 12's frame: compaction must not copy it blindly
    _uid, _num, off12, *_ = s._rows.row(11)
    at = data.rindex(layout.FRAME_MAGIC, 0, off12)
    with open(path / "data0001", "r+b") as f:
        f.seek(at)
        f.write(b"XXXX")
    s.compact()
    s.close()
    s, st = _open(driver, path)
    live = [u for u in range(1, 31) if u not in (3, 20)]
    assert [r.uid for r in st.records] == live and st.warnings == []
    assert all(s.read(u) == _msg(u - 1) for u in live)
    by = {r.uid: r for r in st.records}
    assert by[7].flags == {"\\Flagged", "Later"} and by[7].modseq == 5
    assert by[2].flags == flags[1] and by[12].flags == flags[11]
    new = (path / "data0002").read_bytes()
    head, _ = frames.frame(2, 0, s._codec.keyword_names(s._rows.row(1)[7]), 1001, 1, _msg(1))
    assert head + _msg(1) in data and head + _msg(1) in new  # copied byte for byte
    s.close()
    (path / "index.bdx").unlink()
    _s, rebuilt = _open(driver, path)  # every frame scans with good CRCs
    assert _key(rebuilt) == _key(st)


def test_small_files_are_merged(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=1 << 20)
    s, _ = _open(driver, path)
    s.append([NewMessage(_msg(0))])
    s.max_file_size = 700  # force many tiny files
    for i in range(1, 6):
        s.append([NewMessage(_msg(i))])
    assert len([n for n in os.listdir(path) if n.startswith("data")]) == 6
    s.max_file_size = 1 << 20
    s.compact()
    assert len([n for n in os.listdir(path) if n.startswith("data")]) == 1
    assert all(s.read(u) == _msg(u - 1) for u in range(1, 7))


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in path.iterdir()}


def _restore(path: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(path)
    path.mkdir()
    for name, data in files.items():
        (path / name).write_bytes(data)


def test_interrupted_compaction_rolls_back_or_forward(tmp_path: Path) -> None:
    driver, path = _box(tmp_path, max_file_size=4096)
    s = _fill(driver, path, 24)
    s.set_flags([FlagChange(3, frozenset({"Flag3"}), 4)])
    s.expunge([5, 6, 20], 5)
    s.close()
    _s, expected = _open(driver, path)
    _s.close()
    old = _snapshot(path)
    s, _ = _open(driver, path)
    s.compact()
    s.close()
    new = _snapshot(path)
    cases = {
        # new data files and journal written, index not yet renamed: roll back
        "before-commit": {
            **old,
            **{k: v for k, v in new.items() if k not in old or k.startswith("journal")},
        },
        # index renamed, old files not yet deleted: roll forward
        "after-commit": {**old, **new},
    }
    for name, files in cases.items():
        for drop_index in (False, True):
            state = dict(files)
            if drop_index:
                state.pop("index.bdx")
            _restore(path, state)
            s, st = _open(driver, path)
            assert _key(st) == _key(expected), (name, drop_index)
            assert all(s.read(r.uid) == _msg(r.uid - 1) for r in st.records)
            s.close()
            _s, again = _open(driver, path)
            assert again.warnings == [] and _key(again) == _key(expected)
            _s.close()


def test_cache(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 3)
    assert s.cache_get(1, "env") is None
    s.cache_put(1, "env", b"(ENVELOPE)")
    s.cache_put(2, "bs", b"x" * 1000)
    s.close()
    s, _ = _open(driver, path)
    assert s.cache_get(1, "env") == b"(ENVELOPE)" and s.cache_get(2, "bs") == b"x" * 1000
    s.expunge([1], 2)
    assert s.cache_get(1, "env") is None
    (path / "cache.dat").write_bytes(b"\x01\x02")  # damaged: just empty
    s2, _ = _open(driver, path)
    assert s2.cache_get(2, "bs") is None


def test_derived_cache_file(tmp_path: Path) -> None:
    """Runs of keys, the last entry winning, a torn tail, and forget keeping the rest."""
    from unigate_storage_sliced.cache import DerivedCache

    path = tmp_path / "cache.dat"
    c = DerivedCache(path)
    for uid in (1, 2, 3):
        c.put(uid, "a", b"a%d" % uid)
    c.put(2, "b", b"b2")
    c.put(1, "a", b"newer")
    with open(path, "ab") as f:
        f.write(b"\x04\x00\x00\x00\x01\x00\x10\x00\x00\x00aonly-part")  # torn
    c = DerivedCache(path)
    assert [c.get(u, "a") for u in (1, 2, 3, 4)] == [b"newer", b"a2", b"a3", None]
    assert c.get(2, "b") == b"b2" and c.get(1, "b") is None and c.get(1, "zz") is None
    c.put(3, "b", b"b3")
    c.forget({2})
    assert c.get(2, "a") is None and c.get(3, "b") == b"b3"
    again = DerivedCache(path)
    assert [again.get(u, "a") for u in (1, 2, 3)] == [b"newer", None, b"a3"]
    assert again.get(2, "b") is None and again.get(3, "b") == b"b3"


def test_derived_cache_batches_and_mapping(tmp_path: Path) -> None:
    """get_many: loaded and newer values, misses and skipped UIDs left out; the
    mapped file survives forget and close (the cache loads again)."""
    from unigate_storage_sliced.cache import DerivedCache

    path = tmp_path / "cache.dat"
    c = DerivedCache(path)
    assert c.get_many([1, 2], "a", set()) == {}  # no file yet
    for uid in (1, 2, 3, 4):
        c.put(uid, "a", b"a%d" % uid)
    c = DerivedCache(path)
    c.put(2, "a", b"put since")
    assert c.get_many([1, 2, 3, 4, 5], "a", {3}) == {1: b"a1", 2: b"put since", 4: b"a4"}
    assert c.get_many([1], "other", set()) == {}
    c.forget({1})
    assert c.get_many([1, 2, 4], "a", set()) == {2: b"put since", 4: b"a4"}
    c.close()
    assert c.get_many([2, 4], "a", set()) == {2: b"put since", 4: b"a4"}
    c.close()
    c.close()  # idempotent


def test_derived_cache_views_outlive_rewrites_and_close(tmp_path: Path) -> None:
    """Values handed out as views of the mapping stay readable after the file is
    rewritten (forget) and after close; the rewritten file is what a new load sees."""
    from unigate_storage_sliced.cache import DerivedCache

    path = tmp_path / "cache.dat"
    c = DerivedCache(path)
    for uid in (1, 2, 3):
        c.put(uid, "a", b"value %d" % uid)
    c = DerivedCache(path)
    views = c.get_many([1, 2, 3], "a", set())
    if os.name == "posix":
        assert all(isinstance(v, memoryview) and v.readonly for v in views.values())
    c.forget({1})
    c.close()  # the views still hold the old mapping: no error, nothing unmapped
    assert {u: bytes(v) for u, v in views.items()} == {1: b"value 1", 2: b"value 2", 3: b"value 3"}
    assert DerivedCache(path).get_many([1, 2, 3], "a", set()) == {2: b"value 2", 3: b"value 3"}
    c.put(4, "a", views[3])  # a view put back is stored as bytes
    assert DerivedCache(path).get(4, "a") == b"value 3"


def test_driver_cache_get_many(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 3)
    for uid in (1, 2, 3):
        s.cache_put(uid, "env", b"E%d" % uid)
    s.close()
    s, _ = _open(driver, path)
    s.expunge([2], 5)
    assert s.cache_get_many([1, 2, 3, 9], "env") == {1: b"E1", 3: b"E3"}
    s.close()


def test_index_rows_are_fixed_size(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    _fill(driver, path, 5).close()
    got = indexfile.read(path / "index.bdx")
    assert got is not None
    header, rows = got
    with rows.columns(indexfile.UID) as (uids,):
        assert header.count == 5 and uids.tolist() == [1, 2, 3, 4, 5]
    raw = (path / "index.bdx").read_bytes()
    first = struct.unpack_from("<8q", raw, layout.RECORDS_OFFSET)
    assert first[0] == 1 and first[1] == 1 and first[3] == len(_msg(0))


def test_plugin_hook() -> None:
    from unigate_storage_sliced import plugin

    (d,) = plugin.unigate_storage_formats()
    assert d.extension == "mslc" and d.is_directory


def test_losing_index_and_journal_keeps_every_message(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 12)
    s.expunge([4], 3)
    s.compact()  # data files of generation 1
    s.append([NewMessage(_msg(12))])
    s.close()
    (path / "index.bdx").unlink()
    (path / "journal.1").unlink()
    s, st = _open(driver, path)
    assert [r.uid for r in st.records] == [u for u in range(1, 14) if u != 4]
    assert any("journal" in w for w in st.warnings)
    assert all(s.read(r.uid) == _msg(r.uid - 1) for r in st.records)
    s.append([NewMessage(b"x\r\n")])
    s.compact()
    s.close()
    _s, again = _open(driver, path)
    assert again.warnings == [] and len(again.records) == 13


def test_too_many_keywords_refused_without_damage(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    s = _fill(driver, path, 2)
    s.set_flags([FlagChange(1, frozenset(f"k{i}" for i in range(60)), 2)])
    too_many = frozenset(f"x{i}" for i in range(10))
    with pytest.raises(ValueError):
        s.append([NewMessage(b"a\r\n"), NewMessage(b"b\r\n", too_many)])
    with pytest.raises(ValueError):
        s.set_flags([FlagChange(2, too_many, 3)])
    (rec,) = s.append([NewMessage(b"ok\r\n", frozenset({"k5", "new1"}))])
    assert rec.uid == 3
    s.close()
    s, st = _open(driver, path)
    assert [r.uid for r in st.records] == [1, 2, 3]
    assert st.records[2].flags == {"k5", "new1"} and len(st.records[0].flags) == 60
    s.close()
    (path / "index.bdx").unlink()
    _s, rebuilt = _open(driver, path)
    assert _key(rebuilt) == _key(st)


def test_the_meta_area_grows_with_the_number_of_data_files(tmp_path: Path) -> None:
    # one message per data file: 1,500 files list more than the smallest meta area holds
    driver, path = _box(tmp_path, max_file_size=600)
    s = _fill(driver, path, 1500, batch=50)
    s.close()
    header, rows = indexfile.read(path / "index.bdx") or (None, None)
    assert header is not None and rows is not None
    assert len(header.files) >= 1500 and header.meta_area > layout.META_MIN
    assert len(rows) == header.count == 1500
    s, state = _open(driver, path)
    assert [r.uid for r in state.records] == list(range(1, 1501))
    assert s.read(1500) == _msg(1499)
    s.append([NewMessage(_msg(1500), frozenset(), 5000, 2)])
    s.close()
    _s, state = _open(driver, path)
    assert len(state.records) == 1501 and state.warnings == []


def test_an_index_of_another_version_is_rebuilt(tmp_path: Path) -> None:
    driver, path = _box(tmp_path)
    _fill(driver, path, 8).close()
    raw = bytearray((path / "index.bdx").read_bytes())
    struct.pack_into("<I", raw, 8, 1)  # version 1: the fixed 16 KiB meta area
    (path / "index.bdx").write_bytes(bytes(raw))
    _s, state = _open(driver, path)
    assert [r.uid for r in state.records] == list(range(1, 9))
