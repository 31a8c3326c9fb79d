"""Header-block primitives on raw bytes: split into fields, unfold, parse parameters.

IMAP reports header data "as received", so everything here works on bytes and
keeps encoded-words and 8-bit text untouched; `decode_words` is the one
place that turns RFC 2047 encoded-words into text (for SEARCH and SORT).
"""

from __future__ import annotations

import email.header
import re

__all__ = [
    "decode_words",
    "field_text",
    "field_values",
    "find_body_start",
    "header_fields",
    "first_value",
    "get_header",
    "header_map",
    "parse_content_header",
    "unfold",
]

_FOLD = re.compile(rb"\r?\n(?=[ \t])")


def find_body_start(raw: bytes, start: int, end: int) -> int:
    """Offset just after the blank line ending the header block in ``raw[start:end]``.

    A part that starts with a blank line has no header; a header with no blank
    line runs to ``end``.
    """
    if raw.startswith(b"\r\n", start) and start + 2 <= end:
        return start + 2
    if raw.startswith(b"\n", start) and start + 1 <= end:
        return start + 1
    crlf = raw.find(b"\r\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, end)
    best = end
    if crlf >= 0:
        best = crlf + 4
    if lf >= 0 and lf + 2 < best:
        best = lf + 2
    return best


_NAME = re.compile(rb"[\x21-\x7e]+")
_CONTINUATION = (0x20, 0x09)


def header_fields(block: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """``(name, raw_value, raw_line)`` per field; ``raw_line`` keeps folding and EOL.

    Lines without a colon (garbage, or mbox ``From `` lines) are skipped; a blank
    line ends the block. One ``split`` and a pass over the lines: this is the hot
    path of ENVELOPE, BODYSTRUCTURE and header SEARCH.
    """
    out: list[tuple[bytes, bytes, bytes]] = []
    lines = block.split(b"\n")
    n = len(lines)
    last = n - 1
    i = 0
    while i < n:
        first = lines[i]
        j = i + 1
        while j < n and lines[j] and lines[j][0] in _CONTINUATION:
            j += 1
        if j == i + 1:
            line = first + b"\n" if i < last else first
        else:
            line = b"\n".join(lines[i:j]) + (b"\n" if j <= last else b"")
        i = j
        if not line.strip():
            break  # the blank separator line (or the end)
        colon = first.find(b":")
        if colon <= 0:
            continue
        name = first[:colon].rstrip(b" \t")
        if not name or _NAME.fullmatch(name) is None:
            continue
        out.append((name, line[colon + 1 :], line))
    return out


def header_map(block: bytes) -> dict[bytes, list[bytes]]:
    """Lower-cased field name -> raw (still folded) values in order; one parse per block."""
    out: dict[bytes, list[bytes]] = {}
    for name, value, _ in header_fields(block):
        key = name.lower()
        values = out.get(key)
        if values is None:
            out[key] = [value]
        else:
            values.append(value)
    return out


def first_value(fields: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    """The first field ``name`` (lower-case) of a `header_map`, unfolded, or None."""
    values = fields.get(name)
    return unfold(values[0]) if values else None


def unfold(value: bytes) -> bytes:
    """Remove folding line breaks and the final EOL; strip outer whitespace."""
    if b"\n" in value[:-1]:
        value = _FOLD.sub(b"", value)
    return value.rstrip(b"\r\n").strip(b" \t")


def get_header(block: bytes, name: bytes) -> bytes | None:
    """First field ``name`` (case-insensitive), unfolded, or None."""
    want = name.lower()
    for fname, value, _ in header_fields(block):
        if fname.lower() == want:
            return unfold(value)
    return None


def _skip_cfws(text: bytes, i: int) -> int:
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in b" \t\r\n":
            i += 1
        elif ch == 0x28:  # comment, may nest
            depth = 0
            while i < n:
                if text[i] == 0x5C:
                    i += 2
                    continue
                if text[i] == 0x28:
                    depth += 1
                elif text[i] == 0x29:
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
        else:
            break
    return i


_TSPECIALS = b'()<>@,;:\\"/[]?= \t\r\n'


def _token(text: bytes, i: int) -> tuple[bytes, int]:
    i = _skip_cfws(text, i)
    start = i
    while i < len(text) and text[i] not in _TSPECIALS:
        i += 1
    return text[start:i], i


def _quoted(text: bytes, i: int) -> tuple[bytes, int]:
    out = bytearray()
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == 0x5C and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == 0x22:
            return bytes(out), i + 1
        out.append(ch)
        i += 1
    return bytes(out), i


def parse_content_header(
    value: bytes | None, *, has_subtype: bool = True
) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """Parse ``type/subtype; a=b`` (or ``value; a=b`` when not ``has_subtype``).

    Returns ``(type, subtype, params)`` with case and values as received (quotes removed).
    Malformed input gives empty type; callers then apply their defaults.
    """
    if value is None:
        return b"", b"", []
    kind, i = _token(value, 0)
    sub = b""
    if has_subtype:
        i = _skip_cfws(value, i)
        if i < len(value) and value[i] == 0x2F:
            sub, i = _token(value, i + 1)
        else:
            kind = b""
    params: list[tuple[bytes, bytes]] = []
    n = len(value)
    while i < n:
        i = _skip_cfws(value, i)
        if i >= n:
            break
        if value[i] != 0x3B:
            i += 1  # junk; skip a byte and resynchronise at the next ';'
            continue
        name, i = _token(value, i + 1)
        i = _skip_cfws(value, i)
        if not name or i >= n or value[i] != 0x3D:
            continue
        i = _skip_cfws(value, i + 1)
        if i < n and value[i] == 0x22:
            val, i = _quoted(value, i)
        else:
            start = i
            while i < n and value[i] not in b"; \t\r\n":
                i += 1
            val = value[start:i]
        params.append((name, val))
    return kind, sub, params


def decode_words(raw: bytes) -> str:
    """Header text with RFC 2047 encoded-words decoded (8-bit taken as UTF-8)."""
    text = raw.decode("utf-8", "replace")
    if "=?" not in text:
        return text
    try:
        parts = email.header.decode_header(text)
    except Exception:  # noqa: BLE001 - stdlib raises assorted errors on junk
        return text
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode(charset or "utf-8", "replace"))
        except LookupError:
            out.append(chunk.decode("utf-8", "replace"))
    return "".join(out)


def field_values(header: bytes, name: bytes) -> list[bytes]:
    """Every field ``name`` (lower-case ASCII) of a header block: the raw value after
    the colon, with its folding (what ``(?im)^name[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)``
    finds).

    A plain scan with ``bytes.find``: a column is built for every message of a
    mailbox, and the case-insensitive multi-line regex costs several times more.
    """
    low = header.lower()
    end = len(header)
    marker = b"\n" + name
    out: list[bytes] = []
    if low.startswith(name):
        pos = 0
    else:
        pos = low.find(marker) + 1  # 0: not found
        if not pos:
            return out
    while True:
        i = pos + len(name)
        while i < end and low[i] in b" \t":
            i += 1
        if i < end and low[i] == 0x3A:  # ":"
            stop = header.find(b"\n", i + 1)
            while 0 <= stop < end - 1 and header[stop + 1] in b" \t":
                stop = header.find(b"\n", stop + 1)
            if stop < 0:
                stop = end
            out.append(header[i + 1 : stop])
            pos = stop
        pos = low.find(marker, pos) + 1
        if not pos:
            return out


def field_text(header: bytes, name: bytes) -> str | None:
    """The column text of a header block: decoded, unfolded, casefolded, None if absent."""
    values = field_values(header, name)
    if not values:
        return None
    if len(values) == 1:
        value = values[0]
        if b"\n" not in value and b"=?" not in value and value.isascii():
            # the common field: one plain line (what unfold and decode_words would give)
            return value.rstrip(b"\r").strip(b" \t").decode("ascii").casefold()
        return decode_words(unfold(value)).casefold()
    return "\n".join(decode_words(unfold(v)) for v in values).casefold()
