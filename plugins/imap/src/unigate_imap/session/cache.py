"""Per-message cache of parsed MIME data, kept by the mailbox store (`cache_get/cache_put`).

Why: ENVELOPE and BODYSTRUCTURE are what clients fetch for every message, over and
over; parsing a message once and keeping the encoded answers (and the part offsets for
section fetches) next to it turns a repeated FETCH into one small read.

Format (key ``imap.mime3``): an ASCII line of six lengths, then the ENVELOPE,
BODYSTRUCTURE and BODY encodings, the `MessageStructure` JSON, the raw header block
(for SEARCH/SORT/THREAD) and the EMAILID (RFC 8474), concatenated.

Batches: `get_infos` answers a whole FETCH range with at most three driver round trips;
`remember_appended` parses a message at APPEND (the bytes are at hand) so that the
first FETCH ENVELOPE of a mailbox filled over IMAP is already warm, and writes the
driver cache behind, in batches (`flush_pending`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from unigate.api import mailboxes as mb

from ..mime import Message, MessageStructure, bodystructure, envelope

__all__ = [
    "CACHE_KEY",
    "MemoryCache",
    "MimeInfo",
    "flush_pending",
    "get_info",
    "get_infos",
    "email_id_of",
    "info_of",
    "memory_cache",
    "remember_appended",
]

CACHE_KEY = "imap.mime3"


@dataclass(frozen=True, slots=True)
class MimeInfo:
    envelope: bytes
    bodystructure: bytes
    body: bytes
    structure: bytes
    header: bytes
    #: RFC 8474 EMAILID: a digest of the content, the same wherever the message is copied
    email_id: bytes

    def dumps(self) -> bytes:
        parts = (
            self.envelope,
            self.bodystructure,
            self.body,
            self.structure,
            self.header,
            self.email_id,
        )
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
        if len(lengths) != 6 or sum(lengths) != len(rest):
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
        email_id_of(msg.raw),
    )


def email_id_of(raw: bytes) -> bytes:
    """The EMAILID of a message: ``E`` and 24 hex digits of a BLAKE2b digest of its bytes."""
    return b"E" + hashlib.blake2b(raw, digest_size=12).hexdigest().encode("ascii")


class MemoryCache:
    """A byte-bounded LRU shared by the sessions of one server (``server.state["imap"]``).

    Keys carry the mailbox owner, name, UIDVALIDITY and UID, so a renamed or rebuilt
    mailbox never sees another's entries; values are immutable (bytes, `MimeInfo`).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        #: (owner, mailbox, uidvalidity) -> [(UID, encoded MimeInfo)] not yet in the driver
        self.pending: dict[tuple[str, str, int], list[tuple[int, bytes]]] = {}
        self.pending_count = 0

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

    Returns the raw bytes too when they had to be read. Raises ``NoSuchMessage``.
    """
    raws = {uid: raw} if raw is not None else {}
    infos = await get_infos(box, [uid], memory, raws)
    info = infos.get(uid)
    if info is None:
        raise mb.NoSuchMessage(f"message UID {uid} was expunged")
    return info, raws.get(uid)


async def get_infos(
    box: Any,
    uids: Sequence[int],
    memory: MemoryCache | None = None,
    raws: dict[int, bytes] | None = None,
) -> dict[int, MimeInfo]:
    """{UID: `MimeInfo`} for ``uids``, from memory, then the driver cache, then parsing.

    At most three driver round trips for the whole batch (cache get, read, cache put);
    messages read here are added to ``raws`` when it is given. Expunged UIDs are left out.
    """
    out: dict[int, MimeInfo] = {}
    missing: list[int] = []
    await flush_pending(box, memory)
    if memory is not None:
        base = (box.owner, box.mailbox, box.uidvalidity)
        get = memory.get
        for uid in uids:
            hit = get((*base, uid, "mime"))
            if hit is None:
                missing.append(uid)
            else:
                out[uid] = hit
    else:
        missing = list(uids)
    if not missing:
        return out
    cached = await box.cache_get_many(missing, CACHE_KEY)
    todo: list[int] = []
    for uid in missing:
        data = cached.get(uid)
        info = MimeInfo.loads(data) if data else None
        if info is None:
            todo.append(uid)
            continue
        out[uid] = info
        if memory is not None:
            memory.put(message_key(box, uid, "mime"), info, len(data) + 200)  # type: ignore[arg-type]
    if not todo:
        return out
    have = raws if raws is not None else {}
    unread = [u for u in todo if u not in have]
    if unread:
        have.update(await box.read_many(unread))
    puts: list[tuple[int, bytes]] = []
    for uid in todo:
        raw = have.get(uid)
        if raw is None:
            continue  # expunged meanwhile
        info = info_of(Message(raw))
        data = info.dumps()
        puts.append((uid, data))
        out[uid] = info
        if memory is not None:
            memory.put(message_key(box, uid, "mime"), info, len(data) + 200)
    with contextlib.suppress(Exception):  # an unwritable cache is only slower
        await box.cache_put_many(puts, CACHE_KEY)
    return out


# -- parse at APPEND, write behind -----------------------------------------------------
#: pending driver-cache entries before they are written in one batch
PENDING_BATCH = 256
#: the most pending entries kept over all mailboxes (they are only a cache: drop beyond)
PENDING_LIMIT = 8192


def remember_appended(box: Any, uid: int, raw: bytes, memory: MemoryCache | None) -> bool:
    """Parse a message just appended through ``box`` and keep its `MimeInfo`.

    The answer goes to the memory cache at once and to the driver cache later (see
    `flush_pending`), so the first FETCH ENVELOPE of a fresh mailbox is already warm.
    Returns True when this mailbox has enough pending entries to be flushed now.
    """
    if memory is None:
        return False
    try:
        info = info_of(Message(raw))
    except Exception:  # noqa: BLE001 - never fail an APPEND over the cache
        return False
    data = info.dumps()
    memory.put(message_key(box, uid, "mime"), info, len(data) + 200)
    pending = memory.pending
    key = (box.owner, box.mailbox, box.uidvalidity)
    items = pending.setdefault(key, [])
    items.append((uid, data))
    memory.pending_count += 1
    if memory.pending_count > PENDING_LIMIT:
        for other in [k for k in pending if k != key]:
            memory.pending_count -= len(pending.pop(other))
    return len(items) >= PENDING_BATCH


async def flush_pending(box: Any, memory: MemoryCache | None) -> None:
    """Write this mailbox's pending `MimeInfo` entries to the driver cache (one round trip)."""
    if memory is None or not memory.pending:
        return
    items = memory.pending.pop((box.owner, box.mailbox, box.uidvalidity), None)
    if not items:
        return
    memory.pending_count -= len(items)
    with contextlib.suppress(Exception):  # an unwritable cache is only slower
        await box.cache_put_many(items, CACHE_KEY)
