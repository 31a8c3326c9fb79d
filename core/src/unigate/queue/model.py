"""The Queue's in-memory picture: messages, their recipients, and the keyed queues.

Everything here mirrors what the spool files say (they are the truth after a
restart); the Queue updates both. Admin views (:class:`QueueEntry`) are frozen copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from unigate.queue.dsn import ReportItem
from unigate_hookspecs.delivery import Envelope, RecipientResult


@dataclass(eq=False, slots=True)
class RecipientState:
    """Where one recipient of one message stands."""

    index: int
    final: RecipientResult | None = None
    attempts: int = 0
    next_attempt: float = 0.0
    last: RecipientResult | None = None
    in_flight: bool = False
    #: the final report is written (or none is due)
    reported: bool = True
    #: a delay warning was issued
    warned: bool = False


@dataclass(eq=False, slots=True)
class Spool:
    """One spool file and the messages in it that are not done yet."""

    name: str
    path: Path
    live: int = 0


@dataclass(eq=False, slots=True)
class QueuedMessage:
    """One message in the queue."""

    id: str
    spool: Spool
    number: int
    envelope: Envelope
    offset: int
    size: int
    recipients: list[RecipientState]
    reports: list[ReportItem] = field(default_factory=list)
    report_due: float | None = None
    reporting: bool = False
    done: bool = False

    def key_of(self, index: int) -> tuple[str, str]:
        """The (module, queue key) recipient ``index`` was routed to."""
        route = self.envelope.recipients[index].route
        assert route is not None
        return route.module, route.queue

    @property
    def settled(self) -> bool:
        """Every recipient final, every report written, nothing in flight."""
        return (
            all(r.final is not None and r.reported and not r.in_flight for r in self.recipients)
            and not self.reports
            and not self.reporting
        )


@dataclass(eq=False, slots=True)
class HostQueue:
    """One module's queue for one key (a domain, a host, an account)."""

    module: str
    key: str
    delayed_until: float = 0.0
    failures: int = 0
    active: int = 0
    last_error: str = ""
    #: message id -> the recipient indexes of that message in this queue, not final
    members: dict[str, set[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecipientEntry:
    """An admin view of one recipient.

    ``state``: ``processing`` (being delivered), ``ready``, ``suspended`` (this
    recipient is delayed), ``delayed`` (its whole queue is), or the final
    ``delivered``/``relayed``/``failed``.
    """

    index: int
    address: str
    module: str
    queue: str
    state: str
    attempts: int
    retry_at: float | None
    last_error: str


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """An admin view of one queued message (``headers`` only from ``show``)."""

    id: str
    return_path: str
    source: str
    envid: str | None
    auth_account: str | None
    size: int
    received_at: float
    recipients: tuple[RecipientEntry, ...]
    headers: str = ""
