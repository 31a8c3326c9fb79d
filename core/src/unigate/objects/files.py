"""Settings files in the manual's text data format, cached and validated by stat.

Every object lives in small dictionary files (``account.settings``, ``Domain.settings``,
``Aliases.data`` ...). The running server and the ``unigate`` command share them: the
command writes a file atomically (temp file, fsync, rename), and the server sees the
change at its next lookup because each cached file is revalidated by ``stat`` (inode,
size, modification time). That is what makes administration take effect without a
restart, at the cost of one ``stat`` per lookup.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from unigate import dataformat


class FileCache:
    """Parsed dictionary files, keyed by path, revalidated by stat on every read."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def read(self, path: Path) -> dict[str, Any]:
        """The file's dictionary ({} when it does not exist). Callers must not mutate it."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._entries.pop(path, None)
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        value = dataformat.read_file(path)
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a dictionary")
        with self._lock:
            self._entries[path] = (stamp, value)
        return value

    def write(self, path: Path, value: dict[str, Any]) -> None:
        """Write a dictionary atomically and forget the cached copy."""
        path.parent.mkdir(parents=True, exist_ok=True)
        dataformat.write_file(path, value)
        with self._lock:
            self._entries.pop(path, None)

    def update(self, path: Path, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply changes (a value of None removes the key) and write; returns the new dict."""
        current = dict(self.read(path))
        for key, value in changes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self.write(path, current)
        return current

    def forget(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(path, None)
