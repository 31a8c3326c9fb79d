"""End to end: a message sent over SMTP reaches an IDLE-ing IMAP client within one second."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

from imapclient import IMAPClient

from unigate.testing.server import serve_in_thread


def test_smtp_delivery_reaches_idle_client(tmp_path: Path) -> None:
    plugins = ["smtp", "local", "imap", "storage_sliced"]
    with serve_in_thread(tmp_path, plugins=plugins) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        imap = IMAPClient("127.0.0.1", port=running.port("imap"), ssl=False, timeout=10)
        imap.login("a@example.test", "pw-a")
        imap.select_folder("INBOX")
        imap.idle()
        time.sleep(0.1)
        start = time.monotonic()
        with smtplib.SMTP("127.0.0.1", running.port("smtp"), timeout=10) as smtp:
            smtp.sendmail(
                "sender@elsewhere.test",
                ["a@example.test"],
                b"From: sender@elsewhere.test\r\nSubject: push\r\n\r\nhello\r\n",
            )
        got = imap.idle_check(timeout=3)
        elapsed = time.monotonic() - start
        imap.idle_done()
        assert (1, b"EXISTS") in got
        assert elapsed < 1.0, elapsed
        assert imap.search(["SUBJECT", "push"]) == [1]
        imap.logout()
