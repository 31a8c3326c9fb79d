"""End to end: AUTH on submission, relaying to a second Unigate on 127.0.0.2, reports.

Server B (``remote.test``) listens on 127.0.0.2; server A (``example.test``) finds it
through the static host table ``[smtp] hosts``, so no DNS is involved. Retry times are
shortened through a ``[queue]`` section (registered by a test plugin: the kernel does
not declare that section yet).
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.lowlevel
import pytest

from unigate.testing.server import serve_in_thread
from unigate_hookspecs import hookimpl

PLUGINS = ["smtp", "local", "storage_sliced"]
FAST_QUEUE = """
[queue]
retry_floor = 0.3
retry_ceiling = 0.6
delay_warning = 0.5
reporting_delay = 0.0
"""


class Kit:
    """Keeps the event-loop token and the server, to read mailboxes from the test thread."""

    def __init__(self) -> None:
        self.token: Any = None
        self.server: Any = None

    @hookimpl
    async def unigate_startup(self, server: Any) -> None:
        self.token = anyio.lowlevel.current_token()
        self.server = server

    def messages(self, account: str) -> list[bytes]:
        async def read() -> list[bytes]:
            manager = self.server.service("mailboxes")
            session = await manager.open(account, "INBOX", user=account)
            try:
                return [await session.read(rec.uid) for rec in session.messages()]
            finally:
                await session.close()

        return anyio.from_thread.run(read, token=self.token)

    def wait(self, account: str, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        queue = self.server.service("queue")
        while True:
            if not queue.count or time.monotonic() > deadline:
                found = self.messages(account)
                if len(found) >= count or time.monotonic() > deadline:
                    return found
            time.sleep(0.05)


@contextmanager
def server(directory: Path, domain: str, extra: str = "") -> Iterator[Kit]:
    directory.mkdir()
    kit = Kit()
    with serve_in_thread(
        directory,
        plugins=PLUGINS,
        domain=domain,
        extra=FAST_QUEUE + extra,
        extra_plugins=[("kit", kit)],
    ) as running:
        kit.port = running.port  # type: ignore[attr-defined]
        yield kit


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Kit, Kit]]:
    with server(tmp_path / "b", "remote.test", '[listeners.smtp]\nbind = ["127.0.0.2:0"]\n') as b:
        b.server.objects.add_account("carol@remote.test", password="pw")
        port = b.port("smtp")
        hosts = (
            f'[smtp]\nhosts = {{"remote.test" = "127.0.0.2:{port}", '
            '"down.test" = "127.0.0.2:1"}\nconnect_timeout = 2\n'
        )
        with server(tmp_path / "a", "example.test", hosts) as a:
            a.server.objects.add_account("alice@example.test", password="pw")
            yield a, b


def submit(a: Kit, sender: str, recipients: list[str], body: bytes) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", a.port("submission")) as client:  # type: ignore[attr-defined]
        client.login("alice@example.test", "pw")
        return client.sendmail(sender, recipients, body)


def test_relay_refused_without_auth_then_delivered_after_auth(pair: tuple[Kit, Kit]) -> None:
    a, b = pair
    body = b"Subject: over there\r\nMessage-ID: <r1@example.test>\r\n\r\nHello Carol.\r\n"
    with smtplib.SMTP("127.0.0.1", a.port("smtp")) as client:  # type: ignore[attr-defined]
        client.ehlo()
        client.mail("alice@example.test")
        code, text = client.rcpt("carol@remote.test")
        assert (code, text[:4]) == (550, b"5.7.")
    assert submit(a, "alice@example.test", ["carol@remote.test"], body) == {}
    (stored,) = b.wait("carol@remote.test", 1)
    assert stored.count(b"Received: ") == 2
    assert b" with ESMTPS " in stored  # A used opportunistic STARTTLS towards B
    assert b"Return-Path: <alice@example.test>" in stored
    assert stored.endswith(b"Hello Carol.\r\n")


def test_remote_5xx_gives_the_sender_a_dsn(pair: tuple[Kit, Kit]) -> None:
    a, _ = pair
    body = b"Subject: lost\r\nMessage-ID: <r2@example.test>\r\n\r\nto nobody\r\n"
    assert submit(a, "alice@example.test", ["nobody@remote.test"], body) == {}
    (report,) = a.wait("alice@example.test", 1)
    assert b"Return-Path: <>" in report
    assert b"multipart/report" in report
    assert b"Action: failed" in report
    assert b"Diagnostic-Code: smtp; 550 5.1.1" in report


def test_remote_down_retries_and_warns(pair: tuple[Kit, Kit]) -> None:
    a, _ = pair
    body = b"Subject: slow\r\nMessage-ID: <r3@example.test>\r\n\r\nlater\r\n"
    assert submit(a, "alice@example.test", ["dave@down.test"], body) == {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not a.messages("alice@example.test"):
        time.sleep(0.1)
    (warning,) = a.messages("alice@example.test")
    assert b"Action: delayed" in warning
    queue = a.server.service("queue")
    entries = anyio.from_thread.run(queue.list, token=a.token)
    assert len(entries) == 1 and entries[0].recipients[0].attempts >= 2


def test_no_report_about_a_report(pair: tuple[Kit, Kit]) -> None:
    a, _ = pair
    body = b"Subject: bounce\r\nMessage-ID: <r4@example.test>\r\n\r\nnull sender\r\n"
    assert submit(a, "", ["nobody@remote.test"], body) == {}
    queue = a.server.service("queue")
    deadline = time.monotonic() + 10
    while queue.count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue.count == 0
    assert a.messages("alice@example.test") == []


def test_connection_reuse(pair: tuple[Kit, Kit]) -> None:
    a, b = pair
    a_queue = a.server.service("queue")
    for n in range(3):
        body = f"Subject: reuse {n}\r\nMessage-ID: <reuse{n}@example.test>\r\n\r\nagain\r\n"
        assert submit(a, "alice@example.test", ["carol@remote.test"], body.encode()) == {}
        b.wait("carol@remote.test", n + 1)
        # b has the message before a has read its 250 and parked the connection: the
        # next message goes out once a is done with this one, or it needs a second one
        deadline = time.monotonic() + 5
        while a_queue.count and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(b.messages("carol@remote.test")) == 3
    logs = "".join(p.read_text() for p in (b.server.data_dir / "SystemLogs").iterdir())
    assert (
        logs.count("SMTP-")
        and sum(1 for line in logs.splitlines() if "got connection" in line and "SMTP-" in line)
        == 1
    )
