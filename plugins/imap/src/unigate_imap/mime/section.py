"""BODY[section]<partial> and BINARY[section] extraction (RFC 9051 §6.4.5, RFC 3516).

Sections are resolved on the `Part` tree and answered by slicing the raw
bytes; only BINARY decodes (base64, quoted-printable).
"""

from __future__ import annotations

import base64
import binascii
import quopri
from collections.abc import Sequence
from typing import Protocol

from .headers import header_fields
from .structure import Message, Part

__all__ = [
    "SectionError",
    "SectionSpec",
    "UnknownEncodingError",
    "binary",
    "binary_size",
    "find_part",
    "section",
]


class SectionError(ValueError):
    """The section does not exist in this message (the session answers with NIL or NO)."""


class UnknownEncodingError(SectionError):
    """BINARY on an unknown Content-Transfer-Encoding (answer ``NO [UNKNOWN-CTE]``)."""


class SectionSpec(Protocol):
    """What `section` needs (``unigate_imap.protocol.Section`` satisfies it)."""

    @property
    def parts(self) -> tuple[int, ...]: ...

    @property
    def text(self) -> str | None: ...

    @property
    def fields(self) -> tuple[str, ...]: ...


def _as_message(msg: Message | bytes) -> Message:
    return msg if isinstance(msg, Message) else Message(msg)


def find_part(root: Part, path: Sequence[int]) -> Part:
    """The part addressed by ``path`` (``[]`` = the message itself)."""
    part = root
    for depth, number in enumerate(path):
        if depth and part.message is not None:
            part = part.message
        if part.is_multipart:
            if not 1 <= number <= len(part.children):
                raise SectionError(f"no part {number}")
            part = part.children[number - 1]
        elif number != 1:
            raise SectionError(f"no part {number} in a single-part body")
    return part


def _filter_header(block: bytes, names: tuple[str, ...], keep: bool) -> bytes:
    """The matching fields, plus the blank line unless the message had none (no body)."""
    wanted = {n.lower().encode() for n in names}
    out = [line for name, _, line in header_fields(block) if (name.lower() in wanted) == keep]
    lines = [line if line.endswith(b"\n") else line + b"\r\n" for line in out]
    blank = block.endswith(b"\n\n") or block.endswith(b"\n\r\n") or block in (b"\r\n", b"\n")
    return b"".join(lines) + (b"\r\n" if blank else b"")


def _partial(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    offset, count = partial
    return data[offset : offset + count]


def section(
    msg: Message | bytes, spec: SectionSpec | None = None, partial: tuple[int, int] | None = None
) -> bytes:
    """The bytes of ``BODY[spec]<partial>``; raises `SectionError` if the part is absent."""
    m = _as_message(msg)
    raw = m.raw
    if spec is None or (not spec.parts and spec.text is None):
        return _partial(raw, partial)
    part = find_part(m.root, spec.parts)
    text = spec.text
    if text is None:
        return _partial(raw[part.body_start : part.end], partial)
    if text == "MIME":
        block = raw[part.start : part.body_start]
        if not block.endswith(b"\n"):
            block += b"\r\n"
        return _partial(block, partial)
    if spec.parts:  # HEADER/TEXT of an encapsulated message
        if part.message is None:
            return b""  # meaningless on a non-message part: the empty string (RFC 3501 usage)
        part = part.message
    header = raw[part.start : part.body_start]
    if text == "HEADER":
        return _partial(header, partial)
    if text == "TEXT":
        return _partial(raw[part.body_start : part.end], partial)
    if text == "HEADER.FIELDS":
        return _partial(_filter_header(header, spec.fields, True), partial)
    if text == "HEADER.FIELDS.NOT":
        return _partial(_filter_header(header, spec.fields, False), partial)
    raise SectionError(f"unknown section text {text}")


def decode_body(data: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding; raises `UnknownEncodingError`."""
    enc = (encoding or "7BIT").upper()
    if enc in ("7BIT", "8BIT", "BINARY"):
        return data
    if enc == "BASE64":
        cleaned = bytes(c for c in data if c not in b" \t\r\n")
        cleaned = cleaned.split(b"=")[0]
        cleaned += b"=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            raise SectionError("corrupt base64 body") from None
    if enc == "QUOTED-PRINTABLE":
        return quopri.decodestring(data)
    raise UnknownEncodingError(f"unknown transfer encoding {encoding}")


def binary(
    msg: Message | bytes, parts: Sequence[int] = (), partial: tuple[int, int] | None = None
) -> bytes:
    """``BINARY[parts]<partial>``: the part body with its transfer encoding removed."""
    m = _as_message(msg)
    if not parts:
        return _partial(m.raw, partial)
    part = find_part(m.root, parts)
    if part.is_multipart or part.message is not None:
        data = m.raw[part.body_start : part.end]
    else:
        data = decode_body(m.raw[part.body_start : part.end], part.encoding)
    return _partial(data, partial)


def binary_size(msg: Message | bytes, parts: Sequence[int] = ()) -> int:
    """``BINARY.SIZE[parts]``."""
    return len(binary(msg, parts))
