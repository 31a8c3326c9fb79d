"""The LOCAL and GROUP delivery modules (the manual's Local Delivery Module section).

``LOCAL``: the Queue hands over one message and the recipients routed to one account
(the queue key is the account). Each distinct target mailbox gets one copy, prefixed
with ``Return-Path:`` and ``Delivered-To:``; the account rules (``unigate_before_store``)
decide first, except for Direct Mailbox Addressing (``box#name``), which bypasses them.
Quota: a message that would fit into the empty account is delayed (the whole account
queue is suspended, "If Account is full: Retry Every 60 min"); a bigger one is refused.

``GROUP``: the Router names the group and its members; the module resubmits the
message to the members (a new queue entry, the same return path) and counts the
group recipient as delivered once that entry is durable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio

from unigate.api import mailboxes
from unigate_hookspecs.delivery import (
    DeferQueue,
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Envelope,
    Recipient,
    RecipientResult,
)
from unigate_hookspecs.routing import Route, RouteOp
from unigate_hookspecs.rules import StoreDecision

DELIVERED = DeliveryOutcome.DELIVERED
TEMPORARY = DeliveryOutcome.TEMPORARY
PERMANENT = DeliveryOutcome.PERMANENT
#: "If Account is full: Retry Every 60 min"; "If Mail Service is disabled: Retry Every 20 min"
FULL_RETRY = 3600.0
DISABLED_RETRY = 1200.0


def trace_headers(return_path: str, account: str, queue_id: str) -> bytes:
    """The ``Return-Path:``, ``Delivered-To:`` and ``X-Queue-ID:`` lines prepended.

    The queue id makes each stored copy unique, so a delivery repeated after a crash
    can recognise a copy it already stored (see `LocalDelivery._already_stored`).
    """
    return (
        f"Return-Path: <{return_path}>\r\nDelivered-To: {account}\r\nX-Queue-ID: {queue_id}\r\n"
    ).encode()


def direct_mailbox(address: str) -> str | None:
    """The mailbox of a ``box#name`` routed address, else None (the INBOX)."""
    box, sep, _ = address.partition("#")
    return box if sep and box else None


