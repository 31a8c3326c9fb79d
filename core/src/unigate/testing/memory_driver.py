"""A small reference mailbox format driver: one JSON-lines log file per mailbox.

Why: the mailbox manager's own tests need a driver that is obviously correct, and a
third party writing a driver needs a short, readable example of the contract in
:mod:`unigate_hookspecs.storage`. This driver is both. It passes the conformance kit
(:mod:`unigate.testing.storage_kit`) but is not meant for production: every message
is stored base64-encoded in the log.

Layout of a mailbox ``<name>.jlog`` (a directory):

``log``
    The durable truth. One JSON object per line, each line ending in ``\\n``:
    ``{"op": "hdr", "uidvalidity": V, "uidnext": N, "highestmodseq": H}`` first, then
    ``add`` (uid, flags, date, modseq, data), ``flags`` (uid, flags, modseq),
    ``expunge`` (uids, modseq) and ``attrs`` (attributes) records. Appends and
    expunges are fsynced before the call returns; flag changes are written but not
    fsynced (the contract allows it). A torn last line (a crash during a write) is cut
    at the next load; a damaged line in the middle is skipped with a warning.
``index.json``
    A snapshot of the replayed state, valid only when its recorded log size equals the
    log's size. Written on close and after compaction, never fsynced: losing or
    damaging it costs one replay, nothing else. Compaction deletes it (durably) before
    it replaces the log, so a snapshot never describes another log of the same size.

Compaction rewrites the log with only the live messages into ``log.tmp``, fsyncs it
and renames it over ``log``: a crash leaves either the old or the new log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from unigate.durable import create_dir
from unigate_hookspecs.storage import (
    FlagChange,
    FormatDriver,
    MailboxState,
    MailboxStore,
    MessageRecord,
    NewMessage,
)

__all__ = ["ReferenceDriver", "ReferenceStore"]

_LOG = "log"
_INDEX = "index.json"
_TMP = "log.tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode() + b"\n"


@dataclass(slots=True)
class _Entry:
    """A live message: its record and where its ``add`` line starts in the log."""

    record: MessageRecord
    offset: int


class ReferenceStore(MailboxStore):
    """An open ``.jlog`` mailbox. Not thread-safe: the manager serialises calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log = path / _LOG
        self._entries: dict[int, _Entry] = {}
        self._uidvalidity = 0
        self._uidnext = 1
        self._highestmodseq = 0
        self._attributes: dict[str, str] = {}
        self._size = 0
        self._cache: dict[tuple[int, str], bytes] = {}
        self._loaded = False

    # -- loading ---------------------------------------------------------------

    def load(self) -> MailboxState:
        warnings: list[str] = []
        (self.path / _TMP).unlink(missing_ok=True)
        data = self._log.read_bytes()
        self._size = len(data)
        if not self._load_index():
            self._replay(data, warnings)
        self._loaded = True
        return MailboxState(
            uidvalidity=self._uidvalidity,
            uidnext=self._uidnext,
            highestmodseq=self._highestmodseq,
            records=[e.record for e in self._entries.values()],
            attributes=dict(self._attributes),
            warnings=warnings,
        )

    def _load_index(self) -> bool:
        try:
            snap = json.loads((self.path / _INDEX).read_text())
            if snap["log_size"] != self._size:
                return False
            entries = {}
            for uid, flags, date, size, modseq, offset in snap["records"]:
                rec = MessageRecord(int(uid), frozenset(flags), int(date), int(size), int(modseq))
                entries[rec.uid] = _Entry(rec, int(offset))
            self._entries = entries
            self._uidvalidity = int(snap["uidvalidity"])
            self._uidnext = int(snap["uidnext"])
            self._highestmodseq = int(snap["highestmodseq"])
            self._attributes = {str(k): str(v) for k, v in snap["attributes"].items()}
            return True
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _replay(self, data: bytes, warnings: list[str]) -> None:
        self._entries = {}
        self._attributes = {}
        pos = 0
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:
                warnings.append(f"torn tail of {len(data) - pos} bytes cut")
                with open(self._log, "r+b") as f:
                    f.truncate(pos)
                    f.flush()
                    os.fsync(f.fileno())
                self._size = pos
                break
            try:
                obj = json.loads(data[pos:end])
                self._apply(obj, pos)
            except (ValueError, KeyError, TypeError) as exc:
                warnings.append(f"damaged log line at offset {pos} skipped: {exc}")
            pos = end + 1

    def _apply(self, obj: dict[str, object], offset: int) -> None:
        op = obj["op"]
        if op == "hdr":
            self._uidvalidity = int(obj["uidvalidity"])  # type: ignore[arg-type]
            self._uidnext = max(self._uidnext, int(obj.get("uidnext", 1)))  # type: ignore[arg-type]
            self._highestmodseq = max(self._highestmodseq, int(obj.get("highestmodseq", 0)))  # type: ignore[arg-type]
        elif op == "add":
            uid = int(obj["uid"])  # type: ignore[arg-type]
            size = len(base64.b64decode(obj["data"]))  # type: ignore[arg-type]
            rec = MessageRecord(
                uid,
                frozenset(obj["flags"]),  # type: ignore[arg-type]
                int(obj["date"]),  # type: ignore[arg-type]
                size,
                int(obj["modseq"]),  # type: ignore[arg-type]
            )
            self._entries[uid] = _Entry(rec, offset)
            self._uidnext = max(self._uidnext, uid + 1)
            self._highestmodseq = max(self._highestmodseq, rec.modseq)
        elif op == "flags":
            uid = int(obj["uid"])  # type: ignore[arg-type]
            modseq = int(obj["modseq"])  # type: ignore[arg-type]
            entry = self._entries.get(uid)
            if entry is not None:
                r = entry.record
                entry.record = MessageRecord(
                    uid,
                    frozenset(obj["flags"]),  # type: ignore[arg-type]
                    r.internal_date,
                    r.size,
                    modseq,
                )
            self._highestmodseq = max(self._highestmodseq, modseq)
        elif op == "expunge":
            for uid in obj["uids"]:  # type: ignore[union-attr]
                self._entries.pop(int(uid), None)
            self._highestmodseq = max(self._highestmodseq, int(obj["modseq"]))  # type: ignore[arg-type]
        elif op == "attrs":
            self._attributes = {str(k): str(v) for k, v in obj["attrs"].items()}  # type: ignore[union-attr]
        else:
            raise ValueError(f"unknown op {op!r}")

    # -- writing ---------------------------------------------------------------

    def _write(self, payload: bytes, *, sync: bool) -> int:
        with open(self._log, "ab") as f:
            start = f.tell()
            f.write(payload)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        self._size = start + len(payload)
        return start

    def append(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        lines: list[bytes] = []
        records: list[MessageRecord] = []
        uid = self._uidnext
        for msg in messages:
            rec = MessageRecord(uid, msg.flags, msg.internal_date, len(msg.data), msg.modseq)
            records.append(rec)
            lines.append(
                _line(
                    {
                        "op": "add",
                        "uid": uid,
                        "flags": sorted(msg.flags),
                        "date": msg.internal_date,
                        "modseq": msg.modseq,
                        "data": base64.b64encode(msg.data).decode(),
                    }
                )
            )
            uid += 1
        start = self._write(b"".join(lines), sync=True)
        offset = start
        for rec, line in zip(records, lines, strict=True):
            self._entries[rec.uid] = _Entry(rec, offset)
            offset += len(line)
            self._highestmodseq = max(self._highestmodseq, rec.modseq)
        self._uidnext = uid
        return records

    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        lines = []
        for ch in changes:
            entry = self._entries.get(ch.uid)
            if entry is None:
                continue
            r = entry.record
            entry.record = MessageRecord(r.uid, ch.flags, r.internal_date, r.size, ch.modseq)
            self._highestmodseq = max(self._highestmodseq, ch.modseq)
            lines.append(
                _line(
                    {"op": "flags", "uid": ch.uid, "flags": sorted(ch.flags), "modseq": ch.modseq}
                )
            )
        if lines:
            self._write(b"".join(lines), sync=False)

    def expunge(self, uids: Sequence[int], modseq: int) -> None:
        self._write(_line({"op": "expunge", "uids": list(uids), "modseq": modseq}), sync=True)
        for uid in uids:
            self._entries.pop(uid, None)
            for key in [k for k in self._cache if k[0] == uid]:
                del self._cache[key]
        self._highestmodseq = max(self._highestmodseq, modseq)

    def read(self, uid: int) -> bytes:
        entry = self._entries[uid]
        with open(self._log, "rb") as f:
            f.seek(entry.offset)
            obj = json.loads(f.readline())
        return base64.b64decode(obj["data"])

    def set_attributes(self, attributes: dict[str, str]) -> None:
        self._write(_line({"op": "attrs", "attrs": dict(attributes)}), sync=True)
        self._attributes = dict(attributes)

    def compact(self) -> None:
        tmp = self.path / _TMP
        hdr = {
            "op": "hdr",
            "uidvalidity": self._uidvalidity,
            "uidnext": self._uidnext,
            "highestmodseq": self._highestmodseq,
        }
        out = [_line(hdr)]
        if self._attributes:
            out.append(_line({"op": "attrs", "attrs": self._attributes}))
        offsets: dict[int, int] = {}
        pos = len(out[0]) + (len(out[1]) if len(out) > 1 else 0)
        for uid, entry in self._entries.items():
            r = entry.record
            line = _line(
                {
                    "op": "add",
                    "uid": uid,
                    "flags": sorted(r.flags),
                    "date": r.internal_date,
                    "modseq": r.modseq,
                    "data": base64.b64encode(self.read(uid)).decode(),
                }
            )
            offsets[uid] = pos
            pos += len(line)
            out.append(line)
        with open(tmp, "wb") as f:
            f.write(b"".join(out))
            f.flush()
            os.fsync(f.fileno())
        # the old snapshot must not outlive the log it describes: the new log may happen
        # to have the old one's size, which is all a snapshot is checked against
        (self.path / _INDEX).unlink(missing_ok=True)
        _fsync_dir(self.path)
        os.replace(tmp, self._log)
        _fsync_dir(self.path)
        for uid, off in offsets.items():
            self._entries[uid].offset = off
        self._size = pos
        self._write_index()

    def _write_index(self) -> None:
        snap = {
            "log_size": self._size,
            "uidvalidity": self._uidvalidity,
            "uidnext": self._uidnext,
            "highestmodseq": self._highestmodseq,
            "attributes": self._attributes,
            "records": [
                [e.record.uid, sorted(e.record.flags), e.record.internal_date, e.record.size]
                + [e.record.modseq, e.offset]
                for e in self._entries.values()
            ],
        }
        tmp = self.path / (_INDEX + ".tmp")
        tmp.write_text(json.dumps(snap))
        os.replace(tmp, self.path / _INDEX)

    def cache_get(self, uid: int, key: str) -> bytes | None:
        return self._cache.get((uid, key))

    def cache_put(self, uid: int, key: str, value: bytes) -> None:
        if uid in self._entries:
            self._cache[(uid, key)] = value

    def close(self) -> None:
        if self._loaded:
            with contextlib.suppress(OSError):
                self._write_index()


class ReferenceDriver(FormatDriver):
    """The ``.jlog`` reference format (a directory holding a JSON-lines log)."""

    extension = "jlog"
    is_directory = True

    def create(self, path: Path, uidvalidity: int) -> None:
        def fill(work: Path) -> None:
            with open(work / _LOG, "wb") as f:
                f.write(_line({"op": "hdr", "uidvalidity": uidvalidity, "uidnext": 1}))
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(work)

        create_dir(path, fill)

    def open(self, path: Path) -> MailboxStore:
        if not (path / _LOG).is_file():
            raise FileNotFoundError(path)
        return ReferenceStore(path)
