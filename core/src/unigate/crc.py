"""CRC-32 (zlib's polynomial and values) from the fastest implementation installed.

Why: every sliced frame, journal entry, index checkpoint and spool record carries a
CRC-32, and an append computes one over each message's bytes. The stdlib's zlib (1.2.x
on most systems) does about 2 GB/s: 2 us for a 4 KB message, a sixth of a sliced
append batch's own time. zlib-ng's folding implementation (PCLMULQDQ/ARMv8 CRC where
the CPU has it) gives the same values at 0.36 us. Where the ``zlib-ng`` package is
missing, the stdlib's function is used: the files are the same either way.
"""

from __future__ import annotations

try:
    from zlib_ng.zlib_ng import crc32
except ImportError:  # pragma: no cover - the dependency is declared; a stripped install
    from zlib import crc32

__all__ = ["crc32"]
