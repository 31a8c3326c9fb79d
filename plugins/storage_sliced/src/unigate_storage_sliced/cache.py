"""The derived-data cache ``cache.dat``: envelope, body structure, ... per message.

Why separate and never fsynced: it is rebuilt by callers at any time, so writing it
must cost no more than an append to the page cache. Entries are appended
(``<IHI`` uid, key length, value length + key + value); the last entry for a key
wins; a torn tail simply ends the read.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_ENTRY = struct.Struct("<IHI")


class DerivedCache:
    """Lazily loaded; the file is read on the first ``get``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[tuple[int, str], bytes] | None = None

    def _load(self) -> dict[tuple[int, str], bytes]:
        if self._data is None:
            self._data = {}
            try:
                raw = self.path.read_bytes()
            except OSError:
                raw = b""
            pos = 0
            while pos + _ENTRY.size <= len(raw):
                uid, klen, vlen = _ENTRY.unpack_from(raw, pos)
                start = pos + _ENTRY.size
                end = start + klen + vlen
                if end > len(raw):
                    break
                try:
                    key = raw[start : start + klen].decode("utf-8")
                except UnicodeDecodeError:
                    break
                self._data[(uid, key)] = raw[start + klen : end]
                pos = end
        return self._data

    def get(self, uid: int, key: str) -> bytes | None:
        return self._load().get((uid, key))

    def put(self, uid: int, key: str, value: bytes) -> None:
        data = self._load()
        data[(uid, key)] = value
        k = key.encode("utf-8")
        try:
            with open(self.path, "ab") as f:
                f.write(_ENTRY.pack(uid, len(k), len(value)) + k + value)
        except OSError:
            pass  # best effort by contract

    def forget(self, uids: set[int]) -> None:
        """Drop expunged messages' entries (rewrites the file, still not fsynced)."""
        data = self._load()
        for key in [k for k in data if k[0] in uids]:
            del data[key]
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                for (uid, key), value in data.items():
                    k = key.encode("utf-8")
                    f.write(_ENTRY.pack(uid, len(k), len(value)) + k + value)
            os.replace(tmp, self.path)
        except OSError:
            pass
