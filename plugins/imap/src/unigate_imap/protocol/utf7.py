"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3) for IMAP4rev1 clients.

IMAP4rev2 and ``UTF8=ACCEPT`` clients send UTF-8 names; older clients send this
encoding: printable US-ASCII as itself, ``&`` as ``&-``, anything else as
``&`` + modified base64 of UTF-16BE + ``-`` (``,`` instead of ``/``, no padding).
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_mutf7", "encode_mutf7", "MUTF7Error"]


class MUTF7Error(ValueError):
    """Malformed modified UTF-7."""


def _flush(chunk: list[str], out: list[str]) -> None:
    if chunk:
        data = "".join(chunk).encode("utf-16-be")
        out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
        chunk.clear()


def encode_mutf7(name: str) -> str:
    """Encode a Unicode mailbox name for a rev1 client."""
    out: list[str] = []
    chunk: list[str] = []
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            _flush(chunk, out)
            out.append("&-" if ch == "&" else ch)
        else:
            chunk.append(ch)
    _flush(chunk, out)
    return "".join(out)


def decode_mutf7(name: str) -> str:
    """Decode a rev1 mailbox name; raises `MUTF7Error` on malformed input."""
    out: list[str] = []
    i = 0
    n = len(name)
    while i < n:
        ch = name[i]
        if not 0x20 <= ord(ch) <= 0x7E:
            raise MUTF7Error("non-ASCII character in modified UTF-7")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise MUTF7Error("unterminated shift sequence")
        b64 = name[i + 1 : end]
        if not b64:
            out.append("&")
        else:
            if any(c not in _B64 for c in b64):
                raise MUTF7Error("bad character in shift sequence")
            padded = b64.replace(",", "/") + "=" * (-len(b64) % 4)
            try:
                raw = base64.b64decode(padded, validate=True)
                text = raw.decode("utf-16-be")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise MUTF7Error(str(exc)) from None
            if any(0x20 <= ord(c) <= 0x7E for c in text):
                raise MUTF7Error("printable ASCII must not be base64-encoded")
            out.append(text)
        i = end + 1
    return "".join(out)


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
