"""Crash test: kill -9 a server while senders are sending; every 250 is delivered once.

Several smtplib senders send numbered messages to local accounts; the server process is
killed with SIGKILL midway and started again on the same data directory. When its
queue is empty the mailboxes are read back (through a server in this process) and the
Message-IDs counted: every message that got 250 is there exactly once, and none that
got a refusal is. (``bench/crashloop/run.py`` is the long version.)
"""

from __future__ import annotations

import re
import smtplib
import threading
import time
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.lowlevel

from unigate.objects import ObjectStore
from unigate.testing.server import serve_in_process, serve_in_thread
from unigate_hookspecs import hookimpl

PLUGINS = ["smtp", "local", "storage_sliced"]
ACCOUNTS = [f"user{i}@example.test" for i in range(4)]
SENDERS = 4
PER_SENDER = 60


class Outcome:
    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.refused: set[str] = set()
        self.lock = threading.Lock()


def sender(port_of: Any, number: int, outcome: Outcome, stop: threading.Event) -> None:
    index = 0
    while index < PER_SENDER and not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port_of(), timeout=10) as client:
                while index < PER_SENDER:
                    mid = f"{number}.{index}@crash.test"
                    rcpt = ACCOUNTS[(number + index) % len(ACCOUNTS)]
                    body = f"Message-ID: <{mid}>\r\nSubject: {mid}\r\n\r\n{'x' * 500}\r\n"
                    try:
                        client.sendmail(f"s{number}@remote.test", [rcpt], body)
                    except smtplib.SMTPResponseException:
                        with outcome.lock:
                            outcome.refused.add(mid)
                    else:
                        with outcome.lock:
                            outcome.accepted.add(mid)
                    index += 1
        except (OSError, smtplib.SMTPException):
            index += 1  # the fate of the message in flight is unknown: skip it
            time.sleep(0.05)


def read_message_ids(directory: Path) -> list[str]:
    token: list[Any] = []

    class Kit:
        @hookimpl
        async def unigate_startup(self, server: Any) -> None:
            token.append(anyio.lowlevel.current_token())

    ids: list[str] = []
    with serve_in_thread(directory, plugins=PLUGINS, extra_plugins=[("kit", Kit())]) as running:
        manager = running.server.service("mailboxes")

        async def read(account: str) -> list[bytes]:
            session = await manager.open(account, "INBOX", user=account)
            try:
                return [await session.read(rec.uid) for rec in session.messages()]
            finally:
                await session.close()

        for account in ACCOUNTS:
            for data in anyio.from_thread.run(read, account, token=token[0]):
                match = re.search(rb"Message-ID: <([^>]+)>", data)
                assert match is not None
                ids.append(match.group(1).decode())
    return ids


def wait_queue_empty(data: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while any((data / "Queue").glob("*.msg")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any((data / "Queue").glob("*.msg")), "the queue did not drain"


def test_kill_9_midway_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    objects = ObjectStore(tmp_path / "data", main_domain="example.test")
    for account in ACCOUNTS:
        objects.add_account(account, password="pw")
    outcome = Outcome()
    stop = threading.Event()
    current: dict[str, Any] = {}

    def port_of() -> int:
        return current["running"].port("smtp")

    with serve_in_process(tmp_path, plugins=PLUGINS) as running:
        current["running"] = running
        threads = [
            threading.Thread(target=sender, args=(port_of, n, outcome, stop))
            for n in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(outcome.accepted) < SENDERS * PER_SENDER // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        running.process.kill()  # kill -9
        running.process.wait()
        with serve_in_process(tmp_path, plugins=PLUGINS) as again:
            current["running"] = again
            for thread in threads:
                thread.join(60)
            wait_queue_empty(again.data_dir)
    ids = read_message_ids(tmp_path)
    assert len(outcome.accepted) > SENDERS * PER_SENDER // 3
    counts: dict[str, int] = {}
    for mid in ids:
        counts[mid] = counts.get(mid, 0) + 1
    duplicates = {mid: n for mid, n in counts.items() if n > 1}
    assert duplicates == {}
    missing = outcome.accepted - counts.keys()
    assert missing == set()
    assert outcome.refused & counts.keys() == set()
