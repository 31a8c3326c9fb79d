"""Message content on the POP3 wire: CRLF line ends, byte-stuffing, and the TOP extract.

Why here: RFC 1939 section 3 sends multi-line responses with every line that starts
with "." prefixed by one more "." and ends them with ".CRLF"; a stored message may use
bare LF line ends, and TOP needs the header plus the first *n* body lines. These are
pure functions over bytes, so they are tested byte for byte (and fuzzed) apart from any
session.
"""

from __future__ import annotations

__all__ = ["dot_stuff", "normalize_crlf", "top_of"]


def normalize_crlf(data: bytes) -> bytes:
    """``data`` with every line ending (CRLF or bare LF) written as CRLF.

    A bare CR inside a line is left alone: it is not a line end.
    """
    if b"\n" not in data:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def dot_stuff(data: bytes) -> bytes:
    """The body of a multi-line response: CRLF lines, leading dots doubled, CRLF-terminated.

    The terminating ``.CRLF`` is not included. An empty ``data`` gives ``b""``.
    """
    text = normalize_crlf(data)
    if not text:
        return b""
    if text.startswith(b"."):
        text = b"." + text
    text = text.replace(b"\r\n.", b"\r\n..")
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def top_of(data: bytes, lines: int) -> bytes:
    """The header of the message, the blank line after it, and the first ``lines`` body lines.

    RFC 1939 TOP: a message without a body gives its header (and the blank line if it
    has one); ``lines`` larger than the body gives the whole message. The result uses
    CRLF line ends.
    """
    if lines < 0:
        raise ValueError("lines must not be negative")
    text = normalize_crlf(data)
    if text.startswith(b"\r\n"):
        head_end = 2  # an empty header section
    else:
        sep = text.find(b"\r\n\r\n")
        if sep < 0:
            return text
        head_end = sep + 4
    head, body = text[:head_end], text[head_end:]
    if lines == 0 or not body:
        return head
    pos = 0
    for _ in range(lines):
        nl = body.find(b"\r\n", pos)
        if nl < 0:
            return head + body
        pos = nl + 2
    return head + body[:pos]
