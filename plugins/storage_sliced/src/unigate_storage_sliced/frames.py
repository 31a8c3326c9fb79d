"""Data files: the self-describing frames messages are stored in, and their scanner.

Each frame repeats what the index holds (UID, flags, date, MODSEQ, length) and
carries two CRC-32s, so a missing or damaged index is rebuilt by scanning the data
files, and a torn or corrupt frame is recognised and skipped.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from unigate.api import crc32
from unigate_storage_sliced.layout import (
    DATA_HEADER,
    DATA_MAGIC,
    FRAME,
    FRAME_MAGIC,
    FRAME_PREFIX,
    VERSION,
)

_U32 = struct.Struct("<I")


@dataclass(slots=True)
class ScannedFrame:
    """A valid frame found by :func:`scan`."""

    uid: int
    sysbits: int
    keywords: list[str]
    internal_date: int
    modseq: int
    body_offset: int
    length: int


def data_header(uidvalidity: int, number: int, generation: int) -> bytes:
    """The header a data file starts with."""
    return DATA_HEADER.pack(DATA_MAGIC, VERSION, uidvalidity, number, generation, 0)


def parse_data_header(raw: bytes) -> tuple[int, int, int] | None:
    """(uidvalidity, number, generation) of a data file header, None if not one."""
    if len(raw) < DATA_HEADER.size:
        return None
    magic, version, uidvalidity, number, generation, _ = DATA_HEADER.unpack_from(raw)
    if magic != DATA_MAGIC or version != VERSION:
        return None
    return uidvalidity, number, generation


def frame(
    uid: int, sysbits: int, keywords: list[str], internal_date: int, modseq: int, body: bytes
) -> tuple[bytes, int]:
    """Return (frame header + keyword names, offset of the body within the frame)."""
    head = frame_head(uid, sysbits, keywords, internal_date, modseq, len(body), crc32(body))
    return head, len(head)


def frame_head(
    uid: int,
    sysbits: int,
    keywords: list[str],
    internal_date: int,
    modseq: int,
    length: int,
    body_crc: int,
) -> bytes:
    """Frame header + keyword names for a body of ``length`` bytes whose CRC is known."""
    kw = keyword_bytes(keywords) if keywords else b""
    prefix = FRAME_PREFIX.pack(
        FRAME_MAGIC, uid, sysbits, len(kw), internal_date, modseq, length, body_crc
    )
    return prefix + _U32.pack(crc32(kw, crc32(prefix)) if kw else crc32(prefix)) + kw


def keyword_bytes(keywords: list[str]) -> bytes:
    """The keyword names as a frame holds them."""
    return " ".join(keywords).encode("utf-8")


def body_crc_at(fd: int, start: int, uid: int, kwlen: int, length: int) -> int | None:
    """The body CRC in the frame header at ``start``; None unless that header is whole
    (magic, header CRC) and is the one expected (UID, keyword-names and body length)."""
    raw = os.pread(fd, FRAME.size + kwlen, start)
    if len(raw) < FRAME.size + kwlen:
        return None
    magic, f_uid, _sys, f_kwlen, _date, _modseq, f_length, body_crc, head_crc = FRAME.unpack_from(
        raw
    )
    if magic != FRAME_MAGIC or (f_uid, f_kwlen, f_length) != (uid, kwlen, length):
        return None
    if crc32(raw[FRAME.size :], crc32(raw[: FRAME.size - 4])) != head_crc:
        return None
    return int(body_crc)


def scan(data: bytes, start: int) -> tuple[list[ScannedFrame], int, int]:
    """Scan frames in ``data`` from ``start``.

    Returns (valid frames, end of the last valid frame, bytes skipped as corrupt).
    Corruption in the middle is skipped by searching for the next valid frame
    header; what follows the last valid frame is a torn tail.
    """
    out: list[ScannedFrame] = []
    pos = start
    good_end = start
    skipped = 0
    n = len(data)
    size = FRAME.size
    while pos + size <= n:
        if data[pos : pos + 4] == FRAME_MAGIC:
            _m, uid, sysbits, kwlen, date, modseq, length, body_crc, head_crc = FRAME.unpack_from(
                data, pos
            )
            kw_end = pos + size + kwlen
            if kw_end <= n:
                crc = crc32(data[kw_end - kwlen : kw_end], crc32(data[pos : pos + size - 4]))
                if crc == head_crc and length >= 0 and kw_end + length <= n:
                    body = data[kw_end : kw_end + length]
                    if crc32(body) == body_crc:
                        kws = data[kw_end - kwlen : kw_end].decode("utf-8").split()
                        out.append(ScannedFrame(uid, sysbits, kws, date, modseq, kw_end, length))
                        skipped += pos - good_end
                        pos = good_end = kw_end + length
                        continue
        nxt = data.find(FRAME_MAGIC, pos + 1)
        if nxt == -1:
            break
        pos = nxt
    return out, good_end, skipped