class LocalDelivery(DeliveryModule):
    """Stores queued mail into local accounts through the mailbox manager."""

    name = "LOCAL"
    #: concurrent appends to one mailbox share one durable commit (group commit)
    concurrency = 32
    max_recipients = 100
    #: a mailbox append is durable when it returns: store before the client's 250
    immediate = True

    def __init__(self, server: Any) -> None:
        self.server = server
        #: messages received before this moment may have been stored by a crashed run
        self.started = time.time()
        self._enabled: dict[str, tuple[float, bool]] = {}
        #: per (account, mailbox): the records stored before this run, by (date, size)
        self._previous: dict[tuple[str, str], dict[tuple[int, int], list[int]]] = {}
        self._index_locks: dict[tuple[str, str], anyio.Lock] = {}

    def _rules_installed(self) -> bool:
        """Does any plugin implement ``unigate_before_store``? (The hot path skips the call.)"""
        pm = getattr(self.server, "pm", None)
        caller = getattr(pm.hook, "unigate_before_store", None) if pm is not None else None
        return caller is None or bool(caller.get_hookimpls())

    def mail_enabled(self, account: str) -> bool:
        """The account's Mail service switch, re-read at most once a second."""
        now = time.monotonic()
        cached = self._enabled.get(account)
        if cached is None or now - cached[0] > 1.0:
            cached = (now, self.server.objects.service_enabled(account, "mail"))
            self._enabled[account] = cached
        return cached[1]

    async def deliver(self, batch: DeliveryBatch) -> Sequence[RecipientResult]:
        manager = self.server.service("mailboxes")
        if manager is None:
            raise DeferQueue("no mailbox storage is installed", status="4.3.0")
        account = batch.queue
        if not self.mail_enabled(account):
            raise DeferQueue("mail service is disabled", status="4.2.1", retry_after=DISABLED_RETRY)
        data = await batch.read()
        envelope = batch.envelope
        stored: dict[str, RecipientResult | None] = {}
        results: list[RecipientResult] = []
        for position, recipient in enumerate(batch.recipients):
            routed = recipient.route.address if recipient.route is not None else recipient.address
            box = direct_mailbox(routed)
            key = box or ""
            if key not in stored:
                stored[key] = await self._store(
                    manager, account, box, envelope, data, batch.queue_id
                )
            outcome = stored[key]
            if outcome is None:
                results.append(batch.result(position, DELIVERED, "2.0.0", f"stored for {account}"))
            else:
                results.append(
                    batch.result(position, outcome.outcome, outcome.status, outcome.text)
                )
        return results

    async def _store(
        self,
        manager: Any,
        account: str,
        box: str | None,
        envelope: Envelope,
        data: bytes,
        queue_id: str,
    ) -> RecipientResult | None:
        """Store one copy; None when stored, else the failure (index unused)."""
        decision: StoreDecision | None = None
        if box is None and self._rules_installed():
            decision = await self.server.call_first(
                "unigate_before_store",
                server=self.server,
                account=account,
                envelope=envelope,
                message=data,
            )
        decision = decision or StoreDecision()
        if decision.reject:
            return RecipientResult(0, PERMANENT, "5.7.1", decision.reject)
        if decision.redirect:
            await self._resubmit(envelope, decision.redirect, data)
        if decision.discard:
            return None
        targets = list(decision.mailboxes) or [box or "INBOX"]
        content = trace_headers(envelope.return_path, account, queue_id) + data
        resumed = envelope.received_at < self.started
        for name in targets:
            if resumed and await self._already_stored(manager, account, name, envelope, content):
                continue
            try:
                await manager.deliver(
                    account,
                    name,
                    content,
                    sorted(decision.flags),
                    int(envelope.received_at) or None,
                    create=name == "INBOX" or bool(decision.mailboxes),
                )
            except mailboxes.QuotaExceeded as error:
                if error.temporary:
                    raise DeferQueue(
                        f"account is full: {error}", status="4.2.2", retry_after=FULL_RETRY
                    ) from None
                return RecipientResult(0, PERMANENT, "5.2.2", f"account is full: {error}")
            except mailboxes.NoSuchMailbox:
                return RecipientResult(0, PERMANENT, "5.2.0", f"mailbox {name!r} does not exist")
        return None

    async def _already_stored(
        self, manager: Any, account: str, name: str, envelope: Envelope, content: bytes
    ) -> bool:
        """Was this exact copy stored by a run that crashed before recording it?

        Only messages queued before this process started are checked. The records the
        mailbox had when first checked are indexed once by (internal date, size); only
        a record matching both is read and compared byte for byte.
        """
        key = (account, name)
        lock = self._index_locks.setdefault(key, anyio.Lock())
        try:
            session = await manager.open(account, name, user=account)
        except mailboxes.MailboxError:
            return False
        try:
            async with lock:
                index = self._previous.get(key)
                if index is None:
                    index = {}
                    for record in session.messages():
                        index.setdefault((record.internal_date, record.size), []).append(record.uid)
                    self._previous[key] = index
            for uid in index.get((int(envelope.received_at), len(content)), ()):
                if await session.read(uid) == content:
                    return True
            return False
        finally:
            await session.close()

    async def _resubmit(self, envelope: Envelope, addresses: Sequence[str], data: bytes) -> None:
        queue = self.server.service("queue")
        copy = Envelope(
            return_path=envelope.return_path,
            recipients=tuple(Recipient(address) for address in addresses),
            ret=envelope.ret,
            envid=envelope.envid,
            body=envelope.body,
            smtputf8=envelope.smtputf8,
            source="RULE",
        )
        await queue.submit(copy, data)


class GroupDelivery(DeliveryModule):
    """Distributes a message to a group's members by resubmitting it."""

    name = "GROUP"
    concurrency = 1

    def __init__(self, server: Any) -> None:
        self.server = server

    async def deliver(self, batch: DeliveryBatch) -> Sequence[RecipientResult]:
        queue = self.server.service("queue")
        answer = await self.server.routing.route(batch.queue, RouteOp.MAIL)
        if not isinstance(answer, Route) or answer.module != "GROUP":
            return [
                batch.result(i, PERMANENT, "5.1.1", f"{batch.queue} is no longer a group")
                for i in range(len(batch.indexes))
            ]
        data = await batch.read()
        envelope = batch.envelope
        members = tuple(Recipient(member) for member in answer.members)
        if members:
            copy = Envelope(
                return_path=envelope.return_path,
                recipients=members,
                envid=envelope.envid,
                ret=envelope.ret,
                body=envelope.body,
                smtputf8=envelope.smtputf8,
                source="GROUP",
                client_address=envelope.client_address,
            )
            await queue.submit(copy, data)
        text = f"distributed to {len(members)} member(s)"
        return [batch.result(i, DELIVERED, "2.0.0", text) for i in range(len(batch.indexes))]
