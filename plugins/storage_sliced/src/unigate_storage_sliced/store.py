"""The sliced (``.mslc``) mailbox store: data files, a row index and a change log.

Why it looks like this (Dovecot's lessons, DESIGN.md "Durable state"): messages are
appended to ``dataNNNN`` files in self-describing frames; ``index.bdx`` holds one
fixed-size row per message, read on open without parsing; everything that happens
later (flag changes, expunge marks) is an entry in the append-only
``journal.G``; ``compact`` rewrites the data files that hold expunged messages or
are small, under a new generation G+1 whose commit point is the rename of the new
index. A missing or damaged index is rebuilt from the data files and the log.
Derived data lives in ``cache.dat``, never fsynced.

Crash rules: an append writes its frames synced (``write_synced``); rows and header
follow at checkpoints, not synced (see `IndexWriter.checkpoint`); frames the index
does not know yet are adopted on the next open, a torn frame or row is cut. Any
disagreement the fast path cannot explain rebuilds.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterable, Sequence
from itertools import repeat
from pathlib import Path

from unigate.api import crc32, create_dir, fsync_dir, write_atomic, write_synced
from unigate_hookspecs.storage import (
    FlagChange,
    MailboxState,
    MailboxStore,
    MessageRecord,
    NewMessage,
)
from unigate_storage_sliced import changelog, frames, indexfile
from unigate_storage_sliced.cache import DerivedCache
from unigate_storage_sliced.compaction import FrameWriter
from unigate_storage_sliced.flagcodec import FlagCodec
from unigate_storage_sliced.layout import (
    DATA_HEADER,
    FRAME,
    OP_EXPUNGE,
    OP_FILES,
    OP_FLAGS,
    OP_KEYWORD,
    OP_STATE,
    RECORD,
    data_name,
    parse_data_name,
)

#: a data file is not grown past this size (a bigger message gets a file of its own)
DEFAULT_MAX_FILE_SIZE = 32 * 1024 * 1024
#: the index is brought up to date (a checkpoint) after this many appended messages
#: or bytes of frames, and on close; a crash costs at most that much adoption scan
CHECKPOINT_ROWS = 1024
CHECKPOINT_BYTES = 16 * 1024 * 1024
INDEX_NAME = "index.bdx"
CACHE_NAME = "cache.dat"
ATTRIBUTES_NAME = "attributes.json"


class SlicedStore(MailboxStore):
    """An open ``.mslc`` directory. Calls are serialised by the manager: no locks."""

    def __init__(self, path: Path, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> None:
        self.path = path
        self.max_file_size = max_file_size
        self.index_path = path / INDEX_NAME
        self.cache = DerivedCache(path / CACHE_NAME)
        self._header = indexfile.IndexHeader(0, 1, 0, 0, 0, 0, {}, [])
        self._rows = indexfile.Rows()
        self._codec = FlagCodec()
        self._override: dict[int, tuple[int, int, int]] = {}
        self._expunged: set[int] = set()
        self._fds: dict[int, int] = {}
        self._index: indexfile.IndexWriter | None = None
        #: bytes of frames appended since the last index checkpoint
        self._unindexed_bytes = 0
        self._log: changelog.ChangeLog | None = None
        self._attributes: dict[str, str] = {}

    # -- open ------------------------------------------------------------------
    def load(self) -> MailboxState:
        # 100,000 records are 100,000 new objects: pause the cyclic GC (they hold no
        # cycles) so it does not rescan the heap a hundred times during the open
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if gc_was_enabled:
                gc.enable()

    def _load(self) -> MailboxState:
        self._release()
        warnings: list[str] = []
        got = indexfile.read(self.index_path)
        if got is None or not self._fast_open(got, warnings):
            if self.index_path.exists():
                warnings.append("index.bdx damaged or inconsistent: rebuilt from the data files")
            else:
                warnings.append("index.bdx missing: rebuilt from the data files")
            self._rebuild(warnings)
        self._attributes = self._read_attributes(warnings)
        return self._state(warnings)

    def _fast_open(
        self, got: tuple[indexfile.IndexHeader, indexfile.Rows], warnings: list[str]
    ) -> bool:
        header, rows = got
        gen = header.generation
        names = os.listdir(self.path)
        on_disk: dict[int, int] = {}
        doomed: list[Path] = []  # removed only once the index proves consistent
        for name in names:
            num = parse_data_name(name)
            if num is not None:
                on_disk[num] = os.stat(self.path / name).st_size
            elif (
                name.endswith(".tmp")
                or name.startswith(changelog.LOG_PREFIX)
                and name != changelog.log_name(gen)
            ):
                doomed.append(self.path / name)
        for num, length in header.files.items():
            if on_disk.get(num, -1) < length:
                return False
        top = max(header.files, default=0)
        grown: list[tuple[int, int]] = []  # (file number, committed length)
        for num, size in sorted(on_disk.items()):
            if num in header.files:
                if size > header.files[num]:
                    grown.append((num, header.files[num]))
                continue
            with open(self.path / data_name(num), "rb") as f:
                info = frames.parse_data_header(f.read(DATA_HEADER.size))
            if num > top and info is not None and info[2] == gen:
                grown.append((num, -1))
            else:
                doomed.append(self.path / data_name(num))
                warnings.append(
                    f"{data_name(num)}: not in the index (interrupted compaction), removed"
                )
        self._header = header
        self._rows = rows
        self._codec = FlagCodec(header.keywords)
        self._override = {}
        self._expunged = set()
        log_path = self.path / changelog.log_name(gen)
        if log_path.exists():
            log, log_gen, ops, cut = changelog.ChangeLog.open(log_path)
            if log_gen != gen:
                log.close()
                return False
            if cut:
                warnings.append("journal: torn tail cut")
            self._log = log
        else:
            if gen != 0 or len(rows):
                warnings.append(
                    "journal missing: flag changes and expunges since the last compaction lost"
                )
            self._log = changelog.ChangeLog.create(log_path, gen, self._base_log_entries())
            ops = []
        for p in doomed:
            p.unlink(missing_ok=True)
        self._index = indexfile.IndexWriter(self.index_path)
        self._unindexed_bytes = 0
        # frames past the checkpoint first (their keyword ids are the journal's), then
        # the journal, whose changes and UIDNEXT may be about those very messages
        self._replay([op for op in ops if op[0] == OP_KEYWORD])
        if grown:
            self._adopt(grown, warnings)
        self._replay(ops)
        return True

    def _adopt(self, grown: list[tuple[int, int]], warnings: list[str]) -> None:
        """Take frames written after the last committed index row (a crashed append)."""
        start_count = len(self._rows)
        files = self._header.files
        for num, committed in grown:
            path = self.path / data_name(num)
            data = path.read_bytes()
            start = committed if committed >= 0 else DATA_HEADER.size
            found, good_end, _skipped = frames.scan(data, start)
            for fr in found:
                if fr.uid < self._header.uidnext:
                    continue
                self._add_frame_row(num, fr)
            if good_end < len(data):
                with open(path, "r+b") as f:
                    f.truncate(good_end)
                    os.fsync(f.fileno())
                warnings.append(f"{data_name(num)}: torn tail of {len(data) - good_end} bytes cut")
            files[num] = good_end
        adopted = len(self._rows) - start_count
        if adopted:
            warnings.append(f"{adopted} message(s) found in data files beyond the index: adopted")
        self._checkpoint()

    def _add_frame_row(self, num: int, fr: frames.ScannedFrame) -> None:
        sysbits, kwbits, _new = self._codec.encode(frozenset(fr.keywords))
        self._rows.add(
            (
                fr.uid,
                num,
                fr.body_offset,
                fr.length,
                fr.internal_date,
                fr.modseq,
                fr.sysbits,
                kwbits,
            )
        )
        self._header.uidnext = max(self._header.uidnext, fr.uid + 1)
        self._header.highestmodseq = max(self._header.highestmodseq, fr.modseq)

    def _replay(self, ops: list[changelog.Op]) -> None:
        h = self._header
        for op, arg in ops:
            if op == OP_FLAGS:
                for uid, sysbits, kwbits, modseq in arg:  # type: ignore[union-attr]
                    self._override[uid] = (sysbits, kwbits, modseq)
                    h.highestmodseq = max(h.highestmodseq, modseq)
            elif op == OP_EXPUNGE:
                modseq, uids = arg  # type: ignore[misc]
                self._expunged.update(uids)
                h.highestmodseq = max(h.highestmodseq, modseq)
                h.uidnext = max(h.uidnext, max(uids, default=0) + 1)
            elif op == OP_KEYWORD:
                kid, name = arg  # type: ignore[misc]
                if kid >= len(self._codec.keywords) or self._codec.keywords[kid] != name:
                    self._codec.define(kid, name)
            elif op == OP_STATE:
                uidvalidity, uidnext, hms = arg  # type: ignore[misc]
                h.uidvalidity = h.uidvalidity or uidvalidity
                h.uidnext = max(h.uidnext, uidnext)
                h.highestmodseq = max(h.highestmodseq, hms)

    def _rebuild(self, warnings: list[str]) -> None:
        """Reconstruct the index from the data files and the newest committed log."""
        self._release()
        salvage = indexfile.read_header_only(self.index_path)
        names = os.listdir(self.path)
        logs: dict[int, bytes] = {}
        data_files: dict[int, tuple[int, int, int]] = {}  # num -> (uidvalidity, gen, size)
        for name in names:
            p = self.path / name
            if name.endswith(".tmp"):
                p.unlink(missing_ok=True)
            elif (gen_no := changelog.parse_log_name(name)) is not None:
                logs[gen_no] = p.read_bytes()
            elif (num := parse_data_name(name)) is not None:
                with open(p, "rb") as f:
                    info = frames.parse_data_header(f.read(DATA_HEADER.size))
                if info is None:
                    warnings.append(f"{name}: not a data file, ignored")
                    continue
                data_files[num] = (info[0], info[2], p.stat().st_size)
        chosen_gen = 0
        found_journal = False
        chosen_ops: list[changelog.Op] = []
        retire: set[int] = set()
        for gen in sorted(logs, reverse=True):
            log_gen, ops, _end = changelog.decode(logs[gen])
            if log_gen != gen:
                continue
            new: dict[int, int] = {}
            old: list[int] = []
            for op, arg in ops:
                if op == OP_FILES:
                    old, new = arg  # type: ignore[misc]
            complete = all(
                num in data_files and data_files[num][1] == gen and data_files[num][2] >= length
                for num, length in new.items()
            )
            if complete:
                chosen_gen, chosen_ops, retire = gen, ops, set(old)
                found_journal = True
                break
            warnings.append(f"interrupted compaction (generation {gen}) rolled back")
            for num in new:
                if num in data_files and data_files[num][1] == gen:
                    (self.path / data_name(num)).unlink(missing_ok=True)
                    del data_files[num]
            (self.path / changelog.log_name(gen)).unlink(missing_ok=True)
        if not found_journal:
            # never delete data because the journal is gone: keep every data file
            chosen_gen = max((g for _v, g, _s in data_files.values()), default=0)
            if data_files:
                warnings.append(
                    "no usable journal: flag changes and expunges since the last compaction lost"
                )
        for num in list(data_files):
            if num in retire:
                (self.path / data_name(num)).unlink(missing_ok=True)
                del data_files[num]
        for gen in logs:
            if gen != chosen_gen:
                (self.path / changelog.log_name(gen)).unlink(missing_ok=True)
        uidvalidity = 0
        for _op, arg in (x for x in chosen_ops if x[0] == OP_STATE):
            uidvalidity = arg[0]  # type: ignore[index]
        if not uidvalidity and data_files:
            uidvalidity = data_files[min(data_files)][0]
        if not uidvalidity:
            uidvalidity = int(time.time())
            warnings.append("UIDVALIDITY unknown: a new one was chosen")
        self._header = indexfile.IndexHeader(uidvalidity, 1, chosen_gen, 0, 0, 0, {}, [])
        self._codec = FlagCodec()
        for op, arg in chosen_ops:
            if op == OP_KEYWORD:
                self._codec.define(*arg)  # type: ignore[misc]
        by_uid: dict[int, tuple[int, frames.ScannedFrame]] = {}
        for num in sorted(data_files):
            path = self.path / data_name(num)
            data = path.read_bytes()
            found, good_end, skipped = frames.scan(data, DATA_HEADER.size)
            for fr in found:
                by_uid[fr.uid] = (num, fr)
            if skipped:
                warnings.append(f"{data_name(num)}: {skipped} corrupt bytes skipped")
            if good_end < len(data):
                with open(path, "r+b") as f:
                    f.truncate(good_end)
                    os.fsync(f.fileno())
                warnings.append(f"{data_name(num)}: torn tail of {len(data) - good_end} bytes cut")
            self._header.files[num] = good_end
        self._rows = indexfile.Rows()
        for uid in sorted(by_uid):
            num, fr = by_uid[uid]
            self._add_frame_row(num, fr)
        self._override = {}
        self._expunged = set()
        self._replay(chosen_ops)
        if salvage is not None and salvage[0] == uidvalidity:
            self._header.uidnext = max(self._header.uidnext, salvage[1])
            self._header.highestmodseq = max(self._header.highestmodseq, salvage[2])
        self._header.keywords = list(self._codec.keywords)
        indexfile.write_full(self.index_path, self._header, self._rows)
        log_path = self.path / changelog.log_name(chosen_gen)
        if chosen_gen in logs:
            self._log, _g, _ops, _cut = changelog.ChangeLog.open(log_path)
            self._log.write(
                [changelog.keyword_entry(i, n) for i, n in enumerate(self._codec.keywords)]
            )
        else:
            self._log = changelog.ChangeLog.create(log_path, chosen_gen, self._base_log_entries())
        fsync_dir(self.path)
        self._index = indexfile.IndexWriter(self.index_path)
        self._unindexed_bytes = 0

    def _base_log_entries(self) -> list[bytes]:
        h = self._header
        out = [changelog.state_entry(h.uidvalidity, h.uidnext, h.highestmodseq)]
        out += [changelog.keyword_entry(i, n) for i, n in enumerate(self._codec.keywords)]
        return out

    def _read_attributes(self, warnings: list[str]) -> dict[str, str]:
        try:
            raw = (self.path / ATTRIBUTES_NAME).read_bytes()
        except FileNotFoundError:
            return {}
        try:
            return {str(k): str(v) for k, v in json.loads(raw).items()}
        except (ValueError, AttributeError):
            warnings.append("attributes.json damaged: attributes lost")
            return {}

    def _state(self, warnings: list[str]) -> MailboxState:
        """The records from the rows, the journal's flag changes and expunge marks.

        The cold open's cost is this function, and on a small VM most of it is fresh
        memory (about 1 ms per MB in page faults): so no intermediate column lists,
        the records are zipped straight from views of the row buffer, and each is
        made by ``tuple.__new__`` from the ``zip`` tuple (NamedTuple's own
        ``__new__`` is a Python function: twice the time for 100,000 records).
        """
        with self._rows.columns(
            indexfile.UID,
            indexfile.DATE,
            indexfile.LENGTH,
            indexfile.MODSEQ,
            indexfile.SYSBITS,
            indexfile.KWBITS,
        ) as (uids, dates, sizes, modseqs, sysbits, kwbits):
            flags = self._codec.decode_many(sysbits, kwbits)
            modseq_col: Sequence[int] = modseqs
            if self._override:
                modseq_col = modseqs.tolist()
                changed = self._override.items()
                found = self._rows.find(self._override)
                for (_uid, (sys_now, kw_now, modseq)), i in zip(changed, found, strict=True):
                    if i is not None:
                        flags[i] = self._codec.decode(sys_now, kw_now)
                        modseq_col[i] = modseq
            columns = zip(uids, flags, dates, sizes, modseq_col, strict=True)
            records = list(map(tuple.__new__, repeat(MessageRecord), columns))
        if self._expunged:
            gone = self._expunged
            records = [r for r in records if r[0] not in gone]
        h = self._header
        return MailboxState(
            uidvalidity=h.uidvalidity,
            uidnext=h.uidnext,
            highestmodseq=h.highestmodseq,
            records=records,
            attributes=dict(self._attributes),
            warnings=warnings,
        )

    def _live(self, uids: Sequence[int]) -> list[bool]:
        """For each UID: is that message there and not expunged?"""
        found = self._rows.find(uids)
        gone = self._expunged
        return [i is not None and u not in gone for u, i in zip(uids, found, strict=True)]

    # -- data files ------------------------------------------------------------
    def _fd(self, num: int) -> int:
        fd = self._fds.get(num)
        if fd is None:
            fd = self._fds[num] = os.open(self.path / data_name(num), os.O_RDWR)
        return fd

    def _new_data_file(self, num: int, generation: int) -> int:
        path = self.path / data_name(num)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.pwrite(fd, frames.data_header(self._header.uidvalidity, num, generation), 0)
        self._fds[num] = fd
        return fd

    # -- writing ---------------------------------------------------------------
    def append(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        assert self._index is not None and self._log is not None, "load() first"
        h = self._header
        now = int(time.time())
        files = h.files
        num = max(files, default=0)
        size = files.get(num, 0)
        new_files: list[int] = []
        pending: dict[int, list[bytes]] = {}
        records: list[MessageRecord] = []
        # define the batch's new keywords first: this is the only step that can refuse
        codec = self._codec
        _s, _k, new_kw = codec.encode(frozenset().union(*(m.flags for m in messages)))
        log_entries = [changelog.keyword_entry(i, n) for i, n in new_kw]
        # the loop below runs once per message of every append: its work is hoisted
        # (flags encoded once per distinct set, counters kept in locals)
        coded: dict[frozenset[str], tuple[int, int, list[str]]] = {}
        head_of, body_crc, pack_row, new_record = (
            frames.frame_head,
            crc32,
            RECORD.pack,
            tuple.__new__,
        )
        max_size, first_offset = self.max_file_size, DATA_HEADER.size
        rows: list[bytes] = []
        chunks: list[bytes] = pending.setdefault(num, []) if num else []
        uid, highest = h.uidnext, h.highestmodseq
        for msg in messages:
            flags, data, modseq = msg.flags, msg.data, msg.modseq
            code = coded.get(flags)
            if code is None:
                sysbits, kwbits, _none = codec.encode(flags)
                names = codec.keyword_names(kwbits) if kwbits else []
                code = coded[flags] = (sysbits, kwbits, names)
            sysbits, kwbits, names = code
            date = msg.internal_date or now
            length = len(data)
            head = head_of(uid, sysbits, names, date, modseq, length, body_crc(data))
            need = len(head) + length
            if num == 0 or (size + need > max_size and size > first_offset):
                if num:
                    files[num] = size
                num += 1
                self._new_data_file(num, h.generation)
                new_files.append(num)
                chunks = pending.setdefault(num, [])
                size = first_offset
            chunks += (head, data)
            rows.append(pack_row(uid, num, size + len(head), length, date, modseq, sysbits, kwbits))
            # tuple.__new__: NamedTuple's own __new__ is a Python function (twice the time)
            records.append(new_record(MessageRecord, (uid, flags, date, length, modseq)))
            size += need
            uid += 1
            if modseq > highest:
                highest = modseq
        if num:
            files[num] = size
        h.uidnext, h.highestmodseq = uid, highest
        self._rows.extend(b"".join(rows))
        if log_entries:
            self._log.write(log_entries)
        for fnum, chunks in pending.items():
            if not chunks:
                continue  # the current file was full: the batch began a new one
            write_synced(self._fd(fnum), chunks, files[fnum] - sum(map(len, chunks)))
        if new_files:
            fsync_dir(self.path)
        # durable now: the frames are the truth, the index catches up at checkpoints
        self._unindexed_bytes += sum(sum(map(len, chunks)) for chunks in pending.values())
        if (
            len(self._rows) - h.count >= CHECKPOINT_ROWS
            or self._unindexed_bytes >= CHECKPOINT_BYTES
        ):
            self._checkpoint()
        return records

    def _checkpoint(self) -> None:
        """Write the index rows and header for everything appended so far."""
        assert self._index is not None
        h = self._header
        h.keywords = list(self._codec.keywords)
        try:
            self._index.checkpoint(h, self._rows.packed(h.count))
        except indexfile.MetaAreaFull:  # ever more data files: a larger meta area
            self._index.close()
            indexfile.write_full(self.index_path, h, self._rows)
            self._index = indexfile.IndexWriter(self.index_path)
        self._unindexed_bytes = 0

    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        assert self._log is not None, "load() first"
        rows: list[tuple[int, int, int, int]] = []
        _s, _k, new_kw = self._codec.encode(frozenset().union(*(c.flags for c in changes)))
        entries = [changelog.keyword_entry(i, n) for i, n in new_kw]
        for ch, live in zip(changes, self._live([c.uid for c in changes]), strict=True):
            if not live:
                continue
            sysbits, kwbits, _none = self._codec.encode(ch.flags)
            rows.append((ch.uid, sysbits, kwbits, ch.modseq))
            self._override[ch.uid] = (sysbits, kwbits, ch.modseq)
            self._header.highestmodseq = max(self._header.highestmodseq, ch.modseq)
        if rows:
            entries.append(changelog.flags_entry(rows))
            self._log.write(entries)

    def expunge(self, uids: Sequence[int], modseq: int) -> None:
        assert self._log is not None, "load() first"
        gone = sorted({u for u, live in zip(uids, self._live(uids), strict=True) if live})
        self._header.highestmodseq = max(self._header.highestmodseq, modseq)
        if not gone:
            return
        self._log.write([changelog.expunge_entry(gone, modseq)])
        self._expunged.update(gone)
        for u in gone:
            self._override.pop(u, None)

    def read(self, uid: int) -> bytes:
        (i,) = self._rows.find((uid,))
        if i is None or uid in self._expunged:
            raise KeyError(uid)
        _uid, num, offset, length, *_rest = self._rows.row(i)
        return os.pread(self._fd(num), length, offset)

    def set_attributes(self, attributes: dict[str, str]) -> None:
        self._attributes = dict(attributes)
        write_atomic(
            self.path / ATTRIBUTES_NAME, json.dumps(self._attributes, sort_keys=True).encode()
        )

    def cache_get(self, uid: int, key: str) -> bytes | None:
        if uid in self._expunged:
            return None
        return self.cache.get(uid, key)

    def cache_get_many(self, uids: Iterable[int], key: str) -> dict[int, bytes | memoryview]:
        return self.cache.get_many(uids, key, self._expunged)

    def cache_put(self, uid: int, key: str, value: bytes) -> None:
        self.cache.put(uid, key, value)

    # -- compaction ------------------------------------------------------------
    def compact(self) -> None:
        """Rewrite data files that hold expunged messages or are small; merge them."""
        assert self._log is not None and self._index is not None, "load() first"
        h = self._header
        dead_files = {row[indexfile.FILE] for row in self._rows if row[0] in self._expunged}
        small = [n for n, length in h.files.items() if length < self.max_file_size // 2]
        rewrite = set(dead_files)
        if len(small) > 1:
            rewrite.update(small)
        if not rewrite:
            return
        gen = h.generation + 1
        out = FrameWriter(
            lambda num: self._new_data_file(num, gen), max(h.files) + 1, self.max_file_size
        )
        keep = indexfile.Rows()
        flag_rows: list[tuple[int, int, int, int]] = []
        expunged_left: list[int] = []
        kw_lengths: dict[int, int] = {}
        for row in self._rows:  # in UID order, so ``keep`` is too
            uid, fnum, off, length, date, modseq, sysbits, kwbits = row
            current = self._override.get(uid)
            if fnum not in rewrite:
                if uid in self._expunged:
                    expunged_left.append(uid)
                    continue
                keep.add(row)
                if current is not None:
                    flag_rows.append((uid, *current))
                continue
            if uid in self._expunged:
                continue
            kwlen = kw_lengths.get(kwbits)
            if kwlen is None:
                kwlen = kw_lengths[kwbits] = len(
                    frames.keyword_bytes(self._codec.keyword_names(kwbits))
                )
            start = off - FRAME.size - kwlen
            src = self._fd(fnum)
            crc = frames.body_crc_at(src, start, uid, kwlen, length)
            if current is None and crc is not None:
                num, at = out.copy(src, start, off + length - start)
                body_at = at + off - start
            else:
                if current is not None:
                    sysbits, kwbits, modseq = current
                names = self._codec.keyword_names(kwbits)
                if crc is not None:
                    head = frames.frame_head(uid, sysbits, names, date, modseq, length, crc)
                    num, at = out.write_head(head, src, off, length)
                else:  # the frame header is damaged: make it anew around the body
                    body = os.pread(src, length, off)
                    head, _at = frames.frame(uid, sysbits, names, date, modseq, body)
                    num, at = out.write(head + body)
                body_at = at + len(head)
            keep.add((uid, num, body_at, length, date, modseq, sysbits, kwbits))
        new_lengths = out.finish()
        fsync_dir(self.path)
        retire = sorted(rewrite)
        entries = self._base_log_entries()
        entries.append(changelog.files_entry(retire, new_lengths))
        if flag_rows:
            entries.append(changelog.flags_entry(flag_rows))
        if expunged_left:
            entries.append(changelog.expunge_entry(expunged_left, h.highestmodseq))
        new_log = changelog.ChangeLog.create(self.path / changelog.log_name(gen), gen, entries)
        files = {n: length for n, length in h.files.items() if n not in rewrite}
        files.update(new_lengths)
        new_header = indexfile.IndexHeader(
            h.uidvalidity, h.uidnext, gen, h.highestmodseq, 0, 0, files, list(self._codec.keywords)
        )
        indexfile.write_full(self.index_path, new_header, keep)  # the commit point
        old_log = self._log
        old_log.close()
        old_log.path.unlink(missing_ok=True)
        for num in retire:
            fd = self._fds.pop(num, None)
            if fd is not None:
                os.close(fd)
            (self.path / data_name(num)).unlink(missing_ok=True)
        fsync_dir(self.path)
        self._index.close()
        self._index = indexfile.IndexWriter(self.index_path)
        self._unindexed_bytes = 0
        self._log = new_log
        self._header = new_header
        self._rows = keep
        gone = set(self._expunged) - set(expunged_left)
        self._expunged = set(expunged_left)
        self._override = {r[0]: (r[1], r[2], r[3]) for r in flag_rows}
        if gone:
            self.cache.forget(gone)

    # -- closing ---------------------------------------------------------------
    def _release(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        try:
            if self._index is not None and len(self._rows) > self._header.count:
                self._checkpoint()
        finally:
            self._release()
            self.cache.close()


def create(path: Path, uidvalidity: int) -> None:
    """Make an empty ``.mslc`` directory: an index with no rows and log generation 0,
    whole or not at all (`unigate.api.create_dir`)."""

    def fill(work: Path) -> None:
        header = indexfile.IndexHeader(uidvalidity, 1, 0, 0, 0, crc32(b""), {}, [])
        indexfile.write_full(work / INDEX_NAME, header, indexfile.Rows())
        log = changelog.ChangeLog.create(
            work / changelog.log_name(0), 0, [changelog.state_entry(uidvalidity, 1, 0)]
        )
        log.close()

    create_dir(path, fill)
