"""A session's view of an open mailbox: its own sequence numbers and pending changes.

Why: IMAP may announce a change (EXISTS, EXPUNGE, FETCH FLAGS) only at certain moments,
so each session keeps the list of messages *it* has announced and queues changes made by
others until :meth:`MailboxSession.refresh`. POP never refreshes: its view stays frozen
for the whole session, as the manual requires.

Visibility: a message with ``$Service`` is invisible unless the session was opened with
``service_visible=True`` (IMAP and POP never are); a message with ``$Hidden`` is
invisible to users other than the owner who lack the ``a`` right. A message that becomes
invisible through a flag change leaves the view as if expunged; one that becomes visible
appears only in a later session (UIDs must never go backwards in a view).

Own changes: ``store`` and ``expunge`` apply to this view at once and return what
changed; the session's own appends (``append``, ``copy`` into the same mailbox) are
queued like anyone else's and appear at the next ``refresh``.

Bounded: a session that does not refresh for a long time (a POP session, an IMAP
client that asked for a snapshot with NOTIFY) keeps at most one pending change per
message -- past a few hundred queued events they are merged into one ``Appended``,
one ``FlagsChanged`` and one ``Expunged`` with the same effect on the view.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from itertools import compress, count
from typing import TYPE_CHECKING

import anyio

from unigate_hookspecs.storage import RECORD_FLAGS, MessageRecord, NewMessage

from .errors import NoSuchMailbox, PermissionDenied
from .events import Appended, Expunged, FlagsChanged, MailboxEvent
from .flags import (
    DELETED,
    SEEN,
    flag_key,
    merge_flags,
    normalize_flags,
    remove_flags,
    visible,
)
from .shared import FlagCounts, SharedMailbox

if TYPE_CHECKING:
    from .manager import MailboxManager

__all__ = ["MailboxSession", "NoSuchMessage", "StoreMode"]

#: pending events past which they are merged (see the module docstring)
COMPACT_AT = 512
#: distinct flag sets whose visibility a session remembers (then it starts over)
_VISIBILITY_MEMO = 4096


class NoSuchMessage(NoSuchMailbox):
    """The message was expunged (by another session) or never existed."""


class StoreMode(StrEnum):
    """How ``store`` combines the given flags with the current ones."""

    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


class MailboxSession:
    """One user's open mailbox. Create with :meth:`MailboxManager.open`; close when done."""

    def __init__(
        self,
        manager: MailboxManager,
        shared: SharedMailbox,
        *,
        account: str,
        name: str,
        user: str,
        rights: str,
        readonly: bool,
        service_visible: bool,
        view: bool = True,
    ) -> None:
        self._manager = manager
        self._shared = shared
        #: the canonical owner account and mailbox name
        self.owner = shared.owner
        self.mailbox = shared.name
        #: the account and name as the session opened them (for foreign/alias names)
        self.account = account
        self.name = name
        self.user = user
        self.rights = rights
        self.readonly = readonly
        self.service_visible = service_visible
        #: the client this session's changes are reported as coming from (see `open`)
        self.origin: object | None = None
        self._see_hidden = user.lower() == shared.owner or "a" in rights
        #: visibility by flag set: a mailbox has few distinct flag sets, so a SELECT
        #: of 100,000 messages decides visibility a handful of times, not per message
        self._visibility: dict[frozenset[str], bool] = {}
        #: True while the view is the mailbox's snapshot, shared with other sessions
        self._shared_view = False
        if view:
            self._build_view()
        self._pending: list[MailboxEvent] = []
        #: UIDs whose removal ``refresh(defer_removals=True)`` held back
        self._deferred: list[int] = []
        self._changed = anyio.Event()
        self._closed = False
        self.uidvalidity = shared.uidvalidity
        self.uidnext = shared.uidnext
        self.highestmodseq = shared.highestmodseq

    def _build_view(self) -> None:
        """The view: records and UIDs in sequence order, and records by UID.

        Visibility is decided per distinct flag set (a mailbox has a handful); when
        every set is visible -- nearly always -- the view is the mailbox's shared
        snapshot (`SharedMailbox.view_snapshot`), copied only when this session first
        changes it (`_own_view`). A SELECT of 100,000 messages: no work per message.
        """
        view, uids, records, counts = self._shared.view_snapshot()
        hidden = {f for f in counts if not self._visible_flags(f)}
        self._counts: FlagCounts | None = None
        if hidden:
            view = [rec for rec in view if rec.flags not in hidden]
            self._records: dict[int, MessageRecord] = {rec.uid: rec for rec in view}
            self._uids: list[int] = list(self._records)
            self._view: list[MessageRecord] = view
            self._shared_view = False
        else:
            self._view, self._uids, self._records = view, uids, records
            self._counts = counts
            self._shared_view = True

    def _own_view(self) -> None:
        """Copy the shared snapshot before the first change to this session's view."""
        if self._shared_view:
            self._view = self._view.copy()
            self._uids = self._uids.copy()
            self._records = dict(self._records)
            self._shared_view = False
            self._counts = None

    def __getattr__(self, name: str) -> object:
        """The view of a session opened with ``view=False``, built on its first use.

        Once built, ``_uids``, ``_view`` and ``_records`` are plain attributes
        (``__getattr__`` is only asked for missing ones).
        """
        if name not in ("_uids", "_view", "_records", "_counts"):
            raise AttributeError(name)
        self._build_view()
        return getattr(self, name)

    # -- context manager ----------------------------------------------------------

    async def __aenter__(self) -> MailboxSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shared.sessions.discard(self)
        await self._manager._release(self._shared)

    # -- the view ---------------------------------------------------------------------

    def _visible(self, rec: MessageRecord) -> bool:
        return self._visible_flags(rec.flags)

    def _visible_flags(self, flags: frozenset[str]) -> bool:
        known = self._visibility.get(flags)
        if known is not None:
            return known
        known = visible(flags, see_hidden=self._see_hidden, service_visible=self.service_visible)
        if len(self._visibility) >= _VISIBILITY_MEMO:
            self._visibility.clear()
        self._visibility[flags] = known
        return known

    def _replace(self, rec: MessageRecord) -> None:
        """Put a changed record of a message already in the view in its place."""
        self._own_view()
        self._records[rec.uid] = rec
        self._view[bisect.bisect_left(self._uids, rec.uid)] = rec

    def messages(self) -> list[MessageRecord]:
        """The view's records in sequence order (sequence number = index + 1); a copy."""
        return self._view.copy()

    def uids(self) -> list[int]:
        """The view's UIDs in sequence order; a copy."""
        return self._uids.copy()

    def __len__(self) -> int:
        return len(self._uids)

    def seq_of(self, uid: int) -> int | None:
        """The sequence number of ``uid`` in this view, or None."""
        i = bisect.bisect_left(self._uids, uid)
        return i + 1 if i < len(self._uids) and self._uids[i] == uid else None

    def uid_of(self, seq: int) -> int:
        """The UID at sequence number ``seq`` (1-based); IndexError if out of range."""
        if seq < 1:
            raise IndexError(seq)
        return self._uids[seq - 1]

    def record(self, uid: int) -> MessageRecord | None:
        return self._records.get(uid)

    def flag_counts(self) -> FlagCounts:
        """The distinct flag sets of the view's records and how many have each
        (read-only). While the view is the mailbox's shared snapshot these are the
        mailbox's, computed once per change; after this session's own changes they
        are counted over its view (one C-level pass)."""
        if self._counts is None:  # set only while the view is the shared snapshot
            return Counter(map(RECORD_FLAGS, self._view))
        return self._counts

    def _sets_with(self, flag: str) -> set[frozenset[str]]:
        key = flag_key(flag)
        return {f for f in self.flag_counts() if key in {flag_key(x) for x in f}}

    def count_with(self, flag: str) -> int:
        """How many messages of the view have ``flag`` (case-insensitive)."""
        counts = self.flag_counts()
        return sum(counts[f] for f in self._sets_with(flag))

    def first_without(self, flag: str) -> int | None:
        """The sequence number of the first message of the view without ``flag``.

        Per flag set, then one lazy C-level scan that stops at the first hit: the
        UNSEEN of a SELECT costs no Python code per message even when it is the last.
        """
        having = self._sets_with(flag)
        lacking = {f for f in self.flag_counts() if f not in having}
        if not lacking:
            return None
        hits = compress(count(1), map(lacking.__contains__, map(RECORD_FLAGS, self._view)))
        return next(hits, None)

    def unseen(self) -> int:
        return len(self._uids) - self.count_with(SEEN)

    # -- change notification ----------------------------------------------------------

    def _enqueue(self, event: MailboxEvent) -> None:
        self._pending.append(event)
        if len(self._pending) > COMPACT_AT:
            self._pending = _compact(self._pending)
        self._changed.set()

    def _wake(self) -> None:
        self._changed.set()

    @property
    def has_changes(self) -> bool:
        """True when :meth:`refresh` has something to apply (held-back removals too)."""
        return bool(self._pending or self._deferred)

    async def wait_changes(self) -> None:
        """Return when changes made elsewhere are waiting for :meth:`refresh` (IMAP IDLE).

        Raises :class:`NoSuchMailbox` when the mailbox is deleted or renamed meanwhile.
        """
        while not self._pending:
            if self._shared.dead:
                raise NoSuchMailbox(f"mailbox {self.mailbox!r} was deleted or renamed")
            self._changed = anyio.Event()
            await self._changed.wait()

    def refresh(self, *, defer_removals: bool = False) -> list[MailboxEvent]:
        """Apply pending changes to the view and return them, ready to announce.

        ``Appended`` holds the records that joined the view (EXISTS = ``len(session)``),
        ``FlagsChanged`` the records of the view that changed, ``Expunged`` the UIDs and
        the sequence numbers to announce, in announcing order.

        ``defer_removals``: apply new and changed messages but keep every removal
        (expunged, or hidden by a flag change) for a later ``refresh()`` -- for a client
        that may not be told of expunges yet (IMAP NOTIFY SELECTED-DELAYED). The held
        messages stay in the view meanwhile, so sequence numbers do not move. A plain
        ``refresh()`` applies the held removals first.
        """
        pending, self._pending = self._pending, []
        out: list[MailboxEvent] = []
        if self._deferred and not defer_removals:
            held, self._deferred = self._deferred, []
            ev = self._remove(held)
            if ev.uids:
                out.append(ev)
        for event in pending:
            if isinstance(event, Appended):
                last = self._uids[-1] if self._uids else 0
                new = [r for r in event.records if r.uid > last and self._visible(r)]
                if new:
                    self._own_view()
                for rec in new:
                    self._uids.append(rec.uid)
                    self._view.append(rec)
                    self._records[rec.uid] = rec
                if new:
                    out.append(Appended(tuple(new)))
                self.uidnext = max(self.uidnext, max(r.uid for r in event.records) + 1)
                self.highestmodseq = max(self.highestmodseq, *(r.modseq for r in event.records))
            elif isinstance(event, FlagsChanged):
                changed = []
                hidden = []
                for rec in event.records:
                    self.highestmodseq = max(self.highestmodseq, rec.modseq)
                    if rec.uid not in self._records:
                        continue
                    if self._visible(rec):
                        self._replace(rec)
                        changed.append(rec)
                    else:
                        hidden.append(rec.uid)
                if changed:
                    out.append(FlagsChanged(tuple(changed)))
                if hidden and defer_removals:
                    self._deferred.extend(hidden)
                elif hidden:
                    out.append(self._remove(hidden))
            elif defer_removals:
                self._deferred.extend(u for u in event.uids if u in self._records)
            else:
                ev = self._remove(event.uids)
                if ev.uids:
                    out.append(ev)
        self.highestmodseq = max(self.highestmodseq, self._shared.highestmodseq)
        return out

    def _remove(self, uids: Iterable[int]) -> Expunged:
        pairs = sorted(((self.seq_of(u), u) for u in uids if u in self._records), reverse=True)
        if pairs:
            self._own_view()
        for seq, uid in pairs:
            assert seq is not None
            del self._uids[seq - 1]
            del self._view[seq - 1]
            del self._records[uid]
        return Expunged(tuple(u for _, u in pairs), tuple(s for s, _ in pairs))  # type: ignore[misc]

    # -- operations -------------------------------------------------------------------

    def _require(self, right: str) -> None:
        if self._closed:
            raise NoSuchMailbox("session closed")
        if right not in self.rights:
            raise PermissionDenied(right)

    def _writable(self) -> None:
        if self.readonly:
            raise PermissionDenied("w", "mailbox opened read-only")

    async def append(
        self,
        data: bytes,
        flags: Iterable[str] = (),
        internal_date: int | None = None,
    ) -> MessageRecord:
        """Append one message (needs ``i``; quota checked). Reported to this view by ``refresh``."""
        self._require("i")
        self._writable()
        clean = self._allowed_flags(normalize_flags(flags))
        await self._manager._check_quota(self.owner, len(data))
        msg = NewMessage(data, clean, int(time.time()) if internal_date is None else internal_date)
        (rec,) = await self._shared.append([msg], origin=self)
        return rec

    def _allowed_flags(self, flags: frozenset[str]) -> frozenset[str]:
        """The flags this user may set: ``\\Seen`` needs ``s``, ``\\Deleted`` ``d``, others ``w``."""
        out = []
        for f in flags:
            need = "s" if f == SEEN else "d" if f == DELETED else "w"
            if need in self.rights:
                out.append(f)
        return frozenset(out)

    async def store(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: StoreMode | str = StoreMode.ADD,
        unchangedsince: int | None = None,
    ) -> tuple[list[MessageRecord], list[int]]:
        """Change flags of the view's messages -> (changed records, UIDs failing UNCHANGEDSINCE).

        Flags the user has no right to change are silently left alone (the manual: a
        reader without ``s`` leaves Seen unchanged). UIDs not in the view are ignored.
        """
        if self._closed:
            raise NoSuchMailbox("session closed")
        self._writable()
        mode = StoreMode(mode)
        given = normalize_flags(flags)
        may = {"s": SEEN, "d": DELETED}

        def changeable(f: str) -> bool:
            need = next((r for r, name in may.items() if name == f), "w")
            return need in self.rights

        def compute(rec: MessageRecord) -> frozenset[str] | None:
            if mode is StoreMode.ADD:
                return merge_flags(rec.flags, [f for f in given if changeable(f)])
            if mode is StoreMode.REMOVE:
                return remove_flags(rec.flags, [f for f in given if changeable(f)])
            keep = frozenset(f for f in rec.flags if not changeable(f))
            return merge_flags(keep, [f for f in given if changeable(f)])

        wanted = [u for u in uids if u in self._records]
        changed, failed = await self._shared.set_flags(compute, wanted, unchangedsince, self)
        for rec in changed:
            self.highestmodseq = max(self.highestmodseq, rec.modseq)
            if self._visible(rec) and rec.uid in self._records:
                self._replace(rec)
        return changed, failed

    async def expunge(self, uids: Iterable[int] | None = None) -> Expunged:
        """Remove the view's ``\\Deleted`` messages (only those in ``uids`` if given; needs ``d``).

        Returns the UIDs and sequence numbers removed from this view, in announcing order.
        """
        self._require("d")
        self._writable()
        candidates = self._uids if uids is None else [u for u in uids if u in self._records]
        current = self._shared.records
        victims = [u for u in candidates if u in current and flag_key(DELETED) in _keys(current[u])]
        gone = await self._shared.expunge(victims, origin=self)
        self.highestmodseq = max(self.highestmodseq, self._shared.highestmodseq)
        return self._remove(gone)

    async def read(self, uid: int) -> bytes:
        """The message's bytes. :class:`NoSuchMessage` if it was expunged meanwhile."""
        self._require("r")
        if uid not in self._records:
            raise NoSuchMessage(f"no message with UID {uid} in this view")
        shared = self._shared
        if uid not in shared.records:
            raise NoSuchMessage(f"message UID {uid} was expunged")
        try:
            return await shared.call(shared.store.read, uid)
        except KeyError:
            raise NoSuchMessage(f"message UID {uid} was expunged") from None

    async def cache_get(self, uid: int, key: str) -> bytes | None:
        shared = self._shared
        return await shared.call(shared.store.cache_get, uid, key)

    async def cache_put(self, uid: int, key: str, value: bytes) -> None:
        shared = self._shared
        await shared.call(shared.store.cache_put, uid, key, value)

    # -- batched reads (one worker-thread hop under the mailbox lock per call) ----------

    async def read_many(self, uids: Iterable[int]) -> dict[int, bytes]:
        """{UID: bytes} of the view's messages among ``uids``; expunged ones are left out.

        One driver round trip for many messages (FETCH ranges, SEARCH BODY): the
        per-call thread hop costs more than reading a small message.
        """
        self._require("r")
        shared = self._shared
        wanted = [u for u in uids if u in self._records and u in shared.records]
        if not wanted:
            return {}

        def work() -> dict[int, bytes]:
            store = shared.store
            out: dict[int, bytes] = {}
            for uid in wanted:
                try:
                    out[uid] = store.read(uid)
                except KeyError:
                    continue
            return out

        return await shared.call(work)

    async def cache_get_many(self, uids: Iterable[int], key: str) -> dict[int, bytes | memoryview]:
        """{UID: value} of the driver's derived-data cache for ``key``; misses are left out.

        Values are bytes-like: a driver may answer with read-only views (see
        ``MailboxStore.cache_get_many``)."""
        shared = self._shared
        wanted = list(uids)
        if not wanted:
            return {}

        return await shared.call(lambda: shared.store.cache_get_many(wanted, key))

    async def cache_put_many(self, items: Iterable[tuple[int, bytes]], key: str) -> None:
        """Store ``(UID, value)`` pairs under ``key``; UIDs expunged meanwhile are skipped."""
        shared = self._shared
        wanted = [(u, v) for u, v in items if u in shared.records]
        if not wanted:
            return

        def work() -> None:
            store = shared.store
            for uid, value in wanted:
                store.cache_put(uid, key, value)

        await shared.call(work)

    async def copy(self, uids: Iterable[int], dest: str) -> dict[int, int]:
        """Copy messages to mailbox ``dest`` (a name in the session's account context).

        Needs ``i`` on the destination; flags are copied as far as the user may set them
        there. Returns {source UID: destination UID} (COPYUID).
        """
        self._require("r")
        wanted = [u for u in uids if u in self._records]
        return await self._manager._copy_from(self, wanted, dest)

    async def move(self, uids: Iterable[int], dest: str) -> tuple[dict[int, int], Expunged]:
        """Copy, then remove the originals (needs ``d`` here). Returns (UID map, Expunged)."""
        self._require("d")
        self._writable()
        mapping = await self.copy(uids, dest)
        gone = await self._shared.expunge(list(mapping), origin=self)
        return mapping, self._remove(gone)

    async def _read_for_copy(self, uids: list[int]) -> list[tuple[MessageRecord, bytes]]:
        shared = self._shared
        records = [shared.records[u] for u in uids if u in shared.records]

        def work() -> list[tuple[MessageRecord, bytes]]:
            out = []
            for rec in records:
                try:
                    out.append((rec, shared.store.read(rec.uid)))
                except KeyError:
                    continue
            return out

        return await shared.call(work)


def _compact(events: list[MailboxEvent]) -> list[MailboxEvent]:
    """Merge queued events into at most three with the same effect on a view."""
    appended: dict[int, MessageRecord] = {}
    flags: dict[int, MessageRecord] = {}
    expunged: dict[int, None] = {}
    for event in events:
        if isinstance(event, Appended):
            for rec in event.records:
                appended[rec.uid] = rec
        elif isinstance(event, FlagsChanged):
            for rec in event.records:
                if rec.uid in appended:
                    appended[rec.uid] = rec
                else:
                    flags[rec.uid] = rec
        else:
            for uid in event.uids:
                expunged[uid] = None
                flags.pop(uid, None)
    out: list[MailboxEvent] = []
    if appended:
        out.append(Appended(tuple(appended[u] for u in sorted(appended))))
    if flags:
        out.append(FlagsChanged(tuple(flags.values())))
    if expunged:
        out.append(Expunged(tuple(expunged)))
    return out


def _keys(rec: MessageRecord) -> set[str]:
    return {flag_key(f) for f in rec.flags}
