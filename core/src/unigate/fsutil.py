"""Atomic file replacement: readers see the old content or the new, never a mix.

The data is written to a temporary file in the target's directory (same file system,
so the rename is atomic), flushed to disk, renamed over the target, and the
directory is flushed so the rename itself survives a crash.  On any error the
temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

__all__ = ["atomic_write_bytes", "atomic_write_text", "fsync_dir"]

_DEFAULT_MODE = 0o600


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush directory ``path`` (its entries: creations, renames) to disk.

    A no-op where directories cannot be opened (Windows).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (PermissionError, IsADirectoryError):  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    fsync: bool = True,
    mode: int | None = None,
) -> None:
    """Replace the file ``path`` with ``data`` atomically.

    :param fsync: flush the file and its directory (durability); False skips both.
    :param mode: permission bits of the new file; None keeps those of the file being
        replaced (through a symlink), or 0o600 for a new file (settings hold secrets).
    Symbolic links at ``path`` are replaced, not followed.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = _DEFAULT_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            while view:
                written = f.write(view)
                view = view[written:]
            f.flush()
            os.fchmod(f.fileno(), mode)
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(directory)


def atomic_write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    encoding: str = "utf-8",
    fsync: bool = True,
    mode: int | None = None,
) -> None:
    """Replace the file ``path`` with ``text`` encoded (no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync, mode=mode)
