"""Per-message cache of parsed MIME data, kept by the mailbox store (`cache_get/cache_put`).

Why: ENVELOPE and BODYSTRUCTURE are what clients fetch for every message, over and
over; parsing a message once and keeping the encoded answers (and the part offsets for
section fetches) next to it turns a repeated FETCH into one small read.

Format (key ``imap.mime2``): an ASCII line of five lengths, then the ENVELOPE,
BODYSTRUCTURE and BODY encodings, the `MessageStructure` JSON and the raw header block
(for SEARCH/SORT/THREAD), concatenated.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..mime import Message, MessageStructure, bodystructure, envelope

__all__ = ["CACHE_KEY", "MemoryCache", "MimeInfo", "get_info", "info_of", "memory_cache"]

CACHE_KEY = "imap.mime2"


@dataclass(frozen=True, slots=True)
class MimeInfo:
    envelope: bytes
    bodystructure: bytes
    body: bytes
    structure: bytes
    header: bytes

    def dumps(self) -> bytes:
        parts = (self.envelope, self.bodystructure, self.body, self.structure, self.header)
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
        if len(lengths) != 5 or sum(lengths) != len(rest):
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
        msg.raw[: msg.root.body_start],
    )


class MemoryCache:
    """A byte-bounded LRU shared by the sessions of one server (``server.state["imap"]``).

    Keys carry the mailbox owner, name, UIDVALIDITY and UID, so a renamed or rebuilt
    mailbox never sees another's entries; values are immutable (bytes, `MimeInfo`).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.budget // 4:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._items[key] = (value, size)
        self.used += size
        while self.used > self.budget and self._items:
            _, (_, freed) = self._items.popitem(last=False)
            self.used -= freed


def memory_cache(server: Any, budget: int) -> MemoryCache:
    """The server's shared cache (created on first use)."""
    state = server.state.setdefault("imap", {})
    cache = state.get("cache")
    if cache is None:
        cache = state["cache"] = MemoryCache(budget)
    return cache  # type: ignore[no-any-return]


def message_key(box: Any, uid: int, kind: str) -> tuple[str, str, int, int, str]:
    return (box.owner, box.mailbox, box.uidvalidity, uid, kind)


async def get_info(
    box: Any, uid: int, raw: bytes | None = None, memory: MemoryCache | None = None
) -> tuple[MimeInfo, bytes | None]:
    """The message's `MimeInfo`, from the caches or by reading and parsing it (then cached).

    Returns the raw bytes too when they had to be read.
    """
    key = message_key(box, uid, "mime")
    if memory is not None:
        hit = memory.get(key)
        if hit is not None:
            return hit, raw
    cached = await box.cache_get(uid, CACHE_KEY)
    if cached:
        info = MimeInfo.loads(cached)
        if info is not None:
            if memory is not None:
                memory.put(key, info, len(cached) + 200)
            return info, raw
    if raw is None:
        raw = await box.read(uid)
    info = info_of(Message(raw))
    data = info.dumps()
    with contextlib.suppress(Exception):  # an unwritable cache is only slower
        await box.cache_put(uid, CACHE_KEY, data)
    if memory is not None:
        memory.put(key, info, len(data) + 200)
    return info, raw
