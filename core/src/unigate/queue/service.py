"""The Queue: a durable spool, the delivery scheduler, and the Dequeuer's reports.

Life of a message (manual L11852-12055, DESIGN "Durable state"):

1. ``submit`` routes each recipient, then hands the message to the group commit: the
   leader writes every pending message into one ``Queue/<n>.tmp``, fsyncs it, renames
   it to ``<n>.msg`` and fsyncs the directory -- then every one of those submitters is
   answered with its queue id. Nothing is acknowledged before it is on disk.
2. Each recipient joins the keyed queue of its delivery module (SMTP: per domain or
   host; LOCAL: per account). A scheduler task starts batches (one message, the
   recipients of one key) within each module's concurrency per key.
3. Each result is appended to the spool file (group-fsynced) *before* the Queue acts
   on it. A TEMPORARY result schedules a retry with a doubling delay between the
   floor and the ceiling (or the module's ``retry_after``), and issues a delay warning
   once; past the lifetime the recipient fails ("Undeliverable mail").
4. Reports (RFC 3464) gather per message for the Reporting Delay, or until the last
   recipient is final, and are submitted back into the Queue with an empty return path
   (so there is never a report about a report). When every recipient is final and
   reported, the message is done; a spool file is deleted when all its messages are.

After a crash, ``start`` deletes the ``.tmp`` files, re-reads every ``.msg`` file,
cuts a torn tail of appended records, and resumes: a recipient whose final result
was recorded is never delivered again; one whose result was not is delivered again
("deliver twice rather than lose"). A file that cannot be parsed goes to ``BadFiles``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc

from unigate.blocking import run_blocking
from unigate.queue import spoolfile
from unigate.queue.admin import QueueAdmin
from unigate.queue.clock import Clock, SystemClock
from unigate.queue.commit import GroupCommit
from unigate.queue.disk import SpoolDirectory
from unigate.queue.dsn import Action, ReportItem, compose_dsn
from unigate.queue.enqueuer import (
    ERROR_MODULE,
    NULL_MODULE,
    Router,
    check_message,
    route_envelope,
)
from unigate.queue.errors import CorruptFile, QueueError, QueueFull
from unigate.queue.model import (
    HostQueue,
    QueuedMessage,
    RecipientState,
    Spool,
)
from unigate.queue.settings import QueueSettings
from unigate.queue.spoolfile import StatusRecord
from unigate_hookspecs.delivery import (
    DeferQueue,
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Envelope,
    Recipient,
    RecipientResult,
)

log = logging.getLogger("unigate.queue")

_T = DeliveryOutcome.TEMPORARY
_P = DeliveryOutcome.PERMANENT


class Queue(QueueAdmin):
    """The kernel's message queue over one ``Queue`` directory.

    ``router`` maps an address to a route (sync or async; see
    :class:`unigate.queue.enqueuer.RouteLike`); ``modules`` maps module names to
    :class:`DeliveryModule` instances. ``fsync`` is injectable for tests.

    Run it with ``await queue.start(task_group)`` (or ``await tg.start(queue.run)``,
    or ``async with queue:``) and ``await queue.stop()``. The admin methods
    (:meth:`list`, :meth:`show`, :meth:`retry`, :meth:`delete`) also work on a queue
    that is not running: they then read and update the directory directly, and refuse
    with :class:`QueueLocked` while another process runs it.
    """

    def __init__(
        self,
        directory: Path,
        *,
        router: Router | None = None,
        modules: Mapping[str, DeliveryModule] | None = None,
        settings: QueueSettings | None = None,
        clock: Clock | None = None,
        fsync: Callable[[int], None] = os.fsync,
        bad_files: Path | None = None,
    ):
        self.settings = settings or QueueSettings()
        self.router = router
        self.modules: dict[str, DeliveryModule] = dict(modules or {})
        self.clock: Clock = clock or SystemClock()
        self.disk = SpoolDirectory(Path(directory), bad_files=bad_files, fsync=fsync)
        self._submits: GroupCommit[tuple[Envelope, bytes], str] = GroupCommit(
            self._flush_submits,
            max_items=self.settings.commit_max_messages,
            max_weight=self.settings.commit_max_bytes,
            weight=lambda item: len(item[1]) + 512,
            parallel=self.settings.commit_parallel,
        )
        self._statuses: GroupCommit[tuple[Path, Sequence[StatusRecord]], None] = GroupCommit(
            self._flush_statuses, max_items=1024
        )
        self._messages: dict[str, QueuedMessage] = {}
        #: the bytes of recently submitted messages (id -> data), so a delivery that
        #: follows soon after the submission does not read the spool file back
        self._recent: dict[str, bytes] = {}
        self._recent_bytes = 0
        self._hosts: dict[tuple[str, str], HostQueue] = {}
        self._reporting: set[str] = set()
        self._next_spool = 0
        self._loaded = False
        self._running = False
        self._stopping = False
        self._active = 0
        self._report_tasks = 0
        self._tasks: anyio.abc.TaskGroup | None = None
        self._wake = anyio.Event()
        self._stopped = anyio.Event()
        self._finished = anyio.Event()
        self._dsn_counter = 0
        self.clock.subscribe(self._kick)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Load the directory and run the scheduler in ``task_group``."""
        await task_group.start(self.run)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Load, resume, and deliver until :meth:`stop`."""
        await anyio.to_thread.run_sync(self.disk.lock)
        try:
            await self._load(schedule=True)
            self._running = True
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self._scheduler)
                task_status.started()
                await self._stopped.wait()
                tasks.cancel_scope.cancel()
        finally:
            self._running = False
            self._tasks = None
            self.disk.unlock()
            self._finished.set()

    async def stop(self, deadline: float | None = None) -> None:
        """Stop starting deliveries, wait for running ones (up to the deadline), stop.

        Deliveries still running at the deadline are cancelled; their recipients were
        not recorded, so they are delivered again after the next start.
        """
        if not self._running:
            return
        self._stopping = True
        self._kick()
        limit = self.settings.drain_deadline if deadline is None else deadline
        with anyio.move_on_after(limit):
            while self._active or self._reporting_busy():
                await anyio.sleep(0.005)
        self._stopped.set()
        await self._finished.wait()

    async def __aenter__(self) -> Queue:
        self._own_group = anyio.create_task_group()
        await self._own_group.__aenter__()
        await self.start(self._own_group)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        await self.stop()
        return await self._own_group.__aexit__(*exc_info)

    @property
    def running(self) -> bool:
        """True between start and stop."""
        return self._running

    @property
    def count(self) -> int:
        """Messages in the queue (loaded, not done)."""
        return len(self._messages)

    # ------------------------------------------------------------------ submission

    async def submit(self, envelope: Envelope, data: bytes) -> str:
        """Spool a message; return its queue id once it is durable on disk.

        Raises :class:`SubmitRejected` (no recipients, too many hops) or
        :class:`QueueFull` (the Queue Size Limit).
        """
        check_message(envelope, data, hop_limit=self.settings.hop_limit)
        limit = self.settings.size_limit
        if limit is not None and len(self._messages) + self._submits.pending >= limit:
            raise QueueFull()
        envelope = await route_envelope(envelope, self.router, self.modules, self.clock.now())
        if self._immediate(envelope):
            queue_id = f"{self._spool_name()}-0"
            left = await self._deliver_now(queue_id, envelope, data)
            if left is None:
                return queue_id
            envelope = left
        return await self._submits.submit((envelope, data))

    def _immediate(self, envelope: Envelope) -> bool:
        """May this message go to its modules before it is spooled? (See `DeliveryModule`.)"""
        if not (self.settings.deliver_at_submit and self._running) or self._stopping:
            return False
        for recipient in envelope.recipients:
            route = recipient.route
            module = self.modules.get(route.module) if route is not None else None
            if module is None or not module.immediate or recipient.wants("SUCCESS"):
                return False
        return True

    async def _deliver_now(self, queue_id: str, envelope: Envelope, data: bytes) -> Envelope | None:
        """Deliver at submission; the envelope of the recipients left to spool, or None.

        Only ``DELIVERED`` answers count: anything else (a temporary or permanent
        failure, an error, a deferred key) is spooled and goes the usual way, retries
        and reports included.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for index, recipient in enumerate(envelope.recipients):
            route = recipient.route
            assert route is not None
            groups.setdefault((route.module, route.queue), []).append(index)
        done: set[int] = set()

        async def reader() -> bytes:
            return data

        for (name, key), indexes in groups.items():
            module = self.modules[name]
            step = max(1, module.max_recipients)
            for start in range(0, len(indexes), step):
                chosen = tuple(indexes[start : start + step])
                batch = DeliveryBatch(
                    queue_id, name, key, envelope, chosen, "", 0, len(data), reader
                )
                try:
                    answer = await module.deliver(batch)
                except DeferQueue as error:
                    log.info("DEQUEUER %s %s(%s) deferred: %s", queue_id, name, key, error.text)
                    continue
                except Exception:
                    log.exception("DEQUEUER module %s failed on %s", name, queue_id)
                    continue
                for result in answer or ():
                    if result.index in chosen and result.outcome is DeliveryOutcome.DELIVERED:
                        done.add(result.index)
                        log.info(
                            "DEQUEUER %s <%s> %s %s %s",
                            queue_id,
                            envelope.recipients[result.index].address,
                            result.outcome.value,
                            result.status,
                            result.text,
                        )
        if len(done) == len(envelope.recipients):
            return None
        left = tuple(r for i, r in enumerate(envelope.recipients) if i not in done)
        return replace(envelope, recipients=left)

    async def _flush_submits(self, items: list[tuple[Envelope, bytes]]) -> list[str]:
        name = self._spool_name()

        def write() -> tuple[Path, list[int]]:
            # framing (a crc32 over every message) and writing both off the event loop
            content, offsets = spoolfile.build_spool(
                [(number, envelope, data) for number, (envelope, data) in enumerate(items)]
            )
            return self.disk.write_spool(name, content), offsets

        path, offsets = await run_blocking(write)
        ids = [f"{name}-{number}" for number in range(len(items))]
        if self._loaded:
            spool = Spool(name, path, live=len(items))
            for number, ((envelope, data), offset) in enumerate(zip(items, offsets, strict=True)):
                message = QueuedMessage(
                    id=ids[number],
                    spool=spool,
                    number=number,
                    envelope=envelope,
                    offset=offset,
                    size=len(data),
                    recipients=[RecipientState(i) for i in range(len(envelope.recipients))],
                )
                self._messages[message.id] = message
                self._remember(message.id, data)
                self._enqueue(message)
            self._kick()
        return ids

    def _remember(self, message_id: str, data: bytes) -> None:
        """Keep a just-spooled message's bytes while the cache has room."""
        if self._recent_bytes + len(data) > self.settings.memory_cache_bytes:
            return
        self._recent[message_id] = data
        self._recent_bytes += len(data)

    def _forget_bytes(self, message_id: str) -> None:
        data = self._recent.pop(message_id, None)
        if data is not None:
            self._recent_bytes -= len(data)

    def _spool_name(self) -> str:
        self._next_spool = max(self._next_spool + 1, int(self.clock.now() * 1000))
        if self._loaded:
            # _load saw every spool file and this process owns the directory (the lock):
            # names only grow from here, so none can exist (write_spool's O_EXCL checks)
            return str(self._next_spool)
        while any(
            (self.disk.path / f"{self._next_spool}{suffix}").exists() for suffix in (".msg", ".tmp")
        ):
            self._next_spool += 1
        return str(self._next_spool)

    async def _flush_statuses(self, items: list[tuple[Path, Sequence[StatusRecord]]]) -> list[None]:
        def write() -> None:
            # JSON encoding and framing happen on the worker thread too
            self.disk.append(
                (path, b"".join(spoolfile.encode_status(record) for record in records))
                for path, records in items
            )

        await run_blocking(write)
        return [None] * len(items)

    async def _record(self, message: QueuedMessage, records: Sequence[StatusRecord]) -> None:
        if records:
            await self._statuses.submit((message.spool.path, records))

    # ------------------------------------------------------------------ loading

    async def _load(self, *, schedule: bool) -> None:
        self._messages.clear()
        self._recent.clear()
        self._recent_bytes = 0
        self._hosts.clear()
        self._reporting.clear()
        spools, temps = await anyio.to_thread.run_sync(self.disk.scan)
        for temp in temps:
            log.info("ENQUEUER removing unfinished %s", temp.name)
            await anyio.to_thread.run_sync(self.disk.remove, temp)
        for path in spools:
            name = path.name[: -len(".msg")]
            with contextlib.suppress(ValueError):
                self._next_spool = max(self._next_spool, int(name))
            raw = await anyio.to_thread.run_sync(self.disk.read, path)
            try:
                contents = spoolfile.parse_spool(raw)
                messages = self._restore(name, path, contents)
            except CorruptFile as error:
                target = await anyio.to_thread.run_sync(self.disk.quarantine, path)
                log.error("ENQUEUER %s is damaged (%s); moved to %s", path.name, error, target)
                continue
            if contents.torn_tail:
                await anyio.to_thread.run_sync(self.disk.truncate, path, contents.valid_length)
            live = [message for message in messages if not message.settled]
            if not live:
                await anyio.to_thread.run_sync(self.disk.remove, path)
                continue
            live[0].spool.live = len(live)
            for message in live:
                self._messages[message.id] = message
                if schedule:
                    self._enqueue(message)
        self._loaded = True

    def _restore(
        self, name: str, path: Path, contents: spoolfile.SpoolContents
    ) -> list[QueuedMessage]:
        spool = Spool(name, path)
        messages: dict[int, QueuedMessage] = {}
        for found in contents.messages:
            messages[found.number] = QueuedMessage(
                id=f"{name}-{found.number}",
                spool=spool,
                number=found.number,
                envelope=found.envelope,
                offset=found.offset,
                size=found.size,
                recipients=[RecipientState(i) for i in range(len(found.envelope.recipients))],
            )
        try:
            for kind, value in contents.statuses:
                self._apply_status(messages, kind, value)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise CorruptFile(f"bad status record: {error!r}") from None
        now = self.clock.now()
        for message in messages.values():
            for state in message.recipients:
                if state.final is not None and not state.reported:
                    item = self._report_item(message, state.final, state.last)
                    if item is None:
                        state.reported = True
                    else:
                        message.reports.append(item)
                        message.report_due = now
        return list(messages.values())

    @staticmethod
    def _apply_status(
        messages: dict[int, QueuedMessage], kind: bytes, value: dict[str, Any]
    ) -> None:
        if kind == spoolfile.RETRY:
            targets = [messages[value["n"]]] if value.get("n") is not None else messages.values()
            for message in targets:
                for state in message.recipients:
                    state.next_attempt = 0.0
            return
        message = messages[value["n"]]
        if kind == spoolfile.REPORTED:
            for index in value["i"]:
                state = message.recipients[index]
                if value["k"] == "delay":
                    state.warned = True
                else:
                    state.reported = True
            return
        state = message.recipients[value["i"]]
        result = RecipientResult(
            index=value["i"],
            outcome=DeliveryOutcome(value["o"]),
            status=value.get("st", ""),
            text=value.get("tx", ""),
            remote_mta=value.get("mta"),
            diagnostic=value.get("dg"),
        )
        if kind == spoolfile.FINAL:
            state.final = result
            state.reported = not value.get("rep", False)
            state.attempts = value.get("at", state.attempts)
        elif kind == spoolfile.TEMPORARY:
            state.last = result
            state.attempts = value["at"]
            state.next_attempt = value["next"]

    # ------------------------------------------------------------------ scheduling

    def _kick(self) -> None:
        self._wake.set()

    def _host(self, module: str, key: str) -> HostQueue:
        host = self._hosts.get((module, key))
        if host is None:
            host = self._hosts[(module, key)] = HostQueue(module, key)
        return host

    def _enqueue(self, message: QueuedMessage) -> None:
        for state in message.recipients:
            if state.final is None:
                self._host(*message.key_of(state.index)).members.setdefault(message.id, set()).add(
                    state.index
                )
        if message.reports:
            self._reporting.add(message.id)

    async def _scheduler(self) -> None:
        while not self._stopping:
            self._wake = anyio.Event()
            now = self.clock.now()
            next_due = self._dispatch(now)
            delay = self.clock.real_delay(next_due - now) if next_due < math.inf else math.inf
            with anyio.move_on_after(delay):
                await self._wake.wait()

    def _dispatch(self, now: float) -> float:
        """Start what is due; return when something next becomes due."""
        assert self._tasks is not None
        next_due = math.inf
        for message_id in list(self._reporting):
            message = self._messages.get(message_id)
            if message is not None and message.reporting:
                continue
            if message is None or not message.reports:
                self._reporting.discard(message_id)
                continue
            due = message.report_due if message.report_due is not None else now
            if due <= now or self._all_final(message):
                message.reporting = True
                self._report_tasks += 1
                self._tasks.start_soon(self._flush_reports, message)
            else:
                next_due = min(next_due, due)
        for host in list(self._hosts.values()):
            if not host.members:
                if not host.active:
                    del self._hosts[(host.module, host.key)]
                continue
            if host.delayed_until > now:
                next_due = min(next_due, host.delayed_until)
                continue
            module = self.modules.get(host.module)
            concurrency = max(1, module.concurrency) if module is not None else 1
            per_batch = max(1, module.max_recipients) if module is not None else 100
            if host.active >= concurrency or self._active >= self.settings.max_active:
                continue  # saturated: do not walk (and copy) a long backlog on every wake
            for message_id, indexes in list(host.members.items()):
                if host.active >= concurrency or self._active >= self.settings.max_active:
                    break
                message = self._messages.get(message_id)
                if message is None:  # done meanwhile
                    del host.members[message_id]
                    continue
                due: list[int] = []
                for index in sorted(indexes):
                    state = message.recipients[index]
                    if state.in_flight or state.final is not None:
                        continue
                    if state.next_attempt <= now:
                        due.append(index)
                    else:
                        next_due = min(next_due, state.next_attempt)
                for start in range(0, len(due), per_batch):
                    if host.active >= concurrency or self._active >= self.settings.max_active:
                        break
                    chosen = due[start : start + per_batch]
                    for index in chosen:
                        message.recipients[index].in_flight = True
                    host.active += 1
                    self._active += 1
                    self._tasks.start_soon(self._deliver, host, message, tuple(chosen))
        return next_due

    @staticmethod
    def _all_final(message: QueuedMessage) -> bool:
        return all(state.final is not None and not state.in_flight for state in message.recipients)

    # ------------------------------------------------------------------ delivery

    async def _read(self, message: QueuedMessage) -> bytes:
        data = self._recent.get(message.id)
        if data is not None:
            return data
        return await run_blocking(
            self.disk.read_range, message.spool.path, message.offset, message.size
        )

    async def _deliver(
        self, host: HostQueue, message: QueuedMessage, indexes: tuple[int, ...]
    ) -> None:
        try:
            results, deferred = await self._attempt(host, message, indexes)
            await self._apply(host, message, results, deferred)
        except Exception:  # a disk error: logged; the recipients are retried after a restart
            log.exception("DEQUEUER cannot record the results of %s", message.id)
        finally:
            for index in indexes:
                message.recipients[index].in_flight = False
            host.active -= 1
            self._active -= 1
            self._settle(message)
            self._kick()

    async def _attempt(
        self, host: HostQueue, message: QueuedMessage, indexes: tuple[int, ...]
    ) -> tuple[dict[int, RecipientResult], DeferQueue | None]:
        envelope = message.envelope
        if host.module == NULL_MODULE:
            return {
                i: RecipientResult(i, DeliveryOutcome.DELIVERED, "2.0.0", "discarded")
                for i in indexes
            }, None
        if host.module == ERROR_MODULE:
            return {
                i: RecipientResult(i, _P, "5.1.1", self._route_text(envelope.recipients[i]))
                for i in indexes
            }, None
        module = self.modules.get(host.module)
        if module is None:
            text = f"delivery module {host.module} is not available"
            return {i: RecipientResult(i, _T, "4.3.5", text) for i in indexes}, None
        batch = DeliveryBatch(
            queue_id=message.id,
            module=host.module,
            queue=host.key,
            envelope=envelope,
            indexes=indexes,
            path=str(message.spool.path),
            offset=message.offset,
            size=message.size,
            reader=partial(self._read, message),
        )
        results: dict[int, RecipientResult] = {}
        deferred: DeferQueue | None = None
        try:
            answer = await module.deliver(batch)
            for result in answer or ():
                if result.index in indexes:
                    results[result.index] = result
        except DeferQueue as error:
            deferred = error
            results = {i: RecipientResult(i, _T, error.status, error.text) for i in indexes}
        except Exception as error:
            log.exception("DEQUEUER module %s failed on %s", host.module, message.id)
            results = {
                i: RecipientResult(i, _T, "4.3.0", f"delivery module error: {error}")
                for i in indexes
            }
        for index in indexes:
            if index not in results:
                results[index] = RecipientResult(index, _T, "4.3.0", "no result from the module")
        return results, deferred

    @staticmethod
    def _route_text(recipient: Recipient) -> str:
        route = recipient.route
        return (route.text if route is not None and route.text else "") or "address rejected"

    def _lifetime_end(self, envelope: Envelope) -> float:
        lifetime = (
            self.settings.lifetime
            if envelope.return_path
            else min(self.settings.lifetime, self.settings.empty_return_path_lifetime)
        )
        return envelope.received_at + lifetime

    def _backoff(self, attempts: int) -> float:
        floor, ceiling = self.settings.retry_floor, self.settings.retry_ceiling
        return min(ceiling, floor * 2 ** max(0, min(attempts - 1, 60)))

    async def _apply(
        self,
        host: HostQueue,
        message: QueuedMessage,
        results: dict[int, RecipientResult],
        deferred: DeferQueue | None,
    ) -> None:
        now = self.clock.now()
        envelope = message.envelope
        expires = self._lifetime_end(envelope)
        records: list[StatusRecord] = []
        reports: list[ReportItem] = []
        pause: float | None = None
        if deferred is not None:
            host.failures += 1
            host.last_error = deferred.text
            pause = deferred.retry_after
            if pause is None:
                pause = self._backoff(host.failures)
            host.delayed_until = now + pause
        elif any(result.outcome.final for result in results.values()):
            host.failures = 0
            host.last_error = ""
        for index, result in sorted(results.items()):
            state = message.recipients[index]
            # the attempt counts (for `queue list`) once its record is durable, below
            attempts = state.attempts + 1
            if not result.outcome.final and now >= expires:
                state.last = result
                result = RecipientResult(
                    index,
                    _P,
                    result.status if result.status.startswith(("4.", "5.")) else "4.4.7",
                    "delivery time expired: the host is unavailable"
                    + (f" ({result.text})" if result.text else ""),
                    remote_mta=result.remote_mta,
                    diagnostic=result.diagnostic,
                )
            if result.outcome.final:
                item = self._report_item(message, result, state.last, now=now)
                state.final = result
                state.reported = item is None
                if item is not None:
                    reports.append(item)
                records.append(
                    self._status_record(
                        spoolfile.FINAL,
                        message,
                        result,
                        state,
                        rep=item is not None,
                        attempts=attempts,
                    )
                )
                log.info(
                    "DEQUEUER %s <%s> %s %s %s",
                    message.id,
                    envelope.recipients[index].address,
                    result.outcome.value,
                    result.status,
                    result.text,
                )
            else:
                state.last = result
                if pause is not None:
                    delay = pause
                elif result.retry_after is not None:
                    delay = result.retry_after
                else:
                    delay = self._backoff(attempts)
                state.next_attempt = min(now + delay, expires)
                record = self._status_record(
                    spoolfile.TEMPORARY, message, result, state, attempts=attempts
                )
                records.append(record)
                warning = self._delay_warning(message, state, result, now, expires)
                if warning is not None:
                    reports.append(warning)
        await self._record(message, records)
        for index in results:
            message.recipients[index].attempts += 1
        for index in results:
            if message.recipients[index].final is not None:
                members = host.members.get(message.id)
                if members is not None:
                    members.discard(index)
                    if not members:
                        del host.members[message.id]
        if reports:
            message.reports.extend(reports)
            if message.report_due is None:
                message.report_due = now + self.settings.reporting_delay
            self._reporting.add(message.id)

    def _status_record(
        self,
        kind: bytes,
        message: QueuedMessage,
        result: RecipientResult,
        state: RecipientState,
        *,
        rep: bool = False,
        attempts: int | None = None,
    ) -> StatusRecord:
        """A status record, encoded later (on the worker thread that appends it).

        ``attempts``: the count to record (default: the recipient's current count).
        """
        value: dict[str, Any] = {
            "n": message.number,
            "i": state.index,
            "o": result.outcome.value,
            "st": result.status,
            "tx": result.text,
            "at": state.attempts if attempts is None else attempts,
            "t": self.clock.now(),
        }
        if result.remote_mta:
            value["mta"] = result.remote_mta
        if result.diagnostic:
            value["dg"] = result.diagnostic
        if kind == spoolfile.FINAL:
            value["rep"] = rep
        else:
            value["next"] = state.next_attempt
        return kind, value

    # ------------------------------------------------------------------ reports

    def _receipts_allowed(self, envelope: Envelope) -> bool:
        policy = self.settings.return_receipts
        return policy == "everybody" or (policy == "authenticated" and bool(envelope.auth_account))

    def _report_item(
        self,
        message: QueuedMessage,
        result: RecipientResult,
        last: RecipientResult | None,
        *,
        now: float | None = None,
    ) -> ReportItem | None:
        """The report due for a final result, or None (RFC 3461 NOTIFY rules)."""
        envelope = message.envelope
        if not envelope.return_path:
            return None
        recipient = envelope.recipients[result.index]
        action: Action
        if result.outcome is _P:
            if not recipient.wants("FAILURE"):
                return None
            action = "failed"
        else:
            if result.notify_passed_on or not recipient.wants("SUCCESS"):
                return None
            if not self._receipts_allowed(envelope):
                return None
            action = "relayed" if result.outcome is DeliveryOutcome.RELAYED else "delivered"
        return ReportItem(
            index=result.index,
            recipient=recipient,
            action=action,
            status=result.status,
            text=result.text,
            remote_mta=result.remote_mta or (last.remote_mta if last else None),
            diagnostic=result.diagnostic or (last.diagnostic if last else None),
            last_attempt=now if now is not None else self.clock.now(),
        )

    def _delay_warning(
        self,
        message: QueuedMessage,
        state: RecipientState,
        result: RecipientResult,
        now: float,
        expires: float,
    ) -> ReportItem | None:
        warn_after = self.settings.delay_warning
        envelope = message.envelope
        if warn_after is None or state.warned or not envelope.return_path:
            return None
        if now - envelope.received_at < warn_after:
            return None
        recipient = envelope.recipients[state.index]
        state.warned = True
        if not recipient.wants("DELAY"):
            return None
        return ReportItem(
            index=state.index,
            recipient=recipient,
            action="delayed",
            status=result.status,
            text=result.text,
            remote_mta=result.remote_mta,
            diagnostic=result.diagnostic,
            last_attempt=now,
            will_retry_until=expires,
        )

    def _reporting_busy(self) -> bool:
        return self._report_tasks > 0

    async def _flush_reports(self, message: QueuedMessage) -> None:
        items, message.reports = message.reports, []
        message.report_due = None
        try:
            try:
                await self._send_report(message, items)
            except Exception:
                log.exception("DEQUEUER cannot submit the report about %s", message.id)
                message.reports = items + message.reports
                message.report_due = self.clock.now() + max(self.settings.reporting_delay, 60.0)
                return
            finals = sorted({item.index for item in items if item.action != "delayed"})
            delays = sorted({item.index for item in items if item.action == "delayed"})
            records = []
            if finals:
                records.append(
                    spoolfile.encode_json(
                        spoolfile.REPORTED, {"n": message.number, "i": finals, "k": "final"}
                    )
                )
            if delays:
                records.append(
                    spoolfile.encode_json(
                        spoolfile.REPORTED, {"n": message.number, "i": delays, "k": "delay"}
                    )
                )
            try:
                await self._record(message, records)
            except OSError:  # the report went out; a restart may send it again
                log.exception("DEQUEUER cannot record the report about %s", message.id)
                return
            for index in finals:
                message.recipients[index].reported = True
        finally:
            message.reporting = False
            self._report_tasks -= 1
            if not message.reports:
                self._reporting.discard(message.id)
            self._settle(message)
            self._kick()

    async def _send_report(self, message: QueuedMessage, items: list[ReportItem]) -> None:
        envelope = message.envelope
        original = await self._read(message)
        failed = any(item.action == "failed" for item in items)
        policy = self.settings.on_failure_return
        if not failed or policy == "always-headers":
            full = False
        elif policy == "always-body":
            full = True
        elif envelope.ret is not None:
            full = envelope.ret == "FULL"
        else:
            full = policy == "body-by-default"
        self._dsn_counter += 1
        now = self.clock.now()
        utf8 = envelope.smtputf8 or any(
            not (item.recipient.address + (item.recipient.orcpt or "")).isascii() for item in items
        )
        tag = f"{message.id}.{self._dsn_counter}"
        mta = self.settings.reporting_mta
        data = compose_dsn(
            envelope=envelope,
            queue_id=message.id,
            items=items,
            original=original,
            return_full=full,
            reporting_mta=mta,
            now=now,
            message_id=f"dsn-{tag}@{mta}",
            boundary=f"{tag}/{mta}",
            to=envelope.return_path,
            utf8=utf8,
        )
        recipients = [Recipient(envelope.return_path)]
        copy_to = self.settings.copy_failure_reports_to
        if failed and copy_to and copy_to != envelope.return_path:
            recipients.append(Recipient(copy_to))
        body: Literal["7BIT", "8BITMIME", "BINARYMIME"] = "8BITMIME"
        if full and envelope.body == "BINARYMIME":
            body = "BINARYMIME"
        elif data.isascii():
            body = "7BIT"
        report = Envelope(
            return_path="",
            recipients=tuple(recipients),
            body=body,
            smtputf8=utf8,
            source="DSN",
            received_at=now,
        )
        queue_id = await self.submit(report, data)
        log.info(
            "DEQUEUER report %s about %s sent to <%s>", queue_id, message.id, envelope.return_path
        )

    # ------------------------------------------------------------------ completion

    def _settle(self, message: QueuedMessage) -> None:
        if message.done or not message.settled or message.id not in self._messages:
            return
        message.done = True
        del self._messages[message.id]
        self._forget_bytes(message.id)
        for state in message.recipients:
            host = self._hosts.get(message.key_of(state.index))
            if host is not None:
                host.members.pop(message.id, None)
        self._reporting.discard(message.id)
        message.spool.live -= 1
        if message.spool.live <= 0 and self._tasks is not None:
            self._tasks.start_soon(run_blocking, self._remove_quietly, message.spool.path)
        elif message.spool.live <= 0:
            self._remove_quietly(message.spool.path)

    def _remove_quietly(self, path: Path) -> None:
        try:
            self.disk.remove(path)
        except OSError:  # the next start finds it finished and tries again
            log.exception("DEQUEUER cannot remove %s", path.name)

    # ------------------------------------------------------------------ testing aid

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until nothing is due now and nothing runs (tests use it with a fake clock)."""
        with anyio.fail_after(timeout):
            quiet = 0
            while quiet < 3:
                await anyio.sleep(0.001)
                now = self.clock.now()
                busy = (
                    self._active
                    or self._submits.pending
                    or self._reporting_busy()
                    or self._due(now)
                )
                quiet = 0 if busy else quiet + 1

    def _due(self, now: float) -> bool:
        for message_id in self._reporting:
            message = self._messages.get(message_id)
            if (
                message is not None
                and message.reports
                and not message.reporting
                and ((message.report_due or 0) <= now or self._all_final(message))
            ):
                return True
        for host in self._hosts.values():
            if host.delayed_until > now or not host.members:
                continue
            for message_id, indexes in host.members.items():
                message = self._messages.get(message_id)
                if message is not None and any(
                    not message.recipients[i].in_flight
                    and message.recipients[i].final is None
                    and message.recipients[i].next_attempt <= now
                    for i in indexes
                ):
                    return True
        return False


__all__ = ["Queue", "QueueError"]
