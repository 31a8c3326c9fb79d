"""The ``.bdx`` index of a text mailbox (layout version 1): read instead of parsing.

Layout (little-endian)::

    header  "<8sIB3xQQQII" = magic b"UGMBXBDX", version 1, dirty flag, pad,
            st_ino of the .mbox, indexed_size (bytes of the .mbox the records cover),
            reserved, record count, keyword-blob length
    records count x "<IQIQQqQIB3x" = uid, From-line offset, From-line width,
            stored body length, message size, internal date, modseq,
            system flag bits (bit i = FLAG_LETTERS[i]), no-EOL marker
    blob    UTF-8 JSON {"<uid>": [keyword, ...]} for messages with keywords

The index is valid only when it is clean, names the current inode and covers a
prefix of the file; bytes after ``indexed_size`` are parsed (appends keep the index
usable). A flag change sets the dirty byte (fsynced) before touching the mbox, so a
crash between the two makes the next open parse the whole file.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from unigate.api import fdatasync, write_atomic
from unigate_storage_text.fromline import FLAG_LETTERS

MAGIC = b"UGMBXBDX"
VERSION = 1
HEADER = struct.Struct("<8sIB3xQQQII")
RECORD = struct.Struct("<IQIQQqQIB3x")
DIRTY_OFFSET = 12
_BITS = {name.lower(): 1 << i for i, (name, _letter) in enumerate(FLAG_LETTERS)}
_NAMES = [name for name, _letter in FLAG_LETTERS]


@dataclass(slots=True)
class IndexRow:
    """One message as the index stores it."""

    uid: int
    line_off: int
    line_len: int
    stored_len: int
    size: int
    internal_date: int
    modseq: int
    flags: frozenset[str]
    no_eol: bool


def flag_bits(flags: frozenset[str]) -> tuple[int, list[str]]:
    """System flag bits and the remaining keywords."""
    bits = 0
    keywords: list[str] = []
    for f in flags:
        bit = _BITS.get(f.lower())
        if bit is None:
            keywords.append(f)
        else:
            bits |= bit
    return bits, sorted(keywords)


def bits_to_flags(bits: int) -> list[str]:
    """The system flag names of ``bits``."""
    return [name for i, name in enumerate(_NAMES) if bits >> i & 1]


def write(path: Path, st_ino: int, indexed_size: int, rows: list[IndexRow]) -> None:
    """Write a clean index atomically."""
    keywords: dict[str, list[str]] = {}
    parts: list[bytes] = []
    pack = RECORD.pack
    for r in rows:
        bits, kws = flag_bits(r.flags)
        if kws:
            keywords[str(r.uid)] = kws
        parts.append(
            pack(
                r.uid,
                r.line_off,
                r.line_len,
                r.stored_len,
                r.size,
                r.internal_date,
                r.modseq,
                bits,
                1 if r.no_eol else 0,
            )
        )
    blob = json.dumps(keywords).encode()
    header = HEADER.pack(MAGIC, VERSION, 0, st_ino, indexed_size, 0, len(rows), len(blob))
    write_atomic(path, [header, *parts, blob])


#: what :func:`read` returns per message, in :class:`IndexRow` field order
RowTuple = tuple[int, int, int, int, int, int, int, frozenset[str], bool]


def read(path: Path, st_ino: int, file_size: int) -> tuple[int, list[RowTuple]] | None:
    """Return ``(indexed_size, rows)`` when the index is valid for the mbox, else None."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if len(raw) < HEADER.size:
        return None
    magic, version, dirty, ino, indexed, _res, count, blob_len = HEADER.unpack_from(raw)
    if magic != MAGIC or version != VERSION or dirty or ino != st_ino or indexed > file_size:
        return None
    end = HEADER.size + count * RECORD.size
    if len(raw) != end + blob_len:
        return None
    try:
        keywords: dict[str, list[str]] = json.loads(raw[end:])
    except ValueError:
        return None
    if not isinstance(keywords, dict):
        return None
    cache: dict[int, frozenset[str]] = {}
    rows: list[RowTuple] = []
    append = rows.append
    for uid, off, llen, slen, size, date, modseq, bits, no_eol in RECORD.iter_unpack(
        raw[HEADER.size : end]
    ):
        kws = keywords.get(str(uid)) if keywords else None
        if kws:
            flags = frozenset(bits_to_flags(bits) + kws)
        else:
            flags = cache.get(bits)
            if flags is None:
                flags = cache[bits] = frozenset(bits_to_flags(bits))
        append((uid, off, llen, slen, size, date, modseq, flags, no_eol == 1))
    return indexed, rows


def mark_dirty(path: Path) -> None:
    """Set the dirty byte and make it durable before the mbox is changed in place."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"\x01", DIRTY_OFFSET)
        fdatasync(fd)
    finally:
        os.close(fd)
