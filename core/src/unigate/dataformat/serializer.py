"""Canonical serializer of the text data format.

The output is deterministic: the same value always gives the same text, and
``loads(dumps(v)) == v``.  Rules:

* a string is an atom only if it matches ``[A-Za-z0-9]+``; anything else is quoted.
  In quoted strings ``"`` and ``\\`` are escaped, LF is written ``\\e`` (the
  format's end-of-line escape: a Python ``"\\n"`` is a line break), CR ``\\r``,
  TAB ``\\t``, other C0 controls and DEL ``\\nnn`` (3 decimal digits); non-ASCII is
  written raw (UTF-8 once encoded).  NUL and surrogates cannot be written;
* bytes are ``[base64]`` (``[]`` when empty); ints are decimal ``#n`` (int64 only;
  ``bool`` is refused); time stamps are always ``#TDD-MM-YYYY_hh:mm:ss``;
* dictionaries keep insertion order and end every pair with ``;``;
* compact output has no whitespace at all and no line breaks (XML included);
* pretty output puts each dictionary pair on its own line, indented by two spaces
  per level (``key = value;``); an array stays on one line when all its elements
  are atomic and it fits in 80 characters, else it has one element per line.
"""

from __future__ import annotations

import binascii
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from .errors import DataFormatError
from .parser import MAX_DEPTH
from .values import INT64_MAX, INT64_MIN, IPAddress, Timestamp, Value
from .xmlobj import dump_xml

__all__ = ["dumps"]

_ATOM_OUT = re.compile(r"[A-Za-z0-9]+")
_NEEDS_WORK = re.compile('["\\\\\x00-\x1f\x7f\ud800-\udfff]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\e", "\r": "\\r", "\t": "\\t"}
_INDENT = "  "
_INLINE_ARRAY_WIDTH = 80


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    escaped = _ESCAPES.get(c)
    if escaped is not None:
        return escaped
    if c == "\x00":
        raise DataFormatError("NUL cannot be written in a string")
    if "\ud800" <= c <= "\udfff":
        raise DataFormatError(f"surrogate U+{ord(c):04X} cannot be written in a string")
    return f"\\{ord(c):03d}"


def _string(s: str) -> str:
    if _ATOM_OUT.fullmatch(s):
        return s
    if _NEEDS_WORK.search(s) is None:
        return f'"{s}"'
    return '"' + _NEEDS_WORK.sub(_escape_char, s) + '"'


def _bytes(b: bytes) -> str:
    return "[" + binascii.b2a_base64(b, newline=False).decode("ascii") + "]"


def _int(n: int) -> str:
    if not INT64_MIN <= n <= INT64_MAX:
        raise DataFormatError(f"number {n} is out of the 64-bit range")
    return f"#{n}"


def _timestamp(t: Timestamp) -> str:
    if t.special:
        return "#TPAST" if t.special < 0 else "#TFUTURE"
    v = t.value
    return f"#T{v.day:02d}-{v.month:02d}-{v.year:04d}_{v.hour:02d}:{v.minute:02d}:{v.second:02d}"


def _ip(a: IPAddress) -> str:
    return f"#I{a}"


def _null(_: None) -> str:
    return "#NULL#"


_ATOMIC: dict[type, Callable[[object], str]] = {
    str: _string,  # type: ignore[dict-item]
    bytes: _bytes,  # type: ignore[dict-item]
    int: _int,  # type: ignore[dict-item]
    Timestamp: _timestamp,  # type: ignore[dict-item]
    IPAddress: _ip,  # type: ignore[dict-item]
    type(None): _null,
    ET.Element: dump_xml,  # type: ignore[dict-item]
}


def _atomic(value: object) -> str | None:
    """Serialize an atomic value (or XML), or return None for containers."""
    fn = _ATOMIC.get(type(value))
    if fn is not None:
        return fn(value)
    if isinstance(value, bool):
        raise TypeError("bool has no data format representation (use #1/#0 or a string)")
    if isinstance(value, list | tuple | dict):
        return None
    if isinstance(value, str):
        return _string(str(value))
    if isinstance(value, int):
        return _int(int(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(bytes(value))
    if isinstance(value, ET.Element):
        return dump_xml(value)
    raise TypeError(f"{type(value).__name__} has no data format representation")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"dictionary keys must be str, not {type(key).__name__}")
    return _string(key)


def _compact(value: object, depth: int) -> str:
    text = _atomic(value)
    if text is not None:
        return text
    if depth >= MAX_DEPTH:
        raise DataFormatError(f"nesting deeper than {MAX_DEPTH} levels (a cycle?)")
    depth += 1
    if isinstance(value, dict):
        return "{" + "".join(f"{_key(k)}={_compact(v, depth)};" for k, v in value.items()) + "}"
    return "(" + ",".join(_compact(v, depth) for v in value) + ")"  # type: ignore[attr-defined]


def _pretty(value: object, depth: int) -> str:
    text = _atomic(value)
    if text is not None:
        return text
    if depth >= MAX_DEPTH:
        raise DataFormatError(f"nesting deeper than {MAX_DEPTH} levels (a cycle?)")
    inner = _INDENT * (depth + 1)
    outer = _INDENT * depth
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [f"{inner}{_key(k)} = {_pretty(v, depth + 1)};\n" for k, v in value.items()]
        return "{\n" + "".join(lines) + outer + "}"
    items = list(value)  # type: ignore[call-overload]
    if not items:
        return "()"
    atoms = [_atomic(v) for v in items]
    if None not in atoms:
        line = "(" + ", ".join(atoms) + ")"  # type: ignore[arg-type]
        if len(line) <= _INLINE_ARRAY_WIDTH:
            return line
        return "(\n" + ",\n".join(inner + a for a in atoms) + "\n" + outer + ")"  # type: ignore[operator]
    parts = [
        inner + (a if a is not None else _pretty(v, depth + 1))
        for a, v in zip(atoms, items, strict=True)
    ]
    return "(\n" + ",\n".join(parts) + "\n" + outer + ")"


def dumps(value: Value, *, pretty: bool = False) -> str:
    """Serialize ``value`` canonically.

    ``pretty=False`` gives one line with no whitespace between tokens; ``pretty=True``
    gives indented multi-line text for files (no trailing newline).  Raises TypeError
    for Python types the format has no object for, DataFormatError for values it
    cannot hold (NUL in a string, int outside int64, ill-formed XML, too deep).
    """
    return _pretty(value, 0) if pretty else _compact(value, 0)
