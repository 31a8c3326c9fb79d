"""Queue administration: ``unigate queue list|show|retry|delete``, in process or on disk.

While the Queue runs, the admin calls read and change its memory (and append the same
status records a delivery would). When it is not running -- the CLI on a stopped
server -- each call takes the directory lock, loads the spool files without scheduling
anything, applies the change as appended records, and lets go; a running server in
another process holds the lock, and the call fails with :class:`QueueLocked`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio

from unigate.queue import spoolfile
from unigate.queue.dsn import split_headers
from unigate.queue.errors import UnknownMessage
from unigate.queue.model import QueuedMessage, QueueEntry, RecipientEntry
from unigate_hookspecs.delivery import DeliveryOutcome, RecipientResult

if TYPE_CHECKING:
    from unigate.queue.service import Queue

_P = DeliveryOutcome.PERMANENT


class QueueAdmin:
    """The admin half of :class:`unigate.queue.Queue` (a mixin; see the module docstring)."""

    @contextlib.asynccontextmanager
    async def _admin(self: Queue) -> AsyncIterator[None]:
        """Run an admin operation: in memory when running, else on the directory."""
        if self._running:
            yield
            return
        await anyio.to_thread.run_sync(self.disk.lock)
        try:
            await self._load(schedule=False)
            yield
        finally:
            self._loaded = False
            self.disk.unlock()

    def _entry(self: Queue, message: QueuedMessage, headers: str = "") -> QueueEntry:
        now = self.clock.now()
        recipients = []
        for state in message.recipients:
            recipient = message.envelope.recipients[state.index]
            module, key = message.key_of(state.index)
            host = self._hosts.get((module, key))
            retry_at: float | None = None
            if state.final is not None:
                status = {
                    DeliveryOutcome.DELIVERED: "delivered",
                    DeliveryOutcome.RELAYED: "relayed",
                }.get(state.final.outcome, "failed")
            elif state.in_flight:
                status = "processing"
            elif host is not None and host.delayed_until > now:
                status, retry_at = "delayed", host.delayed_until
            elif state.next_attempt > now:
                status, retry_at = "suspended", state.next_attempt
            else:
                status = "ready"
            last = (
                state.final if state.final is not None and state.final.outcome is _P else state.last
            )
            recipients.append(
                RecipientEntry(
                    index=state.index,
                    address=recipient.address,
                    module=module,
                    queue=key,
                    state=status,
                    attempts=state.attempts,
                    retry_at=retry_at,
                    last_error=f"{last.status} {last.text}".strip() if last is not None else "",
                )
            )
        envelope = message.envelope
        return QueueEntry(
            id=message.id,
            return_path=envelope.return_path,
            source=envelope.source,
            envid=envelope.envid,
            auth_account=envelope.auth_account,
            size=message.size,
            received_at=envelope.received_at,
            recipients=tuple(recipients),
            headers=headers,
        )

    def _get(self: Queue, message_id: str) -> QueuedMessage:
        message = self._messages.get(message_id)
        if message is None:
            raise UnknownMessage(message_id)
        return message

    async def list(self: Queue) -> list[QueueEntry]:
        """Every message in the queue, oldest first (``unigate queue list``)."""
        async with self._admin():
            messages = sorted(self._messages.values(), key=lambda m: (m.envelope.received_at, m.id))
            return [self._entry(message) for message in messages]

    async def show(self: Queue, message_id: str) -> QueueEntry:
        """One message with its header block (``unigate queue show ID``)."""
        async with self._admin():
            message = self._get(message_id)
            data = await self._read(message)
            headers = split_headers(data).decode("utf-8", "replace")
            return self._entry(message, headers)

    async def read(self: Queue, message_id: str) -> bytes:
        """The bytes of a queued message."""
        async with self._admin():
            return await self._read(self._get(message_id))

    async def retry(self: Queue, message_id: str | None = None) -> int:
        """Release delays now: of one message, or of every message (``queue retry``).

        Returns the number of recipients released.
        """
        async with self._admin():
            targets = (
                [self._get(message_id)] if message_id is not None else list(self._messages.values())
            )
            released = 0
            for message in targets:
                for state in message.recipients:
                    if state.final is None:
                        state.next_attempt = 0.0
                        released += 1
                        host = self._hosts.get(message.key_of(state.index))
                        if host is not None:
                            host.delayed_until = 0.0
                await self._record(
                    message, [spoolfile.encode_json(spoolfile.RETRY, {"n": message.number})]
                )
            self._kick()
            return released

    async def delete(
        self, message_id: str, *, report: bool = False, text: str = "deleted by the administrator"
    ) -> int:
        """Reject the recipients of a message that are not being processed (``queue delete``).

        With ``report`` the sender gets a failure report (when the recipients asked for
        one); without, the manual's "Suppress Failed Delivery Reports". Returns the
        number of recipients rejected; the message leaves the queue once none is left.
        """
        async with self._admin():
            message = self._get(message_id)
            now = self.clock.now()
            records = []
            items = []
            rejected = 0
            for state in message.recipients:
                if state.final is not None or state.in_flight:
                    continue
                result = RecipientResult(state.index, _P, "5.0.0", text)
                item = self._report_item(message, result, state.last, now=now) if report else None
                state.final = result
                state.reported = item is None
                if item is not None:
                    items.append(item)
                records.append(
                    self._status_record(
                        spoolfile.FINAL, message, result, state, rep=item is not None
                    )
                )
                module_key = message.key_of(state.index)
                host = self._hosts.get(module_key)
                if host is not None and message.id in host.members:
                    host.members[message.id].discard(state.index)
                    if not host.members[message.id]:
                        del host.members[message.id]
                rejected += 1
            await self._record(message, records)
            if items and self._running:
                message.reports.extend(items)
                message.report_due = now
                self._reporting.add(message.id)
            self._settle(message)
            self._kick()
            return rejected
