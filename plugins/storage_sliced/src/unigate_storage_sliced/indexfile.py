"""Reading and writing ``index.bdx``: header, meta area, fixed-size rows.

Why column decoding: a cold open of 100,000 messages must not parse anything, so
the rows are eight int64 each and are decoded with ``memoryview.cast`` and strided
slices (one C call per column) after a single CRC-32 check of the committed rows.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from unigate_storage_sliced.durable import fdatasync, write_atomic
from unigate_storage_sliced.layout import (
    HEADER_SIZE,
    INDEX_HEADER,
    INDEX_HEADER_PREFIX,
    INDEX_MAGIC,
    META_SIZE,
    RECORD,
    RECORD_FIELDS,
    RECORDS_OFFSET,
    VERSION,
)


@dataclass(slots=True)
class Columns:
    """The index rows, one Python list per field (append order = UID order)."""

    uid: list[int] = field(default_factory=list)
    file: list[int] = field(default_factory=list)
    offset: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    date: list[int] = field(default_factory=list)
    modseq: list[int] = field(default_factory=list)
    sysbits: list[int] = field(default_factory=list)
    kwbits: list[int] = field(default_factory=list)

    def lists(self) -> tuple[list[int], ...]:
        return (
            self.uid,
            self.file,
            self.offset,
            self.length,
            self.date,
            self.modseq,
            self.sysbits,
            self.kwbits,
        )

    def add(self, row: tuple[int, int, int, int, int, int, int, int]) -> None:
        for column, value in zip(self.lists(), row, strict=True):
            column.append(value)

    def row(self, i: int) -> tuple[int, int, int, int, int, int, int, int]:
        return (
            self.uid[i],
            self.file[i],
            self.offset[i],
            self.length[i],
            self.date[i],
            self.modseq[i],
            self.sysbits[i],
            self.kwbits[i],
        )

    def __len__(self) -> int:
        return len(self.uid)

    def pack(self, start: int = 0) -> bytes:
        pack = RECORD.pack
        return b"".join(pack(*r) for r in zip(*(c[start:] for c in self.lists()), strict=True))


@dataclass(slots=True)
class IndexHeader:
    uidvalidity: int
    uidnext: int
    generation: int
    highestmodseq: int
    count: int
    records_crc: int
    files: dict[int, int]
    keywords: list[str]


def _header_bytes(h: IndexHeader) -> bytes:
    meta = json.dumps(
        {"files": {str(k): v for k, v in sorted(h.files.items())}, "keywords": h.keywords}
    ).encode()
    if len(meta) > META_SIZE:
        raise ValueError("index meta area overflow")
    prefix = INDEX_HEADER_PREFIX.pack(
        INDEX_MAGIC,
        VERSION,
        h.uidvalidity,
        h.uidnext,
        h.generation,
        h.highestmodseq,
        h.count,
        h.records_crc,
        len(meta),
        zlib.crc32(meta),
    )
    head = prefix + zlib.crc32(prefix).to_bytes(4, "little")
    return head + b"\0" * (HEADER_SIZE - len(head)) + meta


def read(path: Path) -> tuple[IndexHeader, Columns] | None:
    """Decode a valid index, or None when it is missing or damaged."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if len(raw) < RECORDS_OFFSET:
        return None
    (magic, version, uidvalidity, uidnext, gen, hms, count, rcrc, mlen, mcrc, hcrc) = (
        INDEX_HEADER.unpack_from(raw)
    )
    if magic != INDEX_MAGIC or version != VERSION:
        return None
    if zlib.crc32(raw[: INDEX_HEADER_PREFIX.size]) != hcrc or mlen > META_SIZE:
        return None
    meta_raw = raw[HEADER_SIZE : HEADER_SIZE + mlen]
    if zlib.crc32(meta_raw) != mcrc:
        return None
    end = RECORDS_OFFSET + count * RECORD.size
    if len(raw) < end or zlib.crc32(memoryview(raw)[RECORDS_OFFSET:end]) != rcrc:
        return None
    try:
        meta = json.loads(meta_raw)
        files = {int(k): int(v) for k, v in meta["files"].items()}
        keywords = [str(k) for k in meta["keywords"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    cols = Columns()
    if count:
        mv = memoryview(raw)[RECORDS_OFFSET:end].cast("q")
        cols = Columns(*(mv[i::RECORD_FIELDS].tolist() for i in range(RECORD_FIELDS)))
    header = IndexHeader(uidvalidity, uidnext, gen, hms, count, rcrc, files, keywords)
    return header, cols


def read_header_only(path: Path) -> tuple[int, int, int] | None:
    """(uidvalidity, uidnext, highestmodseq) from an index whose header alone is intact.

    A rebuild uses it so UIDs are not reused when data was lost after the index.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(INDEX_HEADER.size)
    except OSError:
        return None
    if len(raw) < INDEX_HEADER.size:
        return None
    magic, version, uidvalidity, uidnext, _g, hms, *_rest, hcrc = INDEX_HEADER.unpack_from(raw)
    if magic != INDEX_MAGIC or version != VERSION:
        return None
    if zlib.crc32(raw[: INDEX_HEADER_PREFIX.size]) != hcrc:
        return None
    return uidvalidity, uidnext, hms


def write_full(path: Path, header: IndexHeader, cols: Columns) -> None:
    """Write a complete index atomically (create, rebuild, compaction)."""
    rows = cols.pack()
    header.count = len(cols)
    header.records_crc = zlib.crc32(rows)
    head = _header_bytes(header)
    write_atomic(path, [head, b"\0" * (RECORDS_OFFSET - len(head)), rows])


class IndexWriter:
    """The open index of a mailbox: appends rows and rewrites the header in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR)

    def append(self, header: IndexHeader, new_rows: bytes) -> None:
        """Write rows after the committed ones, then the header; one fdatasync."""
        os.pwrite(self.fd, new_rows, RECORDS_OFFSET + header.count * RECORD.size)
        header.records_crc = zlib.crc32(new_rows, header.records_crc)
        header.count += len(new_rows) // RECORD.size
        os.pwrite(self.fd, _header_bytes(header), 0)
        fdatasync(self.fd)

    def rewrite_header(self, header: IndexHeader) -> None:
        os.pwrite(self.fd, _header_bytes(header), 0)
        fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)
