"""Samples and routes of routing records: one optional wildcard, backslash escapes.

A *Sample* (the left part of a record) is literal text with at most one wildcard:

- ``*`` -- zero or more symbols (``sta*r`` matches ``star`` and ``staXXXr``);
- ``(size type)`` -- a typed substring; ``type`` is ``d`` (decimal digits), ``h`` (hex
  digits), ``L`` (letters and digits) or ``*`` (any symbol); ``size`` is ``nnn``
  (exactly), ``nnn+`` (at least) or ``nnn-mmm`` (between, ``mmm >= nnn``).

  The manual does not say what a missing size means. We read ``(d)``, ``(h)`` and
  ``(L)`` as "one or more" (the ENUM example ``<+(d)...>`` must match a whole phone
  number, so "exactly one" cannot be meant) and ``(*)`` as ``*`` (zero or more).

A *Route* (the right part) is literal text with at most one ``*``, replaced by the
substring the Sample's wildcard matched.

Escapes in both: ``\\\\`` is one backslash, ``\\*`` an asterisk, and in general ``\\x`` is
the symbol ``x`` taken literally (so ``\\(`` is a parenthesis, not a wildcard).
Matching is case-insensitive (domain and account names are); the wildcard value keeps
the case of the address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PatternError", "Route", "Sample", "Wildcard", "unescape"]

_SIZE_TYPE = re.compile(r"^(?:(\d+)(\+|-(\d+))?)?([dhL*])$")
_HEX = set("0123456789abcdefABCDEF")


class PatternError(ValueError):
    """A malformed sample or route (the table parser adds the line number)."""


@dataclass(frozen=True, slots=True)
class Wildcard:
    """The typed wildcard: ``kind`` in ``*dhL``, length between ``minimum`` and ``maximum`` (None = any)."""

    kind: str = "*"
    minimum: int = 0
    maximum: int | None = None

    def accepts(self, text: str) -> bool:
        n = len(text)
        if n < self.minimum or (self.maximum is not None and n > self.maximum):
            return False
        if self.kind == "d":
            return all("0" <= c <= "9" for c in text)
        if self.kind == "h":
            return all(c in _HEX for c in text)
        if self.kind == "L":
            return all(c.isascii() and c.isalnum() for c in text)
        return True


def _parse_wildcard(body: str, where: str) -> Wildcard:
    m = _SIZE_TYPE.match(body.strip())
    if not m:
        raise PatternError(f"bad wildcard ({body}) in {where!r}: expected (size type)")
    low, plus_or_range, high, kind = m.groups()
    if low is None:
        return Wildcard(kind, 0 if kind == "*" else 1, None)
    lo = int(low)
    if plus_or_range is None:
        return Wildcard(kind, lo, lo)
    if plus_or_range == "+":
        return Wildcard(kind, lo, None)
    hi = int(high)
    if hi < lo:
        raise PatternError(f"bad wildcard ({body}) in {where!r}: {hi} < {lo}")
    return Wildcard(kind, lo, hi)


def unescape(text: str) -> str:
    """Apply the backslash escapes (``\\\\`` -> ``\\``, ``\\*`` -> ``*``, ``\\x`` -> ``x``)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Sample:
    """A compiled sample: ``prefix`` + optional ``wildcard`` + ``suffix`` (prefix/suffix lower-cased)."""

    prefix: str
    wildcard: Wildcard | None
    suffix: str
    source: str

    @classmethod
    def parse(cls, text: str) -> Sample:
        """Compile a sample; :class:`PatternError` for two wildcards or a bad ``(size type)``."""
        parts: list[str] = []
        wildcard: Wildcard | None = None
        before = ""
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                parts.append(text[i + 1])
                i += 2
                continue
            if c in "*(":
                if wildcard is not None:
                    raise PatternError(f"more than one wildcard in {text!r}")
                if c == "*":
                    wildcard = Wildcard()
                    i += 1
                else:
                    end = text.find(")", i)
                    if end < 0:
                        raise PatternError(f"unclosed '(' in {text!r}")
                    wildcard = _parse_wildcard(text[i + 1 : end], text)
                    i = end + 1
                before = "".join(parts)
                parts = []
                continue
            parts.append(c)
            i += 1
        if wildcard is None:
            return cls("".join(parts).lower(), None, "", text)
        return cls(before.lower(), wildcard, "".join(parts).lower(), text)

    @property
    def exact(self) -> str | None:
        """The literal (lower-cased) text when there is no wildcard, else None."""
        return self.prefix if self.wildcard is None else None

    def match(self, text: str) -> str | None:
        """The substring the wildcard matched (``""`` without a wildcard), or None for no match."""
        low = text.lower()
        if self.wildcard is None:
            return "" if low == self.prefix else None
        p, s = len(self.prefix), len(self.suffix)
        if len(low) < p + s or not low.startswith(self.prefix) or not low.endswith(self.suffix):
            return None
        source = text if len(text) == len(low) else low  # lower() may change the length
        middle = source[p : len(source) - s]
        return middle if self.wildcard.accepts(middle) else None


@dataclass(frozen=True, slots=True)
class Route:
    """A compiled route: ``before`` + (the wildcard value if ``star``) + ``after``."""

    before: str
    star: bool
    after: str
    source: str

    @classmethod
    def parse(cls, text: str) -> Route:
        """Compile a route; :class:`PatternError` for more than one unescaped ``*``."""
        parts: list[str] = []
        star = False
        before = ""
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                parts.append(text[i + 1])
                i += 2
                continue
            if c == "*":
                if star:
                    raise PatternError(f"more than one wildcard in route {text!r}")
                star = True
                before = "".join(parts)
                parts = []
                i += 1
                continue
            parts.append(c)
            i += 1
        if not star:
            return cls("".join(parts), False, "", text)
        return cls(before, True, "".join(parts), text)

    def substitute(self, value: str) -> str:
        """The route text with ``*`` replaced by ``value``."""
        return f"{self.before}{value}{self.after}" if self.star else self.before
