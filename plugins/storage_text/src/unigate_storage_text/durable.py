"""Small fsync helpers: the plugin's own (plugins may not import ``unigate.fsutil``).

Why here: a mailbox write is durable only when the file's data *and* the directory
entry that names it reach the disk. These three helpers are all the text driver needs.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or create inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, chunks: list[bytes] | bytes) -> None:
    """Replace ``path`` with ``chunks`` atomically: temp file, fsync, rename, fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        if isinstance(chunks, bytes):
            f.write(chunks)
        else:
            f.writelines(chunks)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fdatasync(fd: int) -> None:
    """``os.fdatasync`` where it exists, ``os.fsync`` elsewhere (macOS)."""
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)
