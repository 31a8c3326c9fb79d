"""A sequential output file fed with source ranges and new bytes (the whole-file rewrite).

Why: an expunge rewrites the mailbox file, and most messages move unchanged (their
From-line already says everything), so their bytes are queued as ranges of the old
file and adjacent ranges are copied as one run inside the kernel: no userspace copy
and no Python object per unchanged message.
"""

from __future__ import annotations

from unigate.api import copy_range, write_all


class RunCopier:
    """Appends to ``dst`` from offset 0; ``copy`` ranges of ``src`` or ``write`` bytes."""

    def __init__(self, src: int, dst: int) -> None:
        self.src = src
        self.dst = dst
        self.size = 0
        self._run_start = 0
        self._run_len = 0

    def copy(self, start: int, count: int) -> None:
        """Queue ``count`` bytes of the source at ``start``."""
        if self._run_len and self._run_start + self._run_len == start:
            self._run_len += count
        else:
            self.flush()
            self._run_start, self._run_len = start, count
        self.size += count

    def write(self, data: bytes) -> None:
        self.flush()
        write_all(self.dst, data, self.size)
        self.size += len(data)

    def flush(self) -> None:
        """Copy the queued run (its bytes end at ``size``)."""
        if self._run_len:
            copy_range(
                self.src, self.dst, self._run_len, self._run_start, self.size - self._run_len
            )
            self._run_len = 0
