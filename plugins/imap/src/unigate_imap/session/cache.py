"""Per-message cache of parsed MIME data, kept by the mailbox store (`cache_get/cache_put`).

Why: ENVELOPE and BODYSTRUCTURE are what clients fetch for every message, over and
over; parsing a message once and keeping the encoded answers (and the part offsets for
section fetches) next to it turns a repeated FETCH into one small read.

Format (key ``imap.mime5``): eight little-endian 32-bit offsets (where each part
starts, then the entry's length), then the ENVELOPE, BODYSTRUCTURE and BODY
encodings, the `MessageStructure` JSON, the raw header block (for SEARCH/SORT/THREAD),
the EMAILID (RFC 8474) and the SEARCH column texts of `COLUMN_FIELDS`, concatenated.
Offsets rather than lengths: loading an entry is then one ``unpack`` and no sums,
and after a restart a FETCH 1:* ENVELOPE loads every entry of the mailbox.
(``imap.mime4`` held the seven lengths; older entries are simply parsed again.)

Batches: `get_infos` answers a whole FETCH range with at most three driver round trips;
`remember_appended` parses a message at APPEND (the bytes are at hand) so that the
first FETCH ENVELOPE of a mailbox filled over IMAP is already warm, and writes the
driver cache behind, in batches (`flush_pending`).
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from itertools import accumulate
from typing import Any

from unigate.api import mailboxes as mb

from ..mime import Message, MessageStructure, bodystructure, envelope
from ..mime.headers import field_text

__all__ = [
    "CACHE_KEY",
    "COLUMN_FIELDS",
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

CACHE_KEY = "imap.mime5"

#: the offsets that open an encoded `MimeInfo`: where each of the seven parts starts,
#: then the end of the entry
_CUTS = struct.Struct("<8I")
#: header fields whose SEARCH column text is computed with the summary (the 7th part:
#: an (offset, length) pair per field, length -1 for a missing field, then the UTF-8
#: texts; offsets count from the end of the pairs)
COLUMN_FIELDS = ("subject", "from", "to", "cc", "bcc")
_COLUMN_SPANS = struct.Struct("<10i")
_COLUMN_INDEX = {name: i for i, name in enumerate(COLUMN_FIELDS)}


class MimeInfo:
    """The cached answers of one message, kept as the one ``bytes`` they are stored as.

    Why not attributes: after a restart a FETCH 1:* ENVELOPE loads the entry of
    every message from the driver cache, and splitting each into its parts cost
    more than the rest of the fetch; here loading checks the lengths and keeps the
    bytes (the driver cache's own object), and a part is sliced when asked for.

    The column texts of `COLUMN_FIELDS` are kept too: the first SEARCH SUBJECT of a
    mailbox otherwise scans and decodes every header block.
    """

    __slots__ = ("data", "_cuts")

    def __init__(self, data: bytes | memoryview, cuts: tuple[int, ...]) -> None:
        #: the encoded form (`dumps`): the offsets, then the parts. A read-only view
        #: when the driver answered with one (its mapped cache file): the parts that
        #: only go to the client are sliced as views too, the rest copied to bytes
        self.data = data
        self._cuts = cuts

    @classmethod
    def build(
        cls,
        envelope: bytes,
        bodystructure: bytes,
        body: bytes,
        structure: bytes,
        header: bytes,
        email_id: bytes,
    ) -> MimeInfo:
        """From the parts: ENVELOPE, BODYSTRUCTURE and BODY encodings, the
        `MessageStructure` JSON, the raw header block and the EMAILID (RFC 8474)."""
        spans: list[int] = []
        texts: list[bytes] = []
        at = 0
        for name in COLUMN_FIELDS:
            text = field_text(header, name.encode("ascii"))
            encoded = b"" if text is None else text.encode("utf-8")
            spans += (at, -1 if text is None else len(encoded))
            texts.append(encoded)
            at += len(encoded)
        columns = _COLUMN_SPANS.pack(*spans) + b"".join(texts)
        parts = (envelope, bodystructure, body, structure, header, email_id, columns)
        cuts = tuple(accumulate(map(len, parts), initial=_CUTS.size))
        return cls(_CUTS.pack(*cuts) + b"".join(parts), cuts)

    @classmethod
    def loads(cls, data: bytes | memoryview) -> MimeInfo | None:
        """The entry stored as ``data``, or None when it is not a well-formed one."""
        return cls.loads_many((0,), {0: data})[0].get(0)

    @classmethod
    def loads_many(
        cls, uids: Sequence[int], stored: dict[int, bytes | memoryview]
    ) -> tuple[dict[int, MimeInfo], list[int]]:
        """`loads` of ``stored[uid]`` for each of ``uids``: ({uid: info}, [uids missing
        or not well-formed]). One call, the checks inlined: after a restart a FETCH 1:*
        ENVELOPE of 100,000 messages loads every entry, and a call per entry was a
        quarter of that loop."""
        unpack, head, tail = _CUTS.unpack_from, _CUTS.size, _COLUMN_SPANS.size
        found: dict[int, MimeInfo] = {}
        bad: list[int] = []
        get = stored.get
        for uid in uids:
            data = get(uid)
            if data:
                try:
                    cuts = unpack(data)
                except struct.error:
                    pass
                else:
                    if cuts[0] == head and cuts[7] == len(data) and cuts[7] - cuts[6] >= tail:
                        found[uid] = cls(data, cuts)
                        continue
            bad.append(uid)
        return found, bad

    def dumps(self) -> bytes | memoryview:
        return self.data

    def _part(self, i: int) -> bytes | memoryview:
        return self.data[self._cuts[i] : self._cuts[i + 1]]

    def _bytes(self, i: int) -> bytes:
        return bytes(self._part(i))

    @property
    def envelope(self) -> bytes | memoryview:
        """The ENVELOPE encoding, bytes-like (written to the client as it is)."""
        return self._part(0)

    @property
    def bodystructure(self) -> bytes | memoryview:
        return self._part(1)

    @property
    def body(self) -> bytes | memoryview:
        return self._part(2)

    @property
    def structure(self) -> bytes:
        return self._bytes(3)

    @property
    def header(self) -> bytes:
        return self._bytes(4)

    @property
    def email_id(self) -> bytes:
        """RFC 8474 EMAILID: a digest of the content, the same wherever the message is copied."""
        return self._bytes(5)

    def column_text(self, name: str) -> str | None:
        """The SEARCH column text (`field_text`) of ``name``, one of `COLUMN_FIELDS`."""
        return column_texts([self], name)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MimeInfo) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def message(self, raw: bytes) -> Message:
        """The message with its structure taken from the cache (re-parsed if stale)."""
        try:
            structure = MessageStructure.loads(self.structure)
        except (ValueError, TypeError, KeyError, IndexError):
            structure = None
        return Message(raw, structure)


_SPAN = struct.Struct("<ii")


def column_texts(infos: Sequence[MimeInfo], name: str) -> list[str | None]:
    """The SEARCH column texts of ``name`` (one of `COLUMN_FIELDS`) of many summaries.

    The first SEARCH SUBJECT of a 100,000-message mailbox reads this for every
    message: one loop here, and two integers unpacked per message (not the ten of
    every field).
    """
    skip = _SPAN.size * _COLUMN_INDEX[name]  # each field's (offset, length) pair
    unpack = _SPAN.unpack_from
    base = _COLUMN_SPANS.size
    out: list[str | None] = []
    append = out.append
    for info in infos:
        data = info.data
        start = info._cuts[6]
        at, length = unpack(data, start + skip)
        if length < 0:
            append(None)
        else:
            pos = start + base + at
            append(str(data[pos : pos + length], "utf-8", "replace"))
    return out


def info_of(msg: Message) -> MimeInfo:
    """Compute the cached answers of a message."""
    return MimeInfo.build(
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

    def get_many(
        self, base: tuple[Any, ...], ids: Sequence[int], kind: str
    ) -> tuple[dict[int, Any], list[int]]:
        """``get`` of the keys ``(*base, id, kind)``: ({id: value} found, [ids] missing).

        One call per FETCH/SEARCH batch: the per-key method call cost as much as the
        look-up itself.
        """
        items = self._items
        touch = items.move_to_end
        found: dict[int, Any] = {}
        missing: list[int] = []
        for i in ids:
            key = (*base, i, kind)
            item = items.get(key)
            if item is None:
                missing.append(i)
            else:
                touch(key)
                found[i] = item[0]
        return found, missing

    def put_many(
        self, base: tuple[Any, ...], kind: str, entries: list[tuple[int, Any, int]]
    ) -> None:
        """``put`` of ``(id, value, size)`` under the keys ``(*base, id, kind)``, in one call.

        For a FETCH batch loaded from the driver cache after a restart: 10,000 calls to
        `put` (and as many `message_key` tuples built by a function) cost a fifth of
        that FETCH.
        """
        items = self._items
        pop = items.pop
        limit = self.budget // 4
        used = self.used
        for i, value, size in entries:
            if size > limit:
                continue
            key = (*base, i, kind)
            old = pop(key, None)
            if old is not None:
                used -= old[1]
            items[key] = (value, size)
            used += size
        self.used = used
        self._shrink()

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self.budget // 4:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._items[key] = (value, size)
        self.used += size
        self._shrink()

    def _shrink(self) -> None:
        """Drop the least recently used entries until the budget holds."""
        items = self._items
        while self.used > self.budget and items:
            _, (_, freed) = items.popitem(last=False)
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
    base = (box.owner, box.mailbox, box.uidvalidity)
    if memory is not None:
        out, missing = memory.get_many(base, uids, "mime")
    else:
        missing = list(uids)
    if not missing:
        return out
    loaded, todo = MimeInfo.loads_many(missing, await box.cache_get_many(missing, CACHE_KEY))
    out.update(loaded)
    found = [(uid, info, len(info.data) + 200) for uid, info in loaded.items()]
    if todo:
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
            found.append((uid, info, len(data) + 200))
        with contextlib.suppress(Exception):  # an unwritable cache is only slower
            await box.cache_put_many(puts, CACHE_KEY)
    if memory is not None and found:
        memory.put_many(base, "mime", found)
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
