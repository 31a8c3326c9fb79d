"""The append-only change log (the journal) ``journal.G``: flag changes, expunges, keywords.

Why: the journal is durable truth, like the data files (``index.bdx`` is derived
from both and may be lost). Index rows mirror the data frames and never change in place; everything that
happens to a message after its append is an entry here, fsynced once per call.
A reopen replays the log over the rows; ``compact`` starts a new generation whose
log re-states only what the rewritten data files do not already say.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from unigate.api import crc32, fdatasync, fsync_dir, write_synced
from unigate_storage_sliced.layout import (
    FLAG_ROW,
    LOG_ENTRY,
    LOG_HEADER,
    LOG_MAGIC,
    OP_EXPUNGE,
    OP_FILES,
    OP_FLAGS,
    OP_KEYWORD,
    OP_STATE,
    VERSION,
)

_U32 = struct.Struct("<I")
_EXP = struct.Struct("<qI")
_STATE = struct.Struct("<qqq")


LOG_PREFIX = "journal."


def log_name(generation: int) -> str:
    """``journal.G``."""
    return f"{LOG_PREFIX}{generation}"


def parse_log_name(name: str) -> int | None:
    """The generation of a ``journal.G`` name, None for anything else."""
    rest = name[len(LOG_PREFIX) :]
    return int(rest) if name.startswith(LOG_PREFIX) and rest.isdigit() else None


def entry(payload: bytes) -> bytes:
    """Frame one payload."""
    return LOG_ENTRY.pack(len(payload), crc32(payload)) + payload


def flags_entry(rows: list[tuple[int, int, int, int]]) -> bytes:
    """(uid, system bits, keyword bits, modseq) rows."""
    body = b"".join(FLAG_ROW.pack(*r) for r in rows)
    return entry(bytes([OP_FLAGS]) + _U32.pack(len(rows)) + body)


def expunge_entry(uids: list[int], modseq: int) -> bytes:
    """Expunge marks for ``uids``."""
    return entry(
        bytes([OP_EXPUNGE]) + _EXP.pack(modseq, len(uids)) + struct.pack(f"<{len(uids)}q", *uids)
    )


def keyword_entry(kid: int, name: str) -> bytes:
    """Defines keyword id ``kid``."""
    return entry(bytes([OP_KEYWORD]) + _U32.pack(kid) + name.encode("utf-8"))


def state_entry(uidvalidity: int, uidnext: int, highestmodseq: int) -> bytes:
    """The mailbox counters at the start of a generation."""
    return entry(bytes([OP_STATE]) + _STATE.pack(uidvalidity, uidnext, highestmodseq))


def files_entry(retire: list[int], new: dict[int, int]) -> bytes:
    """Which data files a compaction retired and which it wrote (with lengths)."""
    obj = {"retire": retire, "new": {str(k): v for k, v in new.items()}}
    return entry(bytes([OP_FILES]) + json.dumps(obj).encode())


Op = tuple[int, object]


def decode(raw: bytes) -> tuple[int | None, list[Op], int]:
    """(generation or None if not a log, decoded operations, end of the valid part)."""
    if len(raw) < LOG_HEADER.size:
        return None, [], 0
    magic, version, gen = LOG_HEADER.unpack_from(raw)
    if magic != LOG_MAGIC or version != VERSION:
        return None, [], 0
    ops: list[Op] = []
    pos = LOG_HEADER.size
    n = len(raw)
    while pos + LOG_ENTRY.size <= n:
        length, crc = LOG_ENTRY.unpack_from(raw, pos)
        start = pos + LOG_ENTRY.size
        payload = raw[start : start + length]
        if length == 0 or len(payload) != length or crc32(payload) != crc:
            break
        ops.append(_decode_op(payload))
        pos = start + length
    return gen, ops, pos


def _decode_op(p: bytes) -> Op:
    op = p[0]
    if op == OP_FLAGS:
        (count,) = _U32.unpack_from(p, 1)
        return op, list(FLAG_ROW.iter_unpack(p[5 : 5 + count * FLAG_ROW.size]))
    if op == OP_EXPUNGE:
        modseq, count = _EXP.unpack_from(p, 1)
        return op, (modseq, list(struct.unpack_from(f"<{count}q", p, 1 + _EXP.size)))
    if op == OP_KEYWORD:
        (kid,) = _U32.unpack_from(p, 1)
        return op, (kid, p[5:].decode("utf-8"))
    if op == OP_STATE:
        return op, _STATE.unpack_from(p, 1)
    if op == OP_FILES:
        obj = json.loads(p[1:])
        return op, (list(obj["retire"]), {int(k): int(v) for k, v in obj["new"].items()})
    return op, None


class ChangeLog:
    """An open log generation, appended to with one fdatasync per write."""

    def __init__(self, path: Path, fd: int, end: int) -> None:
        self.path = path
        self.fd = fd
        self.end = end

    @classmethod
    def create(cls, path: Path, generation: int, entries: list[bytes]) -> ChangeLog:
        """Write a new log file durably (header + ``entries``) and open it."""
        data = LOG_HEADER.pack(LOG_MAGIC, VERSION, generation) + b"".join(entries)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        fsync_dir(path.parent)
        return cls(path, fd, len(data))

    @classmethod
    def open(cls, path: Path) -> tuple[ChangeLog, int | None, list[Op], bool]:
        """Open and decode; a torn tail is cut. Returns (log, generation, ops, was_cut)."""
        fd = os.open(path, os.O_RDWR)
        size = os.fstat(fd).st_size
        raw = os.pread(fd, size, 0)
        gen, ops, end = decode(raw)
        cut = gen is not None and end < size
        if cut:
            os.ftruncate(fd, end)
            fdatasync(fd)
        return cls(path, fd, end), gen, ops, cut

    def write(self, entries: list[bytes]) -> None:
        """Append entries and make them durable."""
        write_synced(self.fd, entries, self.end)
        self.end += sum(map(len, entries))

    def close(self) -> None:
        os.close(self.fd)
