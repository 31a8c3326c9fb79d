"""The Queue's scheduler and Dequeuer: retries, expiry, warnings, reports, limits, restart.

Every test runs a real Queue on a temporary directory with a fake clock and fake
delivery modules; "hours" pass by ``clock.advance``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from unigate.queue import FakeClock, Queue, QueueSettings, SubmitRejected
from unigate_hookspecs.delivery import (
    DeferQueue,
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Envelope,
    Recipient,
    RecipientResult,
)

pytestmark = pytest.mark.anyio

HOUR = 3600.0
MESSAGE = (
    b"From: alice@here.example\r\nTo: bob@there.example\r\nSubject: hello\r\n"
    b"Message-ID: <m1@here.example>\r\n\r\nBody line\r\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Route:
    """A stand-in for the Router's answer: module(queue) address."""

    module: str
    address: str
    queue: str | None = None


def router(address: str) -> Route | None:
    local, _, domain = address.partition("@")
    if domain == "local.example":
        return Route("LOCAL", local, queue=local)
    if domain == "null.example":
        return Route("NULL", address)
    if domain == "nowhere.example":
        return None
    return Route("SMTP", address)


Behaviour = Callable[[DeliveryBatch, int], DeliveryOutcome | tuple[DeliveryOutcome, str, str]]


class FakeModule(DeliveryModule):
    """Answers from a script: ``behaviour(batch, call_number)`` per recipient."""

    def __init__(self, name: str, behaviour: Behaviour | None = None, concurrency: int = 1):
        self.name = name
        self.concurrency = concurrency
        self.behaviour = behaviour or (lambda batch, n: DeliveryOutcome.DELIVERED)
        self.calls: list[DeliveryBatch] = []
        self.data: list[bytes] = []
        self.running = 0
        self.max_running = 0
        self.gate: anyio.Event | None = None

    async def deliver(self, batch: DeliveryBatch) -> Sequence[RecipientResult]:
        self.calls.append(batch)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            self.data.append(await batch.read())
            answer = self.behaviour(batch, len(self.calls))
            if isinstance(answer, tuple):
                outcome, status, text = answer
            else:
                outcome, status, text = answer, "", ""
            return [
                batch.result(
                    i,
                    outcome,
                    status,
                    text,
                    remote_mta="mx.there.example",
                    diagnostic=f"{'250' if outcome.final and status.startswith('2') else '550'} {status} {text}".strip()
                    if status
                    else None,
                )
                for i in range(len(batch.indexes))
            ]
        finally:
            self.running -= 1


class Harness:
    """A running queue plus its fake clock, modules and the DSNs it sends."""

    def __init__(self, queue: Queue, clock: FakeClock, modules: dict[str, FakeModule]):
        self.queue = queue
        self.clock = clock
        self.modules = modules

    @property
    def smtp(self) -> FakeModule:
        return self.modules["SMTP"]

    @property
    def local(self) -> FakeModule:
        return self.modules["LOCAL"]

    def reports(self) -> list[email.message.EmailMessage]:
        """DSNs delivered to local senders (alice@local.example)."""
        found = []
        for batch, data in zip(self.local.calls, self.local.data, strict=True):
            if batch.envelope.source == "DSN":
                found.append(email.message_from_bytes(data, policy=email.policy.default))
        return found

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.queue.settle()


