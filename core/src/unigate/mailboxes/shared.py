"""One open mailbox shared by every session that uses it.

Why: the format driver contract says calls on one store are serialised and appends
arrive in batches. This object is where that happens: it owns the driver's store, the
in-memory copy of the index (records by UID), the MODSEQ counter, the per-mailbox write
lock, the group-commit queue for appends, and the list of sessions to notify. Every
change is also reported to the manager (``on_change``), which tells the account's
watches (:mod:`.watch`).

Group commit: an append puts its messages in ``_pending`` and, if no commit is running,
starts the commit task: take everything pending, write it with one driver ``append``
call (one fsync), answer the waiters, repeat while more arrived meanwhile.
Appends that arrive while a batch is being written therefore share the next fsync.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from unigate_hookspecs.storage import (
    RECORD_FLAGS,
    RECORD_SIZE,
    RECORD_UID,
    FlagChange,
    FormatDriver,
    MailboxStore,
    MessageRecord,
    NewMessage,
)

from ..blocking import run_blocking
from .errors import NoSuchMailbox
from .events import Appended, ChangeKind, Expunged, FlagsChanged, MailboxEvent

if TYPE_CHECKING:
    from .session import MailboxSession

__all__ = ["SharedMailbox"]

T = TypeVar("T")
log = logging.getLogger("unigate.mailboxes")

#: the distinct flag sets of a mailbox's records and how many records have each
FlagCounts = dict[frozenset[str], int]
#: what `SharedMailbox.view_snapshot` returns (records, UIDs, by UID, flag counts)
ViewSnapshot = tuple[list[MessageRecord], list[int], dict[int, MessageRecord], FlagCounts]

#: distinct flag sets a mailbox shares among its records (then it starts over)
_FLAG_SETS = 4096


class _AppendRequest:
    __slots__ = ("actor", "done", "messages", "origin")

    def __init__(
        self,
        messages: list[NewMessage],
        origin: MailboxSession | None,
        actor: object | None,
        done: asyncio.Future[list[MessageRecord]],
    ) -> None:
        self.messages = messages
        self.origin = origin
        self.actor = actor
        #: the records in order, or the error; a cancelled caller cancels it
        self.done = done


async def _locked(fn: Callable[..., T], *args: object) -> T:
    """A driver call from a holder of the mailbox lock: on an I/O worker thread, shielded.

    Through `run_blocking`, as appends are: every FETCH and SEARCH batch, flag change and
    expunge of every session comes here, and ``anyio.to_thread`` cost a capacity
    limiter, a cancel scope and a queue hand-off per call. The shield keeps the lock
    held until the driver call has returned, so a cancelled caller never lets a second
    call into the store while the first still runs.
    """
    with anyio.CancelScope(shield=True):
        return await run_blocking(fn, *args)


class SharedMailbox:
    """The open store of one mailbox, reference counted by the manager."""

    def __init__(
        self,
        owner: str,
        name: str,
        driver: FormatDriver,
        path: Path,
        on_usage: Callable[[str, str, int, int], None],
        on_change: Callable[[str, str, ChangeKind, object | None], None] | None = None,
    ) -> None:
        self.owner = owner
        self.name = name
        self.driver = driver
        self.path = path
        self.refs = 0
        self.dead = False
        self.sessions: set[MailboxSession] = set()
        self.records: dict[int, MessageRecord] = {}
        #: the sum of the records' sizes, kept up to date by appends and expunges
        self._size = 0
        self.uidvalidity = 0
        self.uidnext = 1
        self.highestmodseq = 0
        self._snapshot: tuple[tuple[int, ...], ViewSnapshot] | None = None
        #: ``records`` is also a view snapshot's by-UID map: copy before changing it
        self._lent = False
        self._flag_counts: tuple[tuple[int, ...], FlagCounts] | None = None
        self.attributes: dict[str, str] = {}
        self.warnings: list[str] = []
        self.expunged_since_open = 0
        #: number of driver ``append`` calls (tests observe group commit through it)
        self.append_batches = 0
        self._store: MailboxStore | None = None
        # asyncio's own lock: taken for every commit batch and driver call, and an
        # uncontended acquire is a flag test (anyio's, even with fast_acquire, looks
        # up the current task and backend: ~6 us; the server always runs on asyncio)
        self._lock = asyncio.Lock()
        self._pending: list[_AppendRequest] = []
        #: the task writing pending appends, while one runs
        self._committer: asyncio.Task[None] | None = None
        self._on_usage = on_usage
        self._on_change = on_change
        #: one frozenset object per distinct flag set (see `_shared_flags`)
        self._flag_sets: dict[frozenset[str], frozenset[str]] = {}

    # -- life cycle -------------------------------------------------------------

    async def load(self) -> None:
        def work() -> tuple[MailboxStore, Any]:
            store = self.driver.open(self.path)
            try:
                return store, store.load()
            except BaseException:
                store.close()
                raise

        self._store, state = await anyio.to_thread.run_sync(work)
        self.uidvalidity = state.uidvalidity
        self.uidnext = state.uidnext
        self.highestmodseq = state.highestmodseq
        # C-level maps, not comprehensions: 100,000 records at a cold open
        self.records = dict(zip(map(RECORD_UID, state.records), state.records, strict=True))
        self._lent = False
        self._size = sum(map(RECORD_SIZE, state.records))
        self.attributes = dict(state.attributes)
        self.warnings = list(state.warnings)
        self._report_usage()

    async def close(self, *, compact: bool = True) -> None:
        """Close the store (compacting first if messages were expunged). Idempotent."""
        async with self._lock:
            store, self._store = self._store, None
            self.dead = True
            for session in self.sessions:
                session._wake()
            if store is None:
                return

            def work() -> None:
                try:
                    if compact and self.expunged_since_open:
                        store.compact()
                finally:
                    store.close()

            await _locked(work)

    def _shared_flags(self, flags: frozenset[str]) -> frozenset[str]:
        """The one object for this flag set among the mailbox's records.

        Appends and flag changes would otherwise give every record its own equal
        frozenset; sessions key per-flag-set work on them (visibility, keywords,
        FETCH FLAGS encodings), which then costs a hash and a compare per message
        instead of one dictionary hit.
        """
        got = self._flag_sets.get(flags)
        if got is None:
            if len(self._flag_sets) >= _FLAG_SETS:
                self._flag_sets.clear()
            got = self._flag_sets[flags] = flags
        return got

    def _state_key(self) -> tuple[int, ...]:
        """What every change to the records moves (HIGHESTMODSEQ, count or UIDNEXT)."""
        return (id(self.records), self.highestmodseq, len(self.records), self.uidnext)

    def flag_counts(self) -> FlagCounts:
        """The distinct flag sets among the records and how many records have each, as
        of now (read-only; computed once per change of the mailbox).

        Why: a mailbox has a handful of distinct flag sets, so STATUS (MESSAGES, UNSEEN,
        SIZE with hidden messages left out) and SELECT (keywords, first unseen) work per
        set instead of per message; counting is one C-level pass over the records.
        """
        key = self._state_key()
        if self._flag_counts is None or self._flag_counts[0] != key:
            self._flag_counts = (key, Counter(map(RECORD_FLAGS, self.records.values())))
        return self._flag_counts[1]

    def view_snapshot(self) -> ViewSnapshot:
        """The records in UID order, their UIDs, the records by UID and the flag counts
        (`flag_counts`), as of now: the same objects for every session opened until the
        mailbox changes. Read-only: a session copies them before it changes its view.

        Why: a SELECT of a 100,000-message mailbox copied them per session (6 ms);
        every change moves HIGHESTMODSEQ, the message count or UIDNEXT, which key it.
        The by-UID map is ``records`` itself, lent until the mailbox next changes
        (`_writable` copies it then), so the first SELECT after a change, or after the
        cold open, does not copy 100,000 entries.
        """
        key = self._state_key()
        if self._snapshot is None or self._snapshot[0] != key:
            snap = (
                list(self.records.values()),
                list(self.records),
                self.records,  # lent, not copied: see `_writable`
                self.flag_counts(),
            )
            self._lent = True
            self._snapshot = (key, snap)
        return self._snapshot[1]

    def _writable(self) -> dict[int, MessageRecord]:
        """``records``, to be changed: copied first while a view snapshot lends it."""
        if self._lent:
            self.records = dict(self.records)
            self._lent = False
        return self.records

    @property
    def size(self) -> int:
        """The sum of the records' sizes (kept up to date by appends and expunges)."""
        return self._size

    def _report_usage(self) -> None:
        self._on_usage(self.owner, self.name, self._size, len(self.records))

    # -- serialised driver calls ------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on a worker thread while holding the mailbox lock."""
        async with self._lock:
            self._check()
            return await _locked(fn, *args)

    @property
    def store(self) -> MailboxStore:
        self._check()
        assert self._store is not None
        return self._store

    def _check(self) -> None:
        if self.dead or self._store is None:
            raise NoSuchMailbox(f"mailbox {self.name!r} was deleted or renamed")

    # -- appends (group commit) -----------------------------------------------------

    async def append(
        self,
        messages: Sequence[NewMessage],
        origin: MailboxSession | None = None,
        *,
        actor: object | None = None,
    ) -> list[MessageRecord]:
        """Append durably; returns the records in order. Concurrent calls share a batch.

        ``actor`` is the client the change is reported as coming from (watches skip
        their own); by default the ``origin`` session's.

        The commit runs in a task of its own, started when none runs: a caller that is
        cancelled stops waiting, but a batch once taken is written and published
        whatever happens to the callers (an anyio shield around a commit run by its
        first caller, as before, cost about 20 us per append: a tenth of the main
        thread's budget for a message over SMTP was in anyio's cancel scopes and events).
        """
        self._check()
        loop = asyncio.get_running_loop()
        request = _AppendRequest(list(messages), origin, actor, loop.create_future())
        self._pending.append(request)
        if self._committer is None:
            self._committer = loop.create_task(self._commit_loop())
        return await request.done

    async def _commit_loop(self) -> None:
        batch: list[_AppendRequest] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._commit(batch)
                except Exception as exc:  # the write failed (or a bug): every waiter hears it
                    for req in batch:
                        if not req.done.done():
                            req.done.set_exception(exc)
        except BaseException:  # the task cancelled (shutdown): nobody is answered
            for req in batch + self._pending:
                req.done.cancel()  # no effect on an answered one
            self._pending = []
            raise
        finally:
            self._committer = None

    async def _commit(self, batch: list[_AppendRequest]) -> None:
        async with self._lock:
            self._check()
            flat: list[NewMessage] = []
            for req in batch:
                for msg in req.messages:
                    self.highestmodseq += 1
                    flat.append(
                        NewMessage(
                            msg.data,
                            self._shared_flags(msg.flags),
                            msg.internal_date,
                            self.highestmodseq,
                        )
                    )
            self.append_batches += 1
            records = await run_blocking(self.store.append, flat)
        mine = self._writable()
        for rec in records:
            old = mine.get(rec.uid)
            if old is not None:
                self._size -= old.size
            self._size += rec.size
            mine[rec.uid] = rec
            self.uidnext = max(self.uidnext, rec.uid + 1)
            self.highestmodseq = max(self.highestmodseq, rec.modseq)
        self._report_usage()
        pos = 0
        for req in batch:
            mine_records = records[pos : pos + len(req.messages)]
            pos += len(req.messages)
            if mine_records:
                try:
                    self.broadcast(Appended(tuple(mine_records)), origin=None)
                    actor = req.actor
                    if actor is None and req.origin is not None:
                        actor = req.origin.origin
                    self._changed(ChangeKind.NEW, actor)
                except Exception:  # stored all the same: its writer gets its answer
                    log.exception("%s/%s: announcing an append failed", self.owner, self.name)
            if not req.done.done():
                req.done.set_result(mine_records)

    # -- flags and expunge ------------------------------------------------------------

    async def set_flags(
        self,
        compute: Callable[[MessageRecord], frozenset[str] | None],
        uids: Iterable[int],
        unchangedsince: int | None,
        origin: MailboxSession | None,
    ) -> tuple[list[MessageRecord], list[int]]:
        """Change flags under the lock: ``compute(record)`` gives the new set (None = skip).

        Returns (changed records, UIDs that failed the UNCHANGEDSINCE test). All changed
        messages share one new MODSEQ.
        """
        async with self._lock:
            self._check()
            changes: list[FlagChange] = []
            failed: list[int] = []
            modseq = self.highestmodseq + 1
            for uid in uids:
                rec = self.records.get(uid)
                if rec is None:
                    continue
                if unchangedsince is not None and rec.modseq > unchangedsince:
                    failed.append(uid)
                    continue
                new = compute(rec)
                if new is None or new == rec.flags:
                    continue
                changes.append(FlagChange(uid, self._shared_flags(new), modseq))
            if not changes:
                return [], failed
            await _locked(self.store.set_flags, changes)
            self.highestmodseq = modseq
            changed = []
            mine = self._writable()
            for ch in changes:
                rec = mine[ch.uid]._replace(flags=ch.flags, modseq=modseq)
                mine[ch.uid] = rec
                changed.append(rec)
        self.broadcast(FlagsChanged(tuple(changed)), origin=origin)
        self._changed(ChangeKind.FLAGS, origin.origin if origin is not None else None)
        return changed, failed

    async def expunge(self, uids: Iterable[int], origin: MailboxSession | None) -> list[int]:
        """Remove the given UIDs that still exist; returns those removed, ascending."""
        async with self._lock:
            self._check()
            gone = sorted(u for u in set(uids) if u in self.records)
            if not gone:
                return []
            modseq = self.highestmodseq + 1
            await _locked(self.store.expunge, gone, modseq)
            self.highestmodseq = modseq
            mine = self._writable()
            for uid in gone:
                self._size -= mine.pop(uid).size
            self.expunged_since_open += len(gone)
            self._report_usage()
        self.broadcast(Expunged(tuple(gone)), origin=origin)
        self._changed(ChangeKind.EXPUNGE, origin.origin if origin is not None else None)
        return gone

    # -- notification -------------------------------------------------------------

    def _changed(self, kind: ChangeKind, actor: object | None) -> None:
        if self._on_change is not None:
            self._on_change(self.owner, self.name, kind, actor)

    def broadcast(self, event: MailboxEvent, origin: MailboxSession | None) -> None:
        for session in list(self.sessions):
            if session is not origin:
                session._enqueue(event)
