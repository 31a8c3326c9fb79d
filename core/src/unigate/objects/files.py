"""Settings files in the manual's text data format, cached and validated by stat.

Every object lives in small dictionary files (``account.settings``, ``Domain.settings``,
``Aliases.data`` ...). The running server and the ``unigate`` command share them: the
command writes a file atomically (temp file, fsync, rename), and the server sees the
change because each cached file is revalidated by ``stat`` (inode, size, modification
time).

A ``stat`` per lookup was a measurable part of the mail hot path (several lookups per
message), so a validated entry is trusted for ``revalidate_after`` seconds (1 s by
default) before the next ``stat``: a change made by another process (the ``unigate``
command, an editor) shows within a second. A write through any :class:`FileCache` of
this process bumps a process-wide generation that makes every cache revalidate at its
next read, so changes made in-process (the admin API, tests) show at once.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from unigate import dataformat

#: bumped by every write through any FileCache of this process
_generation = itertools.count(1)
_current = [0]

_Stamp = tuple[int, int, int] | None
T = TypeVar("T")
#: derived values kept at most (then all are dropped and recomputed on demand)
MAX_DERIVED = 50_000


def _bump() -> None:
    _current[0] = next(_generation)


class FileCache:
    """Parsed dictionary files, keyed by path, revalidated by stat at most once a second."""

    def __init__(self, revalidate_after: float = 1.0) -> None:
        self.revalidate_after = revalidate_after
        #: path -> (stamp or None for a missing file, value, checked at, generation)
        self._entries: dict[Path, tuple[_Stamp, dict[str, Any], float, int]] = {}
        #: key -> (value, computed at, generation): see `derived`
        self._derived: dict[Hashable, tuple[Any, float, int]] = {}
        self._lock = threading.Lock()

    def read(self, path: Path, *, fresh: bool = False) -> dict[str, Any]:
        """The file's dictionary ({} when it does not exist). Callers must not mutate it.

        ``fresh``: stat the file now even if it was validated less than a second ago.
        """
        entry = self._entries.get(path)
        now = time.monotonic()
        if (
            not fresh
            and entry is not None
            and entry[3] == _current[0]
            and now - entry[2] < self.revalidate_after
        ):
            return entry[1]
        generation = _current[0]
        try:
            st = os.stat(path)
        except FileNotFoundError:
            with self._lock:
                self._entries[path] = (None, {}, now, generation)
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if entry is not None and entry[0] == stamp:
            value = entry[1]
        else:
            value = dataformat.read_file(path)
            if not isinstance(value, dict):
                raise ValueError(f"{path}: expected a dictionary")
        with self._lock:
            self._entries[path] = (stamp, value, now, generation)
        return value

    def write(self, path: Path, value: dict[str, Any]) -> None:
        """Write a dictionary atomically and forget the cached copy."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            dataformat.write_file(path, value)
        finally:
            with self._lock:
                self._entries.pop(path, None)
            _bump()

    def update(self, path: Path, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply changes (a value of None removes the key) and write; returns the new dict."""
        current = dict(self.read(path, fresh=True))
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
        _bump()

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value computed from cached files, kept as long as those files are trusted.

        Why: an effective setting walks the account, domain and server files (paths
        built, several dictionary reads) and the mail path asks for a few per message.
        The answer is kept for ``revalidate_after`` seconds and dropped by any write in
        this process, like the files it came from; a change made by another process
        therefore shows within two such periods.
        """
        now = time.monotonic()
        entry = self._derived.get(key)
        if entry is not None and entry[2] == _current[0] and now - entry[1] < self.revalidate_after:
            return entry[0]  # type: ignore[no-any-return]
        generation = _current[0]
        value = compute()
        if len(self._derived) >= MAX_DERIVED:
            self._derived.clear()
        self._derived[key] = (value, now, generation)
        return value


def generation() -> int:
    """A number that changes whenever a settings file is written by this process.

    Caches derived from settings (a quota limit) key on it to see in-process changes
    at once, as :class:`FileCache` does.
    """
    return _current[0]


def invalidate_all() -> None:
    """Make every FileCache of this process revalidate at its next read."""
    _bump()
