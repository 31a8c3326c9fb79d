"""Compaction's output: new data files filled by copying the live frames.

Why copy: a frame whose message's flags have not changed since it was written is
still exactly right, so it is copied byte for byte, adjacent frames in one run, in
the kernel (``copy_file_range``): no userspace copy of the message. Only each frame's
header is read and checked first (magic, header CRC, UID, lengths); a damaged header
is made anew around the body. A frame whose flags changed gets a new header but
keeps its body and the body CRC its old header holds, so damage already in a body
stays detectable instead of being signed anew.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from unigate.api import copy_range
from unigate_storage_sliced.layout import DATA_HEADER


class FrameWriter:
    """Places frames in new data files (numbered from ``first``), rolling at ``max_size``.

    ``new_file(number)`` creates a data file with its header and returns its fd.
    Source ranges are queued and coalesced while they are adjacent in the source
    and in the output; :meth:`finish` copies what is queued, fsyncs every new file
    and returns their lengths.
    """

    def __init__(self, new_file: Callable[[int], int], first: int, max_size: int) -> None:
        self._new_file = new_file
        self._next = first
        self._max = max_size
        self._num = 0
        self._fd = -1
        self._size = 0
        self._fds: list[int] = []
        self.lengths: dict[int, int] = {}
        #: queued copy: (source fd, source offset, byte count, output offset)
        self._run: tuple[int, int, int, int] | None = None

    def copy(self, src: int, start: int, count: int) -> tuple[int, int]:
        """Queue ``count`` source bytes at ``start``; returns (file number, offset)."""
        num, at = self._place(count)
        self._queue(src, start, count, at)
        return num, at

    def write_head(self, head: bytes, src: int, body_at: int, length: int) -> tuple[int, int]:
        """A new ``head`` followed by the source body; returns (file number, frame offset)."""
        num, at = self._place(len(head) + length)
        self._flush()
        os.pwrite(self._fd, head, at)
        self._queue(src, body_at, length, at + len(head))
        return num, at

    def write(self, data: bytes) -> tuple[int, int]:
        """Whole frame bytes made in memory; returns (file number, offset)."""
        num, at = self._place(len(data))
        self._flush()
        os.pwrite(self._fd, data, at)
        return num, at

    def finish(self) -> dict[int, int]:
        self._flush()
        if self._num:
            self.lengths[self._num] = self._size
        for fd in self._fds:
            os.fsync(fd)
        return self.lengths

    def _place(self, need: int) -> tuple[int, int]:
        if self._num == 0 or (self._size + need > self._max and self._size > DATA_HEADER.size):
            self._flush()
            if self._num:
                self.lengths[self._num] = self._size
            self._num, self._next = self._next, self._next + 1
            self._fd = self._new_file(self._num)
            self._fds.append(self._fd)
            self._size = DATA_HEADER.size
        at = self._size
        self._size += need
        return self._num, at

    def _queue(self, src: int, start: int, count: int, at: int) -> None:
        run = self._run
        if run is not None and run[0] == src and run[1] + run[2] == start and run[3] + run[2] == at:
            self._run = (src, run[1], run[2] + count, run[3])
            return
        self._flush()
        self._run = (src, start, count, at)

    def _flush(self) -> None:
        if self._run is not None:
            src, start, count, at = self._run
            copy_range(src, self._fd, count, start, at)
            self._run = None
