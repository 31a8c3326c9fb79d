"""The Queue: the kernel's durable message spool, delivery scheduler and DSN writer.

Public names::

    Queue(directory, *, router, modules, settings, clock, fsync, bad_files)
        await queue.start(task_group) / await task_group.start(queue.run) / async with queue
        await queue.submit(envelope, data) -> queue id (durable when it returns)
        await queue.list() / show(id) / read(id) / retry(id=None) / delete(id, report=False)
        await queue.stop(deadline=None)
    QueueSettings, QueueEntry, RecipientEntry, SystemClock, FakeClock
    SubmitRejected, QueueFull, UnknownMessage, QueueLocked, QueueError

The value types that cross the delivery hook (Envelope, Recipient, DeliveryModule,
DeliveryBatch, RecipientResult, DeliveryOutcome, DeferQueue, Destination) live in
``unigate_hookspecs.delivery`` and are re-exported here for convenience.
"""

from __future__ import annotations

from unigate.queue.clock import Clock, FakeClock, SystemClock
from unigate.queue.dsn import ReportItem, compose_dsn
from unigate.queue.enqueuer import ERROR_MODULE, NULL_MODULE, RouteLike, Router
from unigate.queue.errors import (
    CorruptFile,
    QueueError,
    QueueFull,
    QueueLocked,
    SubmitRejected,
    UnknownMessage,
)
from unigate.queue.model import QueueEntry, RecipientEntry
from unigate.queue.service import Queue
from unigate.queue.settings import QueueSettings
from unigate_hookspecs.delivery import (
    DeferQueue,
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Destination,
    Envelope,
    Recipient,
    RecipientResult,
)

__all__ = [
    "ERROR_MODULE",
    "NULL_MODULE",
    "Clock",
    "CorruptFile",
    "DeferQueue",
    "DeliveryBatch",
    "DeliveryModule",
    "DeliveryOutcome",
    "Destination",
    "Envelope",
    "FakeClock",
    "Queue",
    "QueueEntry",
    "QueueError",
    "QueueFull",
    "QueueLocked",
    "QueueSettings",
    "Recipient",
    "RecipientEntry",
    "RecipientResult",
    "ReportItem",
    "RouteLike",
    "Router",
    "SubmitRejected",
    "SystemClock",
    "UnknownMessage",
    "compose_dsn",
]
