"""Per-message cache of parsed MIME data, kept by the mailbox store (`cache_get/cache_put`).

Why: ENVELOPE and BODYSTRUCTURE are what clients fetch for every message, over and
over; parsing a message once and keeping the encoded answers (and the part offsets for
section fetches) next to it turns a repeated FETCH into one small read.

Format (key ``imap.mime1``): an ASCII line of four lengths, then the ENVELOPE,
BODYSTRUCTURE and BODY encodings and the `MessageStructure` JSON, concatenated.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..mime import Message, MessageStructure, bodystructure, envelope

__all__ = ["CACHE_KEY", "MimeInfo", "get_info", "info_of"]

CACHE_KEY = "imap.mime1"


@dataclass(frozen=True, slots=True)
class MimeInfo:
    envelope: bytes
    bodystructure: bytes
    body: bytes
    structure: bytes

    def dumps(self) -> bytes:
        parts = (self.envelope, self.bodystructure, self.body, self.structure)
        head = " ".join(str(len(x)) for x in parts).encode("ascii") + b"\n"
        return head + b"".join(parts)

    @classmethod
    def loads(cls, data: bytes) -> MimeInfo | None:
        head, sep, rest = data.partition(b"\n")
        if not sep:
            return None
        try:
            lengths = [int(x) for x in head.split()]
        except ValueError:
            return None
        if len(lengths) != 4 or sum(lengths) != len(rest):
            return None
        out = []
        pos = 0
        for n in lengths:
            out.append(rest[pos : pos + n])
            pos += n
        return cls(*out)

    def message(self, raw: bytes) -> Message:
        """The message with its structure taken from the cache (re-parsed if stale)."""
        try:
            structure = MessageStructure.loads(self.structure)
        except (ValueError, TypeError, KeyError, IndexError):
            structure = None
        return Message(raw, structure)


def info_of(msg: Message) -> MimeInfo:
    """Compute the cached answers of a message."""
    return MimeInfo(
        envelope(msg),
        bodystructure(msg, extensible=True),
        bodystructure(msg, extensible=False),
        msg.structure.dumps(),
    )


async def get_info(box: Any, uid: int, raw: bytes | None = None) -> tuple[MimeInfo, bytes | None]:
    """The message's `MimeInfo`, from the cache or by reading and parsing it (then cached).

    Returns the raw bytes too when they had to be read.
    """
    cached = await box.cache_get(uid, CACHE_KEY)
    if cached:
        info = MimeInfo.loads(cached)
        if info is not None:
            return info, raw
    if raw is None:
        raw = await box.read(uid)
    info = info_of(Message(raw))
    with contextlib.suppress(Exception):  # an unwritable cache is only slower
        await box.cache_put(uid, CACHE_KEY, info.dumps())
    return info, raw
