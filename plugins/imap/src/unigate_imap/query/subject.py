"""RFC 5256 §2.1 base subject extraction (for SORT SUBJECT and THREAD)."""

from __future__ import annotations

import re

from ..mime.headers import decode_words

__all__ = ["base_subject", "ascii_upper"]

_WS = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])+$", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_LEADER = re.compile(rf"^(?:(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t]+)", re.IGNORECASE)
_LEADING_BLOB = re.compile(rf"^{_BLOB}")
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def ascii_upper(text: str) -> str:
    """i;ascii-casemap: uppercase ASCII letters only."""
    return text.translate(_UPPER)


def base_subject(raw: bytes | str | None) -> tuple[str, bool]:
    """``(base subject, is reply/forward)``; the base is uppercased for comparison."""
    if raw is None:
        return "", False
    text = decode_words(raw) if isinstance(raw, bytes) else raw
    text = _WS.sub(" ", text)  # (1)
    refwd = False
    while True:
        # (2) trailing "(fwd)" and whitespace
        stripped = _TRAILER.sub("", text)
        if stripped != text:
            if re.search(r"\(fwd\)", text[len(stripped) :], re.IGNORECASE):
                refwd = True
            text = stripped
        while True:
            before = text
            # (3) leaders
            while True:
                m = _LEADER.match(text)
                if not m or not m.group(0):
                    break
                if m.group(0).strip():
                    refwd = True
                text = text[m.end() :]
            # (4) a leading blob if something remains after it
            m = _LEADING_BLOB.match(text)
            if m and text[m.end() :]:
                text = text[m.end() :]
            if text == before:  # (5)
                break
        # (6) [fwd: ... ]
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            refwd = True
            continue
        break
    return ascii_upper(text), refwd