def make_queue(
    directory: Path,
    clock: FakeClock,
    modules: dict[str, FakeModule],
    fsync: Callable[[int], None] | None = None,
    **settings: object,
) -> Queue:
    options: dict[str, object] = {"reporting_delay": 0.0, "reporting_mta": "mx.local.example"}
    options.update(settings)
    extra = {"fsync": fsync} if fsync is not None else {}
    return Queue(
        directory,
        router=router,
        modules=modules,
        settings=QueueSettings(**options),  # type: ignore[arg-type]
        clock=clock,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def harness(tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    modules = {"SMTP": FakeModule("SMTP"), "LOCAL": FakeModule("LOCAL")}
    queue = make_queue(tmp_path / "Queue", clock, modules)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        yield Harness(queue, clock, modules)
        await queue.stop()


def envelope(
    *recipients: Recipient | str, sender: str = "alice@local.example", **more: object
) -> Envelope:
    rcpts = tuple(r if isinstance(r, Recipient) else Recipient(r) for r in recipients)
    return Envelope(return_path=sender, recipients=rcpts, **more)  # type: ignore[arg-type]


def spool_files(queue: Queue) -> list[str]:
    return sorted(p.name for p in queue.disk.path.iterdir() if p.suffix in (".msg", ".tmp"))


# -------------------------------------------------------------------- plain delivery


async def test_delivered_message_leaves_the_queue(harness: Harness) -> None:
    queue_id = await harness.queue.submit(
        envelope("bob@there.example", "carol@local.example"), MESSAGE
    )
    await harness.queue.settle()
    assert [b.queue_id for b in harness.smtp.calls] == [queue_id]
    assert harness.smtp.data == [MESSAGE]
    assert harness.local.calls[0].recipients[0].route.address == "carol"  # type: ignore[union-attr]
    assert harness.local.calls[0].queue == "carol"
    assert harness.queue.count == 0
    assert spool_files(harness.queue) == []
    assert harness.reports() == []  # no NOTIFY=SUCCESS, no report


async def test_recipients_of_one_key_share_a_batch(harness: Harness) -> None:
    await harness.queue.submit(
        envelope("a@there.example", "b@there.example", "c@else.example"), MESSAGE
    )
    await harness.queue.settle()
    by_queue = {b.queue: [r.address for r in b.recipients] for b in harness.smtp.calls}
    assert by_queue == {
        "there.example": ["a@there.example", "b@there.example"],
        "else.example": ["c@else.example"],
    }


async def test_null_route_discards_and_unroutable_fails(harness: Harness) -> None:
    await harness.queue.submit(envelope("x@null.example", "y@nowhere.example"), MESSAGE)
    await harness.queue.settle()
    assert harness.smtp.calls == []
    [report] = harness.reports()
    status = report_fields(report)
    assert status[1]["Final-Recipient"] == "rfc822; y@nowhere.example"
    assert status[1]["Action"] == "failed"
    assert len(status) == 2  # the NULL recipient is not reported (no NOTIFY=SUCCESS)


async def test_hop_limit_and_empty_envelope_are_refused(harness: Harness) -> None:
    looped = b"Received: from a\r\n" * 21 + MESSAGE
    with pytest.raises(SubmitRejected) as error:
        await harness.queue.submit(envelope("bob@there.example"), looped)
    assert error.value.status == "5.4.6"
    await harness.queue.submit(
        envelope("bob@there.example"), b"Received: from a\r\n" * 20 + MESSAGE
    )
    with pytest.raises(SubmitRejected):
        await harness.queue.submit(Envelope("alice@local.example", ()), MESSAGE)


# -------------------------------------------------------------------- retries


def report_fields(report: email.message.EmailMessage) -> list[dict[str, str]]:
    """The delivery-status part as a list of field blocks (per-message first)."""
    assert report.get_content_type() == "multipart/report"
    assert report["Content-Type"].params["report-type"] == "delivery-status"
    part = report.get_payload()[1]  # type: ignore[index]
    assert part.get_content_type() == "message/delivery-status"
    blocks = []
    for block in part.get_payload():
        blocks.append({k: str(v) for k, v in block.items()})
    return blocks


async def test_temporary_then_delivered_with_doubling_backoff(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (
        (DeliveryOutcome.TEMPORARY, "4.4.1", "no answer") if n <= 3 else DeliveryOutcome.DELIVERED
    )
    queue_id = await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    assert len(harness.smtp.calls) == 1
    [entry] = await harness.queue.list()
    assert entry.recipients[0].state == "suspended"
    assert entry.recipients[0].retry_at == harness.clock.now() + 1800
    assert entry.recipients[0].last_error == "4.4.1 no answer"
    await harness.advance(1799)
    assert len(harness.smtp.calls) == 1
    await harness.advance(1)
    assert len(harness.smtp.calls) == 2  # after the floor (30 min)
    await harness.advance(3599)
    assert len(harness.smtp.calls) == 2
    await harness.advance(1)
    assert len(harness.smtp.calls) == 3  # after 1 h (doubled)
    await harness.advance(3 * HOUR)
    assert len(harness.smtp.calls) == 4  # after 2 h... capped at the 3 h ceiling next
    assert harness.queue.count == 0
    assert all(b.queue_id == queue_id for b in harness.smtp.calls)


async def test_backoff_is_capped_by_the_ceiling(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: DeliveryOutcome.TEMPORARY
    await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    gaps = []
    for _ in range(5):
        [entry] = await harness.queue.list()
        retry_at = entry.recipients[0].retry_at
        assert retry_at is not None
        gaps.append(retry_at - harness.clock.now())
        await harness.advance(gaps[-1])
    assert gaps == [1800, 3600, 7200, 10800, 10800]


async def test_module_retry_after_overrides_backoff(harness: Harness) -> None:
    async def deliver(batch: DeliveryBatch) -> list[RecipientResult]:
        return [
            RecipientResult(
                batch.indexes[0], DeliveryOutcome.TEMPORARY, "4.2.0", "busy", retry_after=1200
            )
        ]

    harness.smtp.deliver = deliver  # type: ignore[method-assign]
    await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    [entry] = await harness.queue.list()
    assert entry.recipients[0].retry_at == harness.clock.now() + 1200


async def test_defer_queue_suspends_the_whole_key(harness: Harness) -> None:
    calls: list[str] = []

    async def deliver(batch: DeliveryBatch) -> list[RecipientResult]:
        calls.append(batch.queue_id)
        if len(calls) == 1:
            raise DeferQueue("connection refused", retry_after=600)
        return [batch.result(0, DeliveryOutcome.DELIVERED)]

    harness.smtp.deliver = deliver  # type: ignore[method-assign]
    first = await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    second = await harness.queue.submit(envelope("carol@there.example"), MESSAGE)
    await harness.queue.settle()
    assert calls == [first]  # the second waits for the queue, not tried now
    states = {e.id: e.recipients[0].state for e in await harness.queue.list()}
    assert states == {first: "delayed", second: "delayed"}
    await harness.advance(600)
    assert sorted(calls[1:]) == sorted([first, second])


async def test_module_exception_is_a_temporary_failure(harness: Harness) -> None:
    def explode(batch: DeliveryBatch, n: int) -> DeliveryOutcome:
        if n == 1:
            raise RuntimeError("bug")
        return DeliveryOutcome.DELIVERED

    harness.smtp.behaviour = explode
    await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    [entry] = await harness.queue.list()
    assert entry.recipients[0].last_error == "4.3.0 delivery module error: bug"
    await harness.advance(1800)
    assert harness.queue.count == 0


# -------------------------------------------------------------------- reports


async def test_permanent_failure_sends_a_dsn_to_the_sender(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (DeliveryOutcome.PERMANENT, "5.1.1", "no such user")
    rcpt = Recipient("bob@there.example", orcpt="rfc822;Bob@There.example")
    queue_id = await harness.queue.submit(envelope(rcpt, envid="ENV-42"), MESSAGE)
    await harness.queue.settle()
    [report] = harness.reports()
    dsn_batch = [b for b in harness.local.calls if b.envelope.source == "DSN"][0]
    assert dsn_batch.envelope.return_path == ""
    assert dsn_batch.envelope.recipients[0].address == "alice@local.example"
    assert report["Subject"] == "Undeliverable mail"
    assert b"\r\nTo: <alice@local.example>\r\n" in harness.local.data[-1]
    fields = report_fields(report)
    assert fields[0]["Reporting-MTA"] == "dns; mx.local.example"
    assert fields[0]["Original-Envelope-Id"] == "ENV-42"
    assert fields[1] == {
        "Original-Recipient": "rfc822;Bob@There.example",
        "Final-Recipient": "rfc822; bob@there.example",
        "Action": "failed",
        "Status": "5.1.1",
        "Remote-MTA": "dns; mx.there.example",
        "Diagnostic-Code": "smtp; 550 5.1.1 no such user",
        "Last-Attempt-Date": fields[1]["Last-Attempt-Date"],
    }
    human = report.get_payload()[0].get_content()  # type: ignore[index]
    assert queue_id in human and "<bob@there.example>: no such user" in human
    assert "mx.there.example said: 550 5.1.1 no such user" in human
    returned = report.get_payload()[2]  # type: ignore[index]
    assert returned.get_content_type() == "message/rfc822"  # body by default
    assert harness.queue.count == 0
    assert spool_files(harness.queue) == []


@pytest.mark.parametrize(
    ("ret", "policy", "expected"),
    [
        ("HDRS", "body-by-default", "text/rfc822-headers"),
        ("FULL", "body-by-default", "message/rfc822"),
        (None, "headers-by-default", "text/rfc822-headers"),
        ("FULL", "always-headers", "text/rfc822-headers"),
        ("HDRS", "always-body", "message/rfc822"),
    ],
)
async def test_ret_and_on_failure_return(
    tmp_path: Path, ret: str | None, policy: str, expected: str
) -> None:
    clock = FakeClock()
    modules = {
        "SMTP": FakeModule("SMTP", lambda b, n: DeliveryOutcome.PERMANENT),
        "LOCAL": FakeModule("LOCAL"),
    }
    queue = make_queue(tmp_path / "Queue", clock, modules, on_failure_return=policy)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("bob@there.example", ret=ret), MESSAGE)
        await queue.settle()
        await queue.stop()
    report = Harness(queue, clock, modules).reports()[0]
    returned = report.get_payload()[2]  # type: ignore[index]
    assert returned.get_content_type() == expected
    if expected == "text/rfc822-headers":
        assert b"Body line" not in modules["LOCAL"].data[0]
        assert b"Subject: hello" in modules["LOCAL"].data[0]
    else:
        assert b"Body line" in modules["LOCAL"].data[0]


async def test_notify_never_and_empty_return_path_get_no_report(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: DeliveryOutcome.PERMANENT
    await harness.queue.submit(
        envelope(Recipient("bob@there.example", notify=frozenset({"NEVER"}))), MESSAGE
    )
    await harness.queue.submit(envelope("bob@there.example", sender=""), MESSAGE)
    await harness.queue.settle()
    assert len(harness.smtp.calls) == 2
    assert harness.reports() == []
    assert harness.queue.count == 0


async def test_a_failing_report_is_never_reported_about(harness: Harness) -> None:
    # the sender's own domain fails: the report to it fails too, and that is the end
    harness.smtp.behaviour = lambda batch, n: DeliveryOutcome.PERMANENT
    await harness.queue.submit(envelope("bob@there.example", sender="alice@there.example"), MESSAGE)
    await harness.queue.settle()
    sources = [b.envelope.source for b in harness.smtp.calls]
    assert sources == ["SMTP", "DSN"]
    assert harness.queue.count == 0


async def test_success_reports_only_when_asked(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (DeliveryOutcome.RELAYED, "2.0.0", "queued as 123")
    asked = Recipient("bob@there.example", notify=frozenset({"SUCCESS", "FAILURE"}))
    await harness.queue.submit(envelope(asked, "carol@there.example"), MESSAGE)
    await harness.queue.settle()
    [report] = harness.reports()
    fields = report_fields(report)
    assert report["Subject"] == "Delivery report"
    assert [f.get("Action") for f in fields[1:]] == ["relayed"]
    assert fields[1]["Final-Recipient"] == "rfc822; bob@there.example"
    assert report.get_payload()[2].get_content_type() == "text/rfc822-headers"  # type: ignore[index]


async def test_success_report_for_local_delivery(harness: Harness) -> None:
    rcpt = Recipient("carol@local.example", notify=frozenset({"SUCCESS"}))
    await harness.queue.submit(envelope(rcpt, sender="alice@local.example"), MESSAGE)
    await harness.queue.settle()
    [report] = harness.reports()
    assert report_fields(report)[1]["Action"] == "delivered"
    assert report_fields(report)[1]["Status"] == "2.0.0"


async def test_reports_are_batched_per_message(tmp_path: Path) -> None:
    clock = FakeClock()
    outcomes = {
        "a@one.example": DeliveryOutcome.PERMANENT,
        "b@two.example": DeliveryOutcome.TEMPORARY,
    }
    smtp = FakeModule(
        "SMTP", lambda b, n: outcomes.get(b.recipients[0].address, DeliveryOutcome.DELIVERED)
    )
    modules = {"SMTP": smtp, "LOCAL": FakeModule("LOCAL")}
    queue = make_queue(tmp_path / "Queue", clock, modules, reporting_delay=15.0)
    harness = Harness(queue, clock, modules)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("a@one.example", "b@two.example", "c@three.example"), MESSAGE)
        await queue.settle()
        assert harness.reports() == []  # waiting for the reporting delay
        await harness.advance(14)
        assert harness.reports() == []
        outcomes["b@two.example"] = DeliveryOutcome.PERMANENT
        await harness.advance(1)
        [report] = harness.reports()  # a only: b is still temporary
        assert [f["Final-Recipient"] for f in report_fields(report)[1:]] == [
            "rfc822; a@one.example"
        ]
        await harness.advance(1800)  # b fails now; it is the last: reported at once
        assert len(harness.reports()) == 2
        assert queue.count == 0
        await queue.stop()


async def test_all_final_reports_at_once_in_one_dsn(tmp_path: Path) -> None:
    clock = FakeClock()
    modules = {
        "SMTP": FakeModule("SMTP", lambda b, n: DeliveryOutcome.PERMANENT),
        "LOCAL": FakeModule("LOCAL"),
    }
    queue = make_queue(tmp_path / "Queue", clock, modules, reporting_delay=15.0)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("a@one.example", "b@two.example"), MESSAGE)
        await queue.settle()
        [report] = Harness(queue, clock, modules).reports()
        assert len(report_fields(report)) == 3
        await queue.stop()


async def test_expiry_fails_with_host_unavailable(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (
        DeliveryOutcome.TEMPORARY,
        "4.4.1",
        "connection refused",
    )
    rcpt = Recipient("bob@there.example", notify=frozenset({"FAILURE"}))  # no delay warning
    await harness.queue.submit(envelope(rcpt), MESSAGE)
    await harness.queue.settle()
    for _ in range(40):
        if not harness.queue.count:
            break
        [entry] = await harness.queue.list()
        assert entry.recipients[0].retry_at is not None
        await harness.advance(entry.recipients[0].retry_at - harness.clock.now())
    assert harness.queue.count == 0
    assert harness.clock.now() - 1_700_000_000.0 == 3 * 86400  # the last try is at the lifetime
    [report] = harness.reports()
    fields = report_fields(report)[1]
    assert fields["Action"] == "failed"
    assert fields["Status"] == "4.4.1"
    human = report.get_payload()[0].get_content()  # type: ignore[index]
    assert "host is unavailable" in human


async def test_empty_return_path_expires_sooner(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: DeliveryOutcome.TEMPORARY
    await harness.queue.submit(envelope("bob@there.example", sender=""), MESSAGE)
    await harness.queue.settle()
    await harness.advance(1800)
    await harness.advance(3600)
    assert harness.queue.count == 1
    await harness.advance(5400)  # 3 h: the lifetime of a bounce
    assert harness.queue.count == 0
    assert harness.reports() == []


async def test_delay_warning_is_sent_once(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (
        (DeliveryOutcome.TEMPORARY, "4.2.2", "mailbox full")
        if n <= 5
        else DeliveryOutcome.DELIVERED
    )
    await harness.queue.submit(envelope("bob@there.example"), MESSAGE)
    await harness.queue.settle()
    elapsed = 0.0
    for gap in (1800, 3600, 7200, 10800, 10800):  # tries at 0.5, 1.5, 3.5, 6.5, 9.5 h
        await harness.advance(gap)
        elapsed += gap
        if elapsed < 4 * HOUR:
            assert harness.reports() == []
    reports = harness.reports()
    assert len(reports) == 1
    assert reports[0]["Subject"] == "Delivery delayed"
    fields = report_fields(reports[0])[1]
    assert fields["Action"] == "delayed"
    assert fields["Status"] == "4.2.2"
    assert "Will-Retry-Until" in fields
    assert harness.queue.count == 0  # delivered at the sixth try


async def test_notify_without_delay_gets_no_warning(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: DeliveryOutcome.TEMPORARY
    await harness.queue.submit(
        envelope(Recipient("bob@there.example", notify=frozenset({"FAILURE"}))), MESSAGE
    )
    await harness.queue.settle()
    for gap in (1800, 3600, 7200, 10800):
        await harness.advance(gap)
    assert harness.reports() == []


async def test_copy_failure_reports(tmp_path: Path) -> None:
    clock = FakeClock()
    modules = {
        "SMTP": FakeModule("SMTP", lambda b, n: DeliveryOutcome.PERMANENT),
        "LOCAL": FakeModule("LOCAL"),
    }
    queue = make_queue(
        tmp_path / "Queue", clock, modules, copy_failure_reports_to="pm@local.example"
    )
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("bob@there.example"), MESSAGE)
        await queue.settle()
        await queue.stop()
    addresses = sorted(r.address for b in modules["LOCAL"].calls for r in b.recipients)
    assert addresses == ["alice@local.example", "pm@local.example"]


# -------------------------------------------------------------------- concurrency


async def test_concurrency_per_queue_key(tmp_path: Path) -> None:
    clock = FakeClock()
    smtp = FakeModule("SMTP", concurrency=2)
    smtp.gate = anyio.Event()
    modules = {"SMTP": smtp, "LOCAL": FakeModule("LOCAL")}
    queue = make_queue(tmp_path / "Queue", clock, modules)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        for n in range(5):
            await queue.submit(envelope(f"u{n}@there.example"), MESSAGE)
        for n in range(3):
            await queue.submit(envelope(f"u{n}@else.example"), MESSAGE)
        await anyio.sleep(0.05)
        assert smtp.running == 4  # 2 per key, two keys
        states = sorted(r.state for e in await queue.list() for r in e.recipients)
        assert states.count("processing") == 4 and states.count("ready") == 4
        smtp.gate.set()
        await queue.settle()
        assert len(smtp.calls) == 8 and smtp.max_running == 4
        assert queue.count == 0
        await queue.stop()


async def test_max_active_bounds_all_deliveries(tmp_path: Path) -> None:
    clock = FakeClock()
    smtp = FakeModule("SMTP", concurrency=10)
    smtp.gate = anyio.Event()
    modules = {"SMTP": smtp, "LOCAL": FakeModule("LOCAL")}
    queue = make_queue(tmp_path / "Queue", clock, modules, max_active=3)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        for n in range(6):
            await queue.submit(envelope(f"u@d{n}.example"), MESSAGE)
        await anyio.sleep(0.05)
        assert smtp.running == 3
        smtp.gate.set()
        await queue.settle()
        assert len(smtp.calls) == 6
        await queue.stop()


# -------------------------------------------------------------------- restart


async def test_restart_resumes_and_keeps_recorded_results(tmp_path: Path) -> None:
    clock = FakeClock()
    smtp = FakeModule("SMTP", lambda b, n: (DeliveryOutcome.TEMPORARY, "4.4.1", "later"))
    local = FakeModule("LOCAL")
    queue = make_queue(tmp_path / "Queue", clock, {"SMTP": smtp, "LOCAL": local})
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        queue_id = await queue.submit(envelope("bob@there.example", "carol@local.example"), MESSAGE)
        await queue.settle()
        await queue.stop()
    assert len(local.calls) == 1 and len(smtp.calls) == 1

    # a new process: carol's delivery was recorded, bob's retry time too
    smtp2 = FakeModule("SMTP")
    local2 = FakeModule("LOCAL")
    queue2 = make_queue(tmp_path / "Queue", clock, {"SMTP": smtp2, "LOCAL": local2})
    async with anyio.create_task_group() as tg:
        await queue2.start(tg)
        await queue2.settle()
        [entry] = await queue2.list()
        assert entry.id == queue_id
        assert [r.state for r in entry.recipients] == ["suspended", "delivered"]
        assert entry.recipients[0].attempts == 1
        clock.advance(1800)
        await queue2.settle()
        assert [b.queue_id for b in smtp2.calls] == [queue_id]
        assert local2.calls == []  # never delivered twice once recorded
        assert queue2.count == 0
        await queue2.stop()
    assert spool_files(queue2) == []


async def test_restart_sends_a_report_that_was_not_recorded(tmp_path: Path) -> None:
    clock = FakeClock()
    outcomes = {
        "bob@there.example": DeliveryOutcome.PERMANENT,
        "dan@else.example": DeliveryOutcome.TEMPORARY,
    }
    smtp = FakeModule("SMTP", lambda b, n: outcomes[b.recipients[0].address])
    local = FakeModule("LOCAL")
    queue = make_queue(
        tmp_path / "Queue", clock, {"SMTP": smtp, "LOCAL": local}, reporting_delay=1000.0
    )
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("bob@there.example", "dan@else.example"), MESSAGE)
        await queue.settle()
        await queue.stop()  # bob's report is not due yet: only his result is on disk
    assert local.calls == []
    smtp2 = FakeModule("SMTP")
    local2 = FakeModule("LOCAL")
    queue2 = make_queue(
        tmp_path / "Queue", clock, {"SMTP": smtp2, "LOCAL": local2}, reporting_delay=1000.0
    )
    async with anyio.create_task_group() as tg:
        await queue2.start(tg)
        await queue2.settle()
        assert smtp2.calls == []  # dan waits for his retry time; bob is final
        [report] = Harness(queue2, clock, {"SMTP": smtp2, "LOCAL": local2}).reports()
        assert [f["Final-Recipient"] for f in report_fields(report)[1:]] == [
            "rfc822; bob@there.example"
        ]
        clock.advance(1800)
        await queue2.settle()
        assert [r.address for b in smtp2.calls for r in b.recipients] == ["dan@else.example"]
        assert queue2.count == 0
        await queue2.stop()


async def test_stop_deadline_cancels_and_the_restart_delivers_again(tmp_path: Path) -> None:
    clock = FakeClock()
    stuck = FakeModule("SMTP")
    stuck.gate = anyio.Event()  # never set: the delivery hangs
    queue = make_queue(tmp_path / "Queue", clock, {"SMTP": stuck, "LOCAL": FakeModule("LOCAL")})
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        queue_id = await queue.submit(envelope("bob@there.example"), MESSAGE)
        await anyio.sleep(0.02)
        assert stuck.running == 1
        with anyio.fail_after(2):
            await queue.stop(deadline=0.05)
    smtp = FakeModule("SMTP")
    queue = make_queue(tmp_path / "Queue", clock, {"SMTP": smtp, "LOCAL": FakeModule("LOCAL")})
    async with queue:
        await queue.settle()
        assert [b.queue_id for b in smtp.calls] == [queue_id]  # deliver twice rather than lose
        assert queue.count == 0


async def test_missing_module_is_temporary(harness: Harness) -> None:
    def route_to_pipe(address: str) -> Route:
        return Route("PIPE", address, queue="proc")

    harness.queue.router = route_to_pipe
    await harness.queue.submit(envelope("prog@pipe.example"), MESSAGE)
    await harness.queue.settle()
    [entry] = await harness.queue.list()
    assert entry.recipients[0].module == "PIPE" and entry.recipients[0].queue == "proc"
    assert entry.recipients[0].last_error == "4.3.5 delivery module PIPE is not available"


async def test_router_failure_fails_only_that_recipient(harness: Harness) -> None:
    def flaky(address: str) -> Route | None:
        if address.startswith("boom"):
            raise RuntimeError("table broken")
        return router(address)

    async def async_router(address: str) -> Route | None:
        return flaky(address)

    harness.queue.router = async_router
    await harness.queue.submit(envelope("boom@there.example", "bob@there.example"), MESSAGE)
    await harness.queue.settle()
    assert [r.address for b in harness.smtp.calls for r in b.recipients] == ["bob@there.example"]
    [report] = harness.reports()
    assert "routing failed: table broken" in report.get_payload()[0].get_content()  # type: ignore[index]


@pytest.mark.parametrize(("auth", "expected"), [(None, 0), ("alice", 1)])
async def test_return_receipts_for_authenticated_only(
    tmp_path: Path, auth: str | None, expected: int
) -> None:
    clock = FakeClock()
    modules = {"SMTP": FakeModule("SMTP"), "LOCAL": FakeModule("LOCAL")}
    queue = make_queue(tmp_path / "Queue", clock, modules, return_receipts="authenticated")
    rcpt = Recipient("bob@there.example", notify=frozenset({"SUCCESS"}))
    async with queue:
        await queue.submit(envelope(rcpt, auth_account=auth), MESSAGE)
        await queue.settle()
    assert len(Harness(queue, clock, modules).reports()) == expected


def test_delivery_modules_hook_collects_from_every_plugin() -> None:
    import pluggy

    from unigate_hookspecs import delivery
    from unigate_hookspecs.markers import hookimpl

    class One:
        @hookimpl
        def unigate_delivery_modules(self, server: object) -> list[DeliveryModule]:
            return [FakeModule("LOCAL")]

    class Two:
        @hookimpl
        def unigate_delivery_modules(self) -> list[DeliveryModule]:
            return [FakeModule("SMTP"), FakeModule("PIPE")]

    manager = pluggy.PluginManager("unigate")
    manager.add_hookspecs(delivery)
    manager.register(One())
    manager.register(Two())
    manager.check_pending()
    found = manager.hook.unigate_delivery_modules(server=None)
    assert sorted(m.name for modules in found for m in modules) == ["LOCAL", "PIPE", "SMTP"]


async def test_the_routers_own_values_are_understood(harness: Harness) -> None:
    from unigate_hookspecs.routing import FailureKind, RouteFailure
    from unigate_hookspecs.routing import Route as RouterRoute

    answers = {
        "junk@x.example": RouterRoute("SYSTEM", "NULL", "junk"),
        "nobody@local.example": RouteFailure(
            FailureKind.UNKNOWN, "unknown account", "nobody@local.example"
        ),
        "bob@there.example": RouterRoute("SMTP", "mx.there.example", "bob@there.example"),
    }
    harness.queue.router = lambda address: answers.get(address) or router(address)
    await harness.queue.submit(envelope(*answers), MESSAGE)
    await harness.queue.settle()
    assert [(b.queue, [r.address for r in b.recipients]) for b in harness.smtp.calls] == [
        ("mx.there.example", ["bob@there.example"])
    ]
    [report] = harness.reports()
    fields = report_fields(report)
    assert [f["Final-Recipient"] for f in fields[1:]] == ["rfc822; nobody@local.example"]
    assert "unknown account" in report.get_payload()[0].get_content()  # type: ignore[index]


async def test_smtputf8_message_gets_a_global_report(harness: Harness) -> None:
    harness.smtp.behaviour = lambda batch, n: (DeliveryOutcome.PERMANENT, "5.1.1", "no such user")
    await harness.queue.submit(
        envelope("дима@there.example", smtputf8=True, body="8BITMIME"), MESSAGE
    )
    await harness.queue.settle()
    dsn = [b for b in harness.local.calls if b.envelope.source == "DSN"][0]
    assert dsn.envelope.smtputf8
    data = harness.local.data[-1]
    assert b"Content-Type: message/global-delivery-status\r\n" in data
    assert "Final-Recipient: utf-8; дима@there.example\r\n".encode() in data
    assert b"Content-Type: message/global\r\n" in data


# -------------------------------------------------------------- delivery at submission


async def immediate_harness(tmp_path: Path, behaviour: Behaviour | None = None, **settings: object):
    clock = FakeClock()
    local = FakeModule("LOCAL", behaviour)
    local.immediate = True
    modules = {"SMTP": FakeModule("SMTP"), "LOCAL": local}
    return make_queue(tmp_path / "Queue", clock, modules, **settings), clock, modules


async def test_an_immediate_module_delivers_before_submit_returns(tmp_path: Path) -> None:
    fsyncs: list[int] = []
    queue, clock, modules = await immediate_harness(tmp_path)
    queue.disk.fsync = fsyncs.append
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        fsyncs.clear()
        queue_id = await queue.submit(envelope("carol@local.example"), MESSAGE)
        # answered only after the module stored it; nothing was spooled for it
        assert [b.queue_id for b in modules["LOCAL"].calls] == [queue_id]
        assert modules["LOCAL"].calls[0].path == ""
        assert modules["LOCAL"].data == [MESSAGE]
        assert spool_files(queue) == [] and fsyncs == []
        await queue.settle()
        assert len(modules["LOCAL"].calls) == 1  # never delivered twice
        await queue.stop()


async def test_what_an_immediate_module_did_not_deliver_is_spooled(tmp_path: Path) -> None:
    def behaviour(batch: DeliveryBatch, n: int) -> DeliveryOutcome:
        return DeliveryOutcome.TEMPORARY if n == 1 else DeliveryOutcome.DELIVERED

    queue, clock, modules = await immediate_harness(tmp_path, behaviour)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.submit(envelope("carol@local.example"), MESSAGE)
        assert len(spool_files(queue)) == 1 and queue.count == 1
        await queue.settle()  # the spooled copy is tried again later
        clock.advance(2 * HOUR)
        await queue.settle()
        assert len(modules["LOCAL"].calls) == 2
        assert queue.count == 0 and spool_files(queue) == []
        await queue.stop()


async def test_mixed_and_success_notify_messages_are_spooled_first(tmp_path: Path) -> None:
    queue, clock, modules = await immediate_harness(tmp_path)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        for env in (
            envelope("carol@local.example", "bob@there.example"),  # SMTP is not immediate
            envelope(Recipient("carol@local.example", notify=frozenset({"SUCCESS"}))),
        ):
            modules["LOCAL"].gate = anyio.Event()
            await queue.submit(env, MESSAGE)
            assert modules["LOCAL"].calls == [] or modules["LOCAL"].running
            assert queue.count == 1
            modules["LOCAL"].gate.set()
            await queue.settle()
            modules["LOCAL"].calls.clear()
            modules["LOCAL"].data.clear()
        await queue.stop()


async def test_deliver_at_submit_can_be_turned_off(tmp_path: Path) -> None:
    queue, clock, modules = await immediate_harness(tmp_path, deliver_at_submit=False)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        modules["LOCAL"].gate = anyio.Event()
        await queue.submit(envelope("carol@local.example"), MESSAGE)
        assert queue.count == 1 and len(spool_files(queue)) == 1
        modules["LOCAL"].gate.set()
        await queue.settle()
        assert queue.count == 0
        await queue.stop()
