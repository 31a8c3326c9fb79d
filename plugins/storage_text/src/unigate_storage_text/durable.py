"""Small fsync helpers: the plugin's own (plugins may not import ``unigate.fsutil``).

Why here: a mailbox write is durable only when the file's data *and* the directory
entry that names it reach the disk. These helpers are all the text driver needs, with
the kernel-side copy a rewrite moves unchanged messages with.
"""

from __future__ import annotations

import errno
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


def copy_range(src: int, dst: int, count: int, src_at: int, dst_at: int) -> None:
    """Copy ``count`` bytes between two files, inside the kernel where it can.

    ``copy_file_range`` moves page-cache pages without a userspace buffer; where it is
    missing or refused (another filesystem, an old kernel), ``pread``/``pwrite`` in
    1 MiB pieces. A source shorter than asked is an ``OSError``.
    """
    if _HAS_COPY_FILE_RANGE:
        try:
            while count:
                n = os.copy_file_range(src, dst, count, src_at, dst_at)
                if n == 0:
                    raise OSError(errno.EIO, "mailbox file shorter than expected")
                count, src_at, dst_at = count - n, src_at + n, dst_at + n
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    while count:
        data = os.pread(src, min(count, 1 << 20), src_at)
        if not data:
            raise OSError(errno.EIO, "mailbox file shorter than expected")
        write_all(dst, data, dst_at)
        count, src_at, dst_at = count - len(data), src_at + len(data), dst_at + len(data)


def write_all(fd: int, data: bytes, at: int) -> None:
    """``pwrite`` until every byte is written."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, at)
        view, at = view[n:], at + n


_HAS_COPY_FILE_RANGE = hasattr(os, "copy_file_range")
