"""Issue 4's crash check: concurrent IMAP APPENDs, kill -9 of the server, nothing acknowledged lost.

Ten writers append over IMAP to one INBOX of a server running as a child process; the
server is killed with SIGKILL while they write. After a restart every message whose
APPEND got its tagged OK is in the mailbox exactly once (counted by Message-ID), and
the mailbox holds no message twice.
"""

from __future__ import annotations

import imaplib
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from unigate.objects import ObjectStore
from unigate.testing.server import serve_in_process

WRITERS = 10
PER_WRITER = 100


def _message(writer: int, number: int) -> bytes:
    return (
        f"From: w{writer}@example.test\r\nTo: a@example.test\r\n"
        f"Message-ID: <w{writer}-{number}@crash.test>\r\nSubject: crash {writer}/{number}\r\n\r\n"
        + "body line\r\n"
        * 40
    ).encode()


def _writer(port: int, writer: int, acked: list[str], stop: threading.Event) -> None:
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        client.login("a@example.test", "pw")
        for number in range(PER_WRITER):
            if stop.is_set():
                return
            status, _ = client.append("INBOX", None, None, _message(writer, number))
            if status == "OK":
                acked.append(f"<w{writer}-{number}@crash.test>")
    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error, EOFError):
        return


def _message_ids(port: int) -> list[str]:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    client.login("a@example.test", "pw")
    client.select("INBOX", readonly=True)
    status, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    client.logout()
    if status != "OK" or data == [None]:
        return []
    text = b"".join(part[1] for part in data if isinstance(part, tuple)).decode()
    return re.findall(r"<w\d+-\d+@crash\.test>", text)


@pytest.mark.slow
def test_acknowledged_appends_survive_kill_9(tmp_path: Path) -> None:
    plugins = ["imap", "storage_sliced"]
    acked: list[str] = []
    with serve_in_process(tmp_path, plugins=plugins) as running:
        ObjectStore(running.data_dir, main_domain="example.test").add_account(
            "a@example.test", password="pw"
        )
        port = running.port("imap")
        stop = threading.Event()
        threads = [
            threading.Thread(target=_writer, args=(port, w, acked, stop)) for w in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while (
            len(acked) < 300 and time.monotonic() < deadline and any(t.is_alive() for t in threads)
        ):
            time.sleep(0.01)
        assert running.process is not None
        os.kill(running.process.pid, signal.SIGKILL)
        running.process.wait()
        stop.set()
        for thread in threads:
            thread.join(30)
    assert len(acked) >= 300
    with serve_in_process(tmp_path, plugins=plugins) as running:
        found = _message_ids(running.port("imap"))
    assert len(found) == len(set(found)), "a message is in the mailbox twice"
    missing = set(acked) - set(found)
    assert not missing, f"{len(missing)} acknowledged messages lost"
