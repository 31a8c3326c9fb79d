"""Flag sets <-> (system bits, keyword bits) with a per-mailbox keyword table.

Why: index rows are fixed-size integers so a cold open decodes them without
parsing; the eleven system flags are bits, custom keywords are ids into a table
(at most 63 per mailbox) whose names live in the index meta area, in the change
log and, by name, in each data frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from unigate_storage_sliced.layout import MAX_KEYWORDS, SYSTEM_BITS, SYSTEM_FLAGS


class FlagCodec:
    """Encodes and decodes flag sets; caches the frozensets it hands out."""

    def __init__(self, keywords: list[str] | None = None) -> None:
        self.keywords: list[str] = list(keywords or [])
        self._ids = {k.lower(): i for i, k in enumerate(self.keywords)}
        self._cache: dict[tuple[int, int], frozenset[str]] = {}

    def define(self, index: int, name: str) -> None:
        """Set keyword ``index`` (used when replaying the log)."""
        while len(self.keywords) <= index:
            self.keywords.append("")
        self.keywords[index] = name
        self._ids[name.lower()] = index
        self._cache.clear()

    def encode(self, flags: frozenset[str]) -> tuple[int, int, list[tuple[int, str]]]:
        """Return (system bits, keyword bits, newly defined (id, name) keywords).

        Atomic: when the keyword table would overflow, ValueError is raised and
        nothing is defined.
        """
        sysbits = 0
        kwbits = 0
        new: list[tuple[int, str]] = []
        pending: dict[str, int] = {}
        for f in flags:
            low = f.lower()
            bit = SYSTEM_BITS.get(low)
            if bit is not None:
                sysbits |= bit
                continue
            kid = self._ids.get(low)
            if kid is None:
                kid = pending.get(low)
            if kid is None:
                kid = len(self.keywords) + len(new)
                if kid >= MAX_KEYWORDS:
                    raise ValueError(f"more than {MAX_KEYWORDS} keywords in one mailbox")
                pending[low] = kid
                new.append((kid, f))
            kwbits |= 1 << kid
        for kid, name in new:
            self.keywords.append(name)
            self._ids[name.lower()] = kid
        return sysbits, kwbits, new

    def decode(self, sysbits: int, kwbits: int) -> frozenset[str]:
        """The flag set of a pair of bit fields (cached)."""
        key = (sysbits, kwbits)
        got = self._cache.get(key)
        if got is None:
            names = [n for i, n in enumerate(SYSTEM_FLAGS) if sysbits >> i & 1]
            names += [n for i, n in enumerate(self.keywords) if kwbits >> i & 1 and n]
            got = self._cache[key] = frozenset(names)
        return got

    def decode_many(self, sysbits: Sequence[int], kwbits: Sequence[int]) -> list[frozenset[str]]:
        """Decode columns quickly: one C-level dictionary look-up per message.

        The table fills itself (``__missing__``) with the few distinct bit patterns
        a mailbox has, so the columns are walked once, with no Python code per message.
        """
        if not any(kwbits):
            table = _Decoded(lambda s: self.decode(s, 0))
            return list(map(table.__getitem__, sysbits))
        pairs = _Decoded(lambda p: self.decode(*p))
        return list(map(pairs.__getitem__, zip(sysbits, kwbits, strict=True)))

    def keyword_names(self, kwbits: int) -> list[str]:
        """Names of the keywords in ``kwbits``."""
        return [n for i, n in enumerate(self.keywords) if kwbits >> i & 1 and n]


class _Decoded(dict):  # type: ignore[type-arg]
    """A dictionary that computes a missing value with ``make`` and keeps it."""

    def __init__(self, make: Callable[[Any], frozenset[str]]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: Any) -> frozenset[str]:
        value = self[key] = self._make(key)
        return value
