"""IMAP sequence sets (RFC 9051 §9 ``sequence-set``) as a compact value type.

A set is a tuple of inclusive ranges; ``*`` (the largest number in use) is kept
symbolic as ``STAR`` (0) and resolved only when a caller supplies ``max``, and
``$`` (SEARCHRES, RFC 5182) is a distinct saved-result marker the session
substitutes.  Nothing here allocates per message unless ``iter`` is asked to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

STAR = 0  # stands for "*" in a range bound

__all__ = ["STAR", "SequenceSet", "SequenceSetError"]


class SequenceSetError(ValueError):
    """The text is not a valid sequence-set."""


def _bound(text: str) -> int:
    if text == "*":
        return STAR
    if not text.isdigit() or text[0] == "0" or not text.isascii():
        raise SequenceSetError(f"bad sequence number {text!r}")
    n = int(text)
    if n > 0xFFFFFFFF:
        raise SequenceSetError(f"sequence number out of range {text!r}")
    return n


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges ``(lo, hi)`` as written (``STAR`` = ``*``), or the saved result ``$``."""

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    @classmethod
    def parse(cls, text: str, *, max_ranges: int = 10000) -> SequenceSet:
        """Parse ``1:3,5,7:*`` or ``$``; raises `SequenceSetError`."""
        if text == "$":
            return cls(saved=True)
        if not text:
            raise SequenceSetError("empty sequence set")
        parts = text.split(",")
        if len(parts) > max_ranges:
            raise SequenceSetError("too many ranges in sequence set")
        out: list[tuple[int, int]] = []
        for part in parts:
            lo, sep, hi = part.partition(":")
            a = _bound(lo)
            b = _bound(hi) if sep else a
            out.append((a, b))
        return cls(tuple(out))

    @classmethod
    def from_numbers(cls, numbers: Iterable[int]) -> SequenceSet:
        """Build the most compact set covering ``numbers`` (any order, duplicates ok)."""
        out: list[tuple[int, int]] = []
        for n in sorted(set(numbers)):
            if out and out[-1][1] + 1 == n:
                out[-1] = (out[-1][0], n)
            else:
                out.append((n, n))
        return cls(tuple(out))

    def _resolved(self, max: int) -> Iterator[tuple[int, int]]:
        if self.saved:
            raise SequenceSetError("'$' must be substituted by the session first")
        for a, b in self.ranges:
            a = max if a == STAR else a
            b = max if b == STAR else b
            if a > b:
                a, b = b, a
            yield a, b

    def contains(self, n: int, max: int) -> bool:
        """Is ``n`` in the set when ``*`` means ``max``?"""
        return any(a <= n <= b for a, b in self._resolved(max))

    def iter(self, max: int) -> Iterator[int]:
        """Distinct members in ascending order, clipped to ``1..max`` when ``max`` > 0.

        ``max`` 0 means an empty mailbox: every member is then out of range.
        """
        merged = self.normalized(max).ranges
        for a, b in merged:
            yield from range(a, b + 1)

    def normalized(self, max: int) -> SequenceSet:
        """Resolved, sorted, merged ranges clipped to ``1..max``."""
        spans = sorted(
            (builtins_max(a, 1), min(b, max)) for a, b in self._resolved(max) if a <= max and b >= 1
        )
        out: list[tuple[int, int]] = []
        for a, b in spans:
            if out and a <= out[-1][1] + 1:
                out[-1] = (out[-1][0], builtins_max(out[-1][1], b))
            else:
                out.append((a, b))
        return SequenceSet(tuple(out))

    def uses_star(self) -> bool:
        return any(STAR in r for r in self.ranges)

    def __str__(self) -> str:
        if self.saved:
            return "$"

        def one(n: int) -> str:
            return "*" if n == STAR else str(n)

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)


def builtins_max(a: int, b: int) -> int:
    return a if a > b else b
