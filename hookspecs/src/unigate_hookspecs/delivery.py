"""Hook family: delivery -- the modules that take queued recipients out of the Queue.

The kernel's Queue keeps every accepted message on disk until each recipient is
final. Each recipient was routed when the message was submitted: the route names a
*delivery module* (``LOCAL``, ``SMTP``, ``LIST``, ``PIPE``, ...) and a *queue key*
inside that module (the SMTP module keeps one queue per remote domain or host, Local
Delivery one per account). The Queue calls a module with a :class:`DeliveryBatch`:
one message and the recipients of that message that share the module and the queue
key. The module answers with one :class:`RecipientResult` per recipient.

What a module may assume and must do:

* :meth:`DeliveryModule.deliver` is ``async`` and runs on the server's event loop;
  block only in worker threads. At most :attr:`DeliveryModule.concurrency` batches of
  one queue key run at the same time (per module and key).
* Answer each recipient of the batch with ``DELIVERED`` (final delivery done),
  ``RELAYED`` (handed to another MTA), ``TEMPORARY`` (try again later) or
  ``PERMANENT`` (give up: the sender gets a failure report if asked for). A recipient
  without a result is treated as ``TEMPORARY``. ``status`` is the RFC 3463 code
  (``"5.1.1"``); ``diagnostic`` quotes the remote reply verbatim for the report.
* A failure that concerns the whole queue key (the host does not answer, the account
  is over quota) is signalled by raising :class:`DeferQueue`: every recipient of the
  batch is delayed and the whole key is suspended. Any other exception counts as a
  temporary failure of the batch; it never loses mail.
* The Queue retries, expires, warns and writes the DSNs; a module never composes a
  report itself, and may be called again for a recipient it already delivered if the
  server crashed before the result was recorded ("deliver twice rather than lose").

The Queue itself handles the pseudo-modules ``NULL`` (discard, counts as delivered)
and ``ERROR`` (permanent failure); plugins contribute the rest through
:func:`unigate_delivery_modules`.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from unigate_hookspecs.markers import hookspec

#: RFC 3461 NOTIFY keywords (``NEVER`` excludes the others)
NOTIFY_KEYWORDS = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a recipient goes, as the Queue records it: the routing decision.

    ``module`` is the delivery module's name (``"LOCAL"``, ``"SMTP"``, ``"NULL"``,
    ``"ERROR"``); ``queue`` the queue key inside it (an account, a domain, a host);
    ``address`` the routed address the module delivers to (after aliases and
    rewriting). ``text`` is the reason for an ``ERROR`` destination.
    """

    module: str
    queue: str
    address: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One envelope recipient with its RFC 3461 parameters.

    ``orcpt`` is the ORCPT value decoded, as ``"rfc822;user@example.com"``;
    ``notify`` the NOTIFY keywords (None: not given, which means failures and delays
    are reported); ``route`` the :class:`Destination`, filled in by the Queue at
    submission when left None.
    """

    address: str
    orcpt: str | None = None
    notify: frozenset[str] | None = None
    route: Destination | None = None

    def __post_init__(self) -> None:
        if self.notify is not None:
            unknown = self.notify - NOTIFY_KEYWORDS
            if unknown:
                raise ValueError(f"unknown NOTIFY keyword(s): {sorted(unknown)}")
            if "NEVER" in self.notify and len(self.notify) > 1:
                raise ValueError("NOTIFY=NEVER cannot be combined with other keywords")

    def wants(self, keyword: str) -> bool:
        """Whether a report of this kind (``SUCCESS``/``FAILURE``/``DELAY``) is wanted."""
        if self.notify is None:
            return keyword in ("FAILURE", "DELAY")
        return keyword in self.notify


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message's envelope: the return path, the recipients and the DSN options.

    ``return_path`` is ``""`` for the null sender (reports: never reported about).
    ``source`` is the manual's Submit Address tag (``SMTP``, ``DSN``, ``RULE``, ...).
    ``received_at`` is seconds since the epoch; the Queue sets it when left at 0.
    """

    return_path: str
    recipients: tuple[Recipient, ...]
    envid: str | None = None
    ret: Literal["FULL", "HDRS"] | None = None
    body: Literal["7BIT", "8BITMIME", "BINARYMIME"] = "7BIT"
    smtputf8: bool = False
    auth_account: str | None = None
    source: str = "SMTP"
    client_address: str | None = None
    received_at: float = 0.0


class DeliveryOutcome(enum.Enum):
    """What happened to one recipient in one attempt."""

    DELIVERED = "delivered"
    RELAYED = "relayed"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"

    @property
    def final(self) -> bool:
        """True for every outcome but TEMPORARY."""
        return self is not DeliveryOutcome.TEMPORARY


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """A module's answer for one recipient of a batch.

    ``index`` is the recipient's index in ``envelope.recipients`` (use
    :meth:`DeliveryBatch.result` to build one from a position in the batch).
    ``remote_mta`` names the host that answered; ``diagnostic`` is its reply quoted
    (``"550 5.1.1 <bob@example.com>: no such user"``). ``retry_after`` (seconds)
    overrides the Queue's backoff for a TEMPORARY result (SMTP "Delay Recipients").
    ``notify_passed_on`` says the next hop took over DSN duties (it supports DSN),
    so no success report is due from us.
    """

    index: int
    outcome: DeliveryOutcome
    status: str = ""
    text: str = ""
    remote_mta: str | None = None
    diagnostic: str | None = None
    retry_after: float | None = None
    notify_passed_on: bool = False


