"""Reading and writing data format files (``account.settings``, ``Domain.settings``...).

Files are UTF-8 (a leading byte-order mark is tolerated on read) and hold one object
as multi-line text.  Writes are pretty, end with a newline and are atomic: a reader
sees the old file or the new one, never a mix (see :mod:`unigate.fsutil`).
"""

from __future__ import annotations

import os

from ..fsutil import atomic_write_text
from .errors import DataFormatError
from .parser import loads
from .serializer import dumps
from .values import Value

__all__ = ["read_file", "write_file"]


def read_file(path: str | os.PathLike[str]) -> Value:
    """Read and parse the object stored in ``path``.

    Raises OSError if the file cannot be read and DataFormatError (with line and
    column) if it is not valid UTF-8 or not exactly one valid object.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        head = data[: exc.start].decode("utf-8-sig", errors="replace")
        raise DataFormatError(f"{os.fspath(path)}: invalid UTF-8", len(head), head + " ") from None
    return loads(text)


def write_file(
    path: str | os.PathLike[str], value: Value, *, fsync: bool = True, mode: int | None = None
) -> None:
    """Write ``value`` to ``path`` as pretty UTF-8 text, atomically.

    ``mode``: permission bits for the file (default: keep those of the file being
    replaced, else 0o600).  ``fsync=False`` skips the flushes (tests, scratch data).
    """
    atomic_write_text(path, dumps(value, pretty=True) + "\n", fsync=fsync, mode=mode)
