"""The Queue directory on disk: spool files written, appended, read and removed.

Every method here is synchronous and blocking; the Queue calls them through
``anyio.to_thread.run_sync``. ``fsync`` is injectable so tests can count the calls
(and a benchmark can see what group commit saves).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from unigate.queue.errors import QueueLocked

SUFFIX = ".msg"
TEMP_SUFFIX = ".tmp"
LOCK_NAME = ".lock"


class SpoolDirectory:
    """The ``Queue`` directory and its ``BadFiles`` sibling."""

    def __init__(
        self,
        path: Path,
        *,
        bad_files: Path | None = None,
        fsync: Callable[[int], None] = os.fsync,
    ):
        self.path = Path(path)
        self.bad_files = bad_files if bad_files is not None else self.path.parent / "BadFiles"
        self.fsync = fsync
        self._lock_fd: int | None = None

    def ensure(self) -> None:
        """Create the directory if needed (and make its creation durable)."""
        if self.path.is_dir():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    # -- locking: one process owns the directory at a time ---------------------------

    def lock(self) -> None:
        """Take the directory lock; :class:`QueueLocked` if another process has it."""
        self.ensure()
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise QueueLocked(f"{self.path} is in use by a running server") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the directory lock."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- writing --------------------------------------------------------------------

    def write_spool(self, name: str, content: bytes) -> Path:
        """Write ``<name>.tmp``, fsync it, rename it to ``<name>.msg``, fsync the directory."""
        temp = self.path / f"{name}{TEMP_SUFFIX}"
        final = self.path / f"{name}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(temp, flags, 0o600)
        except FileNotFoundError:
            self.ensure()
            fd = os.open(temp, flags, 0o600)
        try:
            view = memoryview(content)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            self.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        os.close(fd)
        os.rename(temp, final)
        self.sync_directory()
        return final

    def sync_directory(self) -> None:
        """fsync the directory itself, so renames and creations are durable."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)

    def append(self, batches: Iterable[tuple[Path, bytes]]) -> None:
        """Append records to spool files, then fsync each touched file once.

        A file that is gone (its messages are all done) is skipped.
        """
        grouped: dict[Path, list[bytes]] = {}
        for path, data in batches:
            grouped.setdefault(path, []).append(data)
        for path, parts in grouped.items():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:
                continue
            try:
                os.write(fd, b"".join(parts))
                self.fsync(fd)
            finally:
                os.close(fd)

    def truncate(self, path: Path, length: int) -> None:
        """Cut a torn tail off a spool file."""
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, length)
            self.fsync(fd)
        finally:
            os.close(fd)

    # -- reading and removing ---------------------------------------------------------

    def scan(self) -> tuple[list[Path], list[Path]]:
        """The spool files (``*.msg``) and the leftovers (``*.tmp``), in name order."""
        self.ensure()
        spools = sorted(self.path.glob(f"*{SUFFIX}"))
        temps = sorted(self.path.glob(f"*{TEMP_SUFFIX}"))
        return spools, temps

    @staticmethod
    def read(path: Path) -> bytes:
        """A whole file."""
        return path.read_bytes()

    @staticmethod
    def read_range(path: Path, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset``."""
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read(size)

    @staticmethod
    def remove(path: Path) -> None:
        """Delete a file that is no longer needed."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def quarantine(self, path: Path) -> Path:
        """Move a file the Queue cannot parse into ``BadFiles``."""
        self.bad_files.mkdir(parents=True, exist_ok=True)
        target = self.bad_files / path.name
        counter = 0
        while target.exists():
            counter += 1
            target = self.bad_files / f"{path.name}.{counter}"
        shutil.move(path, target)
        return target
