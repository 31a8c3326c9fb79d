"""Queue administration (``unigate queue list|show|retry|delete``), running and stopped;
the delivery contract's values; the DSN writer byte for byte."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from unigate.queue import (
    FakeClock,
    Queue,
    QueueLocked,
    QueueSettings,
    ReportItem,
    UnknownMessage,
    compose_dsn,
)
from unigate_hookspecs.delivery import (
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    Destination,
    Envelope,
    Recipient,
    RecipientResult,
)

pytestmark = pytest.mark.anyio

MESSAGE = b"From: a@here.example\r\nSubject: admin\r\n\r\nbody\r\n"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Module(DeliveryModule):
    def __init__(self, name: str, outcome: DeliveryOutcome = DeliveryOutcome.TEMPORARY):
        self.name = name
        self.outcome = outcome
        self.calls: list[DeliveryBatch] = []
        self.data: list[bytes] = []

    async def deliver(self, batch: DeliveryBatch) -> list[RecipientResult]:
        self.calls.append(batch)
        self.data.append(await batch.read())
        return [
            batch.result(i, self.outcome, "4.4.1", "no answer") for i in range(len(batch.indexes))
        ]


def router(address: str) -> Destination:
    local, _, domain = address.partition("@")
    if domain == "local.example":
        return Destination("LOCAL", local, local)
    return Destination("SMTP", domain, address)


def envelope(*addresses: str, sender: str = "alice@local.example") -> Envelope:
    return Envelope(sender, tuple(Recipient(a) for a in addresses))


def make(directory: Path, clock: FakeClock, smtp: Module, local: Module) -> Queue:
    return Queue(
        directory,
        router=router,
        modules={"SMTP": smtp, "LOCAL": local},
        settings=QueueSettings(reporting_delay=0),
        clock=clock,
    )


async def test_admin_while_running(tmp_path: Path) -> None:
    clock = FakeClock()
    smtp, local = Module("SMTP"), Module("LOCAL", DeliveryOutcome.DELIVERED)
    queue = make(tmp_path / "Queue", clock, smtp, local)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        first = await queue.submit(envelope("bob@there.example", "eve@else.example"), MESSAGE)
        second = await queue.submit(envelope("carol@there.example"), MESSAGE)
        await queue.settle()
        entries = await queue.list()
        assert [e.id for e in entries] == [first, second]
        assert entries[0].return_path == "alice@local.example" and entries[0].size == len(MESSAGE)
        assert [
            (r.address, r.module, r.queue, r.state, r.attempts) for r in entries[0].recipients
        ] == [
            ("bob@there.example", "SMTP", "there.example", "suspended", 1),
            ("eve@else.example", "SMTP", "else.example", "suspended", 1),
        ]
        shown = await queue.show(first)
        assert shown.headers == "From: a@here.example\r\nSubject: admin\r\n"
        assert await queue.read(first) == MESSAGE
        with pytest.raises(UnknownMessage):
            await queue.show("nope")

        assert await queue.retry(first) == 2
        await queue.settle()
        assert len(smtp.calls) == 5  # first's two keys again, second untouched
        assert await queue.retry() == 3
        await queue.settle()
        assert len(smtp.calls) == 8

        assert await queue.delete(first) == 2
        await queue.settle()
        assert [e.id for e in await queue.list()] == [second]
        assert local.calls == []  # no report unless asked
        assert await queue.delete(second, report=True) == 1
        await queue.settle()
        assert await queue.list() == []
        [report] = local.calls
        assert report.envelope.source == "DSN"
        assert b"deleted by the administrator" in local.data[0]
        await queue.stop()
    assert sorted(p.name for p in (tmp_path / "Queue").iterdir()) == [".lock"]


async def test_admin_on_a_stopped_queue(tmp_path: Path) -> None:
    clock = FakeClock()
    smtp, local = Module("SMTP"), Module("LOCAL", DeliveryOutcome.DELIVERED)
    queue = make(tmp_path / "Queue", clock, smtp, local)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        first = await queue.submit(envelope("bob@there.example"), MESSAGE)
        second = await queue.submit(envelope("carol@there.example"), MESSAGE)
        third = await queue.submit(envelope("dan@there.example"), MESSAGE)
        await queue.settle()
        # while it runs, another process is refused
        with pytest.raises(QueueLocked):
            await Queue(tmp_path / "Queue").list()
        await queue.stop()

    offline = Queue(tmp_path / "Queue", clock=clock)
    entries = await offline.list()
    assert [e.id for e in entries] == [first, second, third]
    assert entries[0].recipients[0].state == "suspended"
    assert entries[0].recipients[0].last_error == "4.4.1 no answer"
    assert (await offline.show(second)).headers.startswith("From: a@here.example")
    assert await offline.delete(first) == 1
    assert await offline.delete(third, report=True) == 1
    assert await offline.retry(second) == 1
    assert [e.id for e in await offline.list()] == [second, third]  # third waits for its report

    smtp2, local2 = (
        Module("SMTP", DeliveryOutcome.DELIVERED),
        Module("LOCAL", DeliveryOutcome.DELIVERED),
    )
    queue = make(tmp_path / "Queue", clock, smtp2, local2)
    async with anyio.create_task_group() as tg:
        await queue.start(tg)
        await queue.settle()
        assert [b.queue_id for b in smtp2.calls] == [second]  # released at once, first gone
        assert [b.envelope.source for b in local2.calls] == ["DSN"]  # third's report
        assert await queue.list() == []
        await queue.stop()


def test_recipient_notify_rules() -> None:
    assert Recipient("a@b").wants("FAILURE") and Recipient("a@b").wants("DELAY")
    assert not Recipient("a@b").wants("SUCCESS")
    never = Recipient("a@b", notify=frozenset({"NEVER"}))
    assert not any(never.wants(k) for k in ("SUCCESS", "FAILURE", "DELAY"))
    with pytest.raises(ValueError):
        Recipient("a@b", notify=frozenset({"NEVER", "SUCCESS"}))
    with pytest.raises(ValueError):
        Recipient("a@b", notify=frozenset({"SOMETIMES"}))
    assert DeliveryOutcome.RELAYED.final and not DeliveryOutcome.TEMPORARY.final


def test_default_queue_key() -> None:
    class Plain(DeliveryModule):
        name = "X"

        async def deliver(self, batch: DeliveryBatch) -> list[RecipientResult]:
            return []

    class WithHost:
        module = "SMTP"
        address = "u@Example.COM"
        host = "mx.example.com"

    class Bare:
        module = "SMTP"
        address = "u@Example.COM"

    assert Plain().queue_key(WithHost()) == "mx.example.com"
    assert Plain().queue_key(Bare()) == "example.com"


def test_dsn_bytes() -> None:
    env = Envelope(
        "alice@here.example",
        (Recipient("bob@there.example", orcpt="rfc822;Bob@there.example"),),
        envid="QQ314159",
        received_at=1_700_000_000.0,
    )
    item = ReportItem(
        index=0,
        recipient=env.recipients[0],
        action="failed",
        status="5.1.1",
        text="no such user",
        remote_mta="mx.there.example",
        diagnostic="550 5.1.1 <bob@there.example>:\r\n  no such user",
        last_attempt=1_700_000_060.0,
    )
    original = b"From: alice@here.example\r\nSubject: hi\r\n\r\nsecret body\r\n"
    data = compose_dsn(
        envelope=env,
        queue_id="17-0",
        items=[item],
        original=original,
        return_full=False,
        reporting_mta="mail.here.example",
        now=1_700_000_075.0,
        message_id="dsn-1@mail.here.example",
        boundary="B1",
        to="alice@here.example",
    )
    expected = (
        b"From: Mail Delivery System <MAILER-DAEMON@mail.here.example>\r\n"
        b"To: <alice@here.example>\r\n"
        b"Subject: Undeliverable mail\r\n"
        b"Date: Tue, 14 Nov 2023 22:14:35 +0000\r\n"
        b"Message-ID: <dsn-1@mail.here.example>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status;\r\n"
        b'\tboundary="B1"\r\n'
        b"\r\n"
        b"This is a MIME-encapsulated delivery status notification.\r\n"
        b"\r\n"
        b"--B1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"This is the mail system at mail.here.example.\r\n"
        b"\r\n"
        b"Your message (queue id 17-0, received Tue, 14 Nov 2023 22:13:20 +0000) has the following status:\r\n"
        b"\r\n"
        b"It could not be delivered to these recipients (no further attempts):\r\n"
        b"  <bob@there.example>: no such user\r\n"
        b"    mx.there.example said: 550 5.1.1 <bob@there.example>: no such user\r\n"
        b"\r\n"
        b"--B1\r\n"
        b"Content-Type: message/delivery-status\r\n"
        b"\r\n"
        b"Reporting-MTA: dns; mail.here.example\r\n"
        b"Original-Envelope-Id: QQ314159\r\n"
        b"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        b"\r\n"
        b"Original-Recipient: rfc822;Bob@there.example\r\n"
        b"Final-Recipient: rfc822; bob@there.example\r\n"
        b"Action: failed\r\n"
        b"Status: 5.1.1\r\n"
        b"Remote-MTA: dns; mx.there.example\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <bob@there.example>: no such user\r\n"
        b"Last-Attempt-Date: Tue, 14 Nov 2023 22:14:20 +0000\r\n"
        b"\r\n"
        b"--B1\r\n"
        b"Content-Type: text/rfc822-headers\r\n"
        b"Content-Description: Undelivered message\r\n"
        b"\r\n"
        b"From: alice@here.example\r\n"
        b"Subject: hi\r\n"
        b"--B1--\r\n"
    )
    assert data == expected