class DeferQueue(Exception):  # noqa: N818 -- a signal, not an error
    """Raised by :meth:`DeliveryModule.deliver`: suspend the whole queue key.

    Every recipient of the batch gets a TEMPORARY result with ``status``/``text``;
    the key is not tried again before ``retry_after`` seconds (or the Queue's own
    backoff when None).
    """

    def __init__(self, text: str, *, status: str = "4.4.1", retry_after: float | None = None):
        super().__init__(text)
        self.text = text
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class DeliveryBatch:
    """One message and the recipients of it that share a module and a queue key.

    ``recipients[i]`` is the envelope recipient number ``indexes[i]``. The message
    bytes are read with ``await batch.read()``; ``path``, ``offset`` and ``size``
    locate them in the spool file for a module that wants to stream them itself.
    """

    queue_id: str
    module: str
    queue: str
    envelope: Envelope
    indexes: tuple[int, ...]
    path: str
    offset: int
    size: int
    reader: Callable[[], Awaitable[bytes]] = field(repr=False, compare=False)

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        """The recipients of this batch, in batch order."""
        return tuple(self.envelope.recipients[i] for i in self.indexes)

    async def read(self) -> bytes:
        """The message bytes (RFC 5322, CRLF line ends as received)."""
        return await self.reader()

    def result(
        self, position: int, outcome: DeliveryOutcome, status: str = "", text: str = "", **more: Any
    ) -> RecipientResult:
        """A :class:`RecipientResult` for the recipient at ``position`` in this batch."""
        return RecipientResult(self.indexes[position], outcome, status, text, **more)


class DeliveryModule(abc.ABC):
    """A destination of queued mail (``LOCAL``, ``SMTP``, ``LIST``, ``PIPE``, ...).

    Subclass it, set :attr:`name`, and implement :meth:`deliver`. :attr:`concurrency`
    bounds the batches running at once per queue key; :attr:`max_recipients` the
    recipients per batch. Override :meth:`queue_key` to choose the queues.

    :attr:`immediate`: a module whose delivery is local, quick and durable when it
    returns (storing into a mailbox) may set it. The Queue then calls :meth:`deliver`
    while the submitter (an SMTP client after DATA) still waits for its answer: the
    recipients it answers ``DELIVERED`` are done and the message is spooled only for
    the others, which the Queue retries as usual. Such a batch has ``path == ""``
    (nothing is spooled yet); ``read()`` still gives the bytes. A message is handed
    over this way only when every recipient goes to an immediate module and none asked
    for a success report; the ``[queue] deliver_at_submit`` setting turns it off.
    """

    #: the module name the Router uses (``"SMTP"`` in ``SMTP(domain)user@domain``)
    name: str = ""
    #: batches delivered at the same time per queue key
    concurrency: int = 1
    #: recipients of one message per batch
    max_recipients: int = 100
    #: the Queue may call :meth:`deliver` at submission, before the submitter is
    #: answered (see :attr:`immediate` below)
    immediate: bool = False

    def queue_key(self, route: Any) -> str:
        """The queue a routed recipient joins; the route's queue, else the address's domain.

        ``route`` is the Router's answer (it has ``module`` and ``address``, and usually
        ``queue``/``host``). Called at submission; the key is recorded with the message.
        """
        for attribute in ("queue", "host"):
            value = getattr(route, attribute, None)
            if value:
                return str(value)
        address = str(getattr(route, "address", ""))
        return address.rpartition("@")[2].lower()

    @abc.abstractmethod
    async def deliver(self, batch: DeliveryBatch) -> Sequence[RecipientResult]:
        """Deliver ``batch``; one result per recipient (see the module docstring)."""


@hookspec
def unigate_delivery_modules(server: Any) -> list[DeliveryModule]:
    """Contribute delivery modules to the Queue.

    Called when: once at start-up, after the kernel services exist and before the
    Queue resumes the messages found on disk (so no recipient waits for a module
    that is merely late to register).

    Params: ``server`` -- the :class:`unigate.api.Server` handle (settings, services).

    Return: a list of :class:`DeliveryModule` instances (an empty list or None: none).
    The kernel merges every plugin's list by :attr:`DeliveryModule.name`; two plugins
    offering the same name is a start-up error naming both.

    firstresult: no -- every plugin contributes.

    Sync (a plain ``def``); the modules' :meth:`DeliveryModule.deliver` are async.

    Example::

        class Sink(DeliveryModule):
            name = "SINK"
            concurrency = 4

            async def deliver(self, batch):
                data = await batch.read()
                store(batch.envelope.return_path, batch.recipients, data)
                return [
                    batch.result(i, DeliveryOutcome.DELIVERED, "2.0.0", "stored")
                    for i in range(len(batch.indexes))
                ]

        @hookimpl
        def unigate_delivery_modules(server):
            return [Sink()]
    """
