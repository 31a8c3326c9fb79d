"""The derived-data cache ``cache.dat``: envelope, body structure, ... per message.

Why separate and never fsynced: it is rebuilt by callers at any time, so writing it
must cost no more than an append to the page cache. Entries are appended
(``<IHI`` uid, key length, value length + key + value); the last entry for a key
wins; a torn tail simply ends the read.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from collections.abc import Iterable
from pathlib import Path

_ENTRY = struct.Struct("<IHI")


class DerivedCache:
    """Lazily loaded; the file is read on the first ``get``.

    Loading scans the entry headers once and keeps, per key, {uid: (offset, end)} into
    the file's bytes: a value is sliced when asked for. Why: after a restart the first
    FETCH 1:* ENVELOPE loads the whole file, and slicing every value at load time cost
    three times the scan (a 10,000-message mailbox: 7 ms instead of 28 ms).

    The file is mapped, not read (POSIX): a 100,000-message mailbox has a 97 MB cache,
    and reading it was 60 ms of the first FETCH 1:* ENVELOPE after a restart, while
    the scan through the mapping touches only the pages of the entry heads and of the
    values asked for (40 ms for the same file). The mapping is read-only and this
    process never truncates the file in place (appends; `forget` writes a new file and
    renames it over), as Dovecot maps its own cache file.

    `get_many` answers with read-only ``memoryview`` slices of the mapping, not copies:
    copying 97 MB of values into new ``bytes`` (fresh memory, page faults included)
    was a sixth of that FETCH. A view keeps the mapping alive while anyone holds it,
    even after `close` or `forget` (the old file's pages stay until the last view goes).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        #: the file as loaded (values not yet superseded point into it): a read-only
        #: mapping of it (as a memoryview: slices are views, not copies), or its bytes
        self._raw: bytes | memoryview = b""
        #: key -> {uid: value}, the value either bytes (put since) or (start, end) in _raw
        self._tables: dict[str, dict[int, bytes | tuple[int, int]]] | None = None

    def _load(self) -> dict[str, dict[int, bytes | tuple[int, int]]]:
        tables = self._tables
        if tables is not None:
            return tables
        raw = _map(self.path)
        by_bytes: dict[bytes, dict[int, bytes | tuple[int, int]]] = {}
        unpack, size, n = _ENTRY.unpack_from, _ENTRY.size, len(raw)
        last: bytes | None = None
        table: dict[int, bytes | tuple[int, int]] = {}
        pos = 0
        while pos + size <= n:
            uid, klen, vlen = unpack(raw, pos)
            start = pos + size
            vstart = start + klen
            end = vstart + vlen
            if end > n:
                break  # a torn tail
            key = raw[start:vstart]
            if key != last:  # entries of one key come in runs: one look-up per run
                table = by_bytes.setdefault(key, {})
                last = key
            table[uid] = (vstart, end)
            pos = end
        tables = {}
        for key, entries in by_bytes.items():
            try:
                tables[key.decode("utf-8")] = entries
            except UnicodeDecodeError:
                continue  # a damaged entry: its values simply miss
        self._raw = memoryview(raw) if isinstance(raw, mmap.mmap) else raw
        self._tables = tables
        return tables

    def get_many(
        self, uids: Iterable[int], key: str, skip: set[int]
    ) -> dict[int, bytes | memoryview]:
        """{uid: value} of ``key`` for ``uids`` not in ``skip``; misses are left out.

        One call for a FETCH batch: after a restart a FETCH 1:* ENVELOPE of 100,000
        messages asks for every value, and a `get` per message cost twice this loop.
        Values loaded from the mapped file are read-only views into it (see the class).
        """
        table = self._load().get(key)
        out: dict[int, bytes | memoryview] = {}
        if not table:
            return out
        raw, find = self._raw, table.get
        for uid in uids:
            value = find(uid)
            if value is None or uid in skip:
                continue
            out[uid] = raw[value[0] : value[1]] if type(value) is tuple else value  # type: ignore[index,assignment]
        return out

    def get(self, uid: int, key: str) -> bytes | None:
        table = self._load().get(key)
        value = None if table is None else table.get(uid)
        if type(value) is tuple:
            return bytes(self._raw[value[0] : value[1]])
        return value  # type: ignore[return-value]

    def put(self, uid: int, key: str, value: bytes) -> None:
        value = bytes(value)  # a view handed back (a value read, then put) is copied once
        self._load().setdefault(key, {})[uid] = value
        try:
            with open(self.path, "ab") as f:
                f.write(_entry(uid, key.encode("utf-8"), value))
        except OSError:
            pass  # best effort by contract

    def forget(self, uids: set[int]) -> None:
        """Drop expunged messages' entries (rewrites the file, still not fsynced).

        The kept entries are re-pointed into the rewritten bytes, as a load would.
        """
        tables = self._load()
        out = bytearray()
        for key, table in tables.items():
            k = key.encode("utf-8")
            for uid in [u for u in table if u in uids]:
                del table[uid]
            for uid in table:
                value = self.get(uid, key)
                assert value is not None
                out += _entry(uid, k, value)
                table[uid] = (len(out) - len(value), len(out))
        self._unmap()
        self._raw = bytes(out)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_bytes(self._raw)
            os.replace(tmp, self.path)
        except OSError:
            pass

    def close(self) -> None:
        """Release the mapping (the cache loads again on its next use)."""
        self._unmap()
        self._raw, self._tables = b"", None

    def _unmap(self) -> None:
        """Unmap now unless views handed out still use the mapping (it goes with them)."""
        raw = self._raw
        if isinstance(raw, memoryview):
            mapping = raw.obj
            raw.release()
            with contextlib.suppress(BufferError):
                mapping.close()  # type: ignore[union-attr]


def _map(path: Path) -> bytes | mmap.mmap:
    """The file's content: mapped read-only where the platform allows, else read."""
    try:
        with open(path, "rb") as f:
            if os.name == "posix" and os.fstat(f.fileno()).st_size:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            return f.read()
    except OSError:
        return b""


def _entry(uid: int, key: bytes, value: bytes) -> bytes:
    """One entry of the file: the `_ENTRY` head, the key and the value."""
    return _ENTRY.pack(uid, len(key), len(value)) + key + value
