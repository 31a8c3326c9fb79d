"""Response encoding helpers (RFC 9051 §7 and §9 ``response``).

Everything returns ``bytes`` ready for the wire.  Strings are emitted as atoms
when the grammar allows it, quoted when safe, and as literals otherwise
(``{n}`` or, for ``literal8``, ``~{n}``).  Nothing here knows about sessions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from .utf7 import encode_mutf7

__all__ = [
    "ATOM_SPECIALS",
    "encode_astring",
    "encode_atom_or_quoted",
    "encode_quoted",
    "encode_literal",
    "encode_nstring",
    "encode_string",
    "encode_mailbox",
    "encode_list",
    "encode_flags",
    "encode_datetime",
    "untagged",
    "tagged",
    "ok",
    "no",
    "bad",
    "continuation",
]

# atom-specials: "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
ATOM_SPECIALS = frozenset(b'(){ %*"\\]')


def _is_atom(data: bytes) -> bool:
    return bool(data) and all(0x20 < c < 0x7F and c not in ATOM_SPECIALS for c in data)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def encode_literal(value: str | bytes, *, binary: bool = False) -> bytes:
    """``{n}\\r\\n`` + data; ``~{n}`` for BINARY ``literal8``."""
    data = _as_bytes(value)
    return (b"~" if binary else b"") + b"{%d}\r\n" % len(data) + data


_UNQUOTABLE = re.compile(rb"[\x00\r\n]")
_UNQUOTABLE_7BIT = re.compile(rb"[\x00\r\n\x80-\xff]")


def _quotable(data: bytes, utf8: bool) -> bool:
    if len(data) > 1024:
        return False
    return (_UNQUOTABLE if utf8 else _UNQUOTABLE_7BIT).search(data) is None


def encode_quoted(value: str | bytes) -> bytes:
    """A quoted string; raises `ValueError` if it cannot be quoted (CR, LF, NUL)."""
    data = _as_bytes(value)
    if _UNQUOTABLE.search(data) is not None:
        raise ValueError("CR, LF and NUL cannot be quoted")
    if b"\\" in data or b'"' in data:
        data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return b'"' + data + b'"'


def encode_string(value: str | bytes, *, utf8: bool = True) -> bytes:
    """``string``: quoted when possible, literal otherwise (8-bit when ``utf8`` is off)."""
    data = _as_bytes(value)
    if _quotable(data, utf8):
        return encode_quoted(data)
    return encode_literal(data)


def encode_nstring(value: str | bytes | None, *, utf8: bool = True) -> bytes:
    return b"NIL" if value is None else encode_string(value, utf8=utf8)


def encode_astring(value: str | bytes, *, utf8: bool = True) -> bytes:
    """``astring``: bare atom when possible (``]`` allowed), else `encode_string`."""
    data = _as_bytes(value)
    if (
        data
        and data.upper() != b"NIL"
        and all(0x20 < c < 0x7F and (c not in ATOM_SPECIALS or c == ord("]")) for c in data)
    ):
        return data
    return encode_string(data, utf8=utf8)


def encode_atom_or_quoted(value: str | bytes) -> bytes:
    data = _as_bytes(value)
    return data if _is_atom(data) else encode_quoted(data)


def encode_mailbox(name: str, *, utf8: bool) -> bytes:
    """A mailbox name for the client: UTF-8 for rev2/UTF8=ACCEPT, modified UTF-7 otherwise."""
    if name.upper() == "INBOX":
        return b"INBOX"
    return encode_astring(name if utf8 else encode_mutf7(name), utf8=utf8)


def encode_list(items: Iterable[bytes]) -> bytes:
    """``(a b c)`` from already-encoded items."""
    return b"(" + b" ".join(items) + b")"


def encode_flags(flags: Iterable[str]) -> bytes:
    return encode_list(f.encode("ascii") for f in flags)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def encode_datetime(value: datetime) -> bytes:
    """``"dd-Mon-yyyy hh:mm:ss +zzzz"`` (a naive datetime is taken as UTC)."""
    off = value.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    text = (
        f'"{value.day:2d}-{_MONTHS[value.month - 1]}-{value.year:04d} '
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f'{sign}{minutes // 60:02d}{minutes % 60:02d}"'
    )
    return text.encode("ascii")


def _code(code: str | bytes | None) -> bytes:
    if code is None:
        return b""
    return b"[" + _as_bytes(code) + b"] "


def untagged(*parts: str | bytes) -> bytes:
    """``* part part\\r\\n`` (parts are joined with spaces, str as UTF-8)."""
    return b"* " + b" ".join(_as_bytes(p) for p in parts) + b"\r\n"


def tagged(tag: str, status: str, text: str, code: str | bytes | None = None) -> bytes:
    """``tag OK|NO|BAD [code] text\\r\\n``."""
    return f"{tag} {status} ".encode() + _code(code) + _as_bytes(text or status) + b"\r\n"


def ok(tag: str, text: str = "completed", code: str | bytes | None = None) -> bytes:
    return tagged(tag, "OK", text, code)


def no(tag: str, text: str, code: str | bytes | None = None) -> bytes:
    return tagged(tag, "NO", text, code)


def bad(tag: str | None, text: str, code: str | bytes | None = None) -> bytes:
    """A tagged BAD, or ``* BAD`` when the tag is unknown."""
    return tagged(tag or "*", "BAD", text, code)


def continuation(text: str | bytes = "Ready") -> bytes:
    return b"+ " + _as_bytes(text) + b"\r\n"
