"""Sessions on one mailbox see each other's changes; IDLE gets a new message within 1 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from imapclient import IMAPClient

from unigate.testing.server import serve_in_thread


def _msg(subject: str) -> bytes:
    return f"From: x@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_in_thread(
        tmp_path_factory.mktemp("conc"), plugins=["imap", "storage_sliced"]
    ) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        yield running


def _client(server: Any) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=server.port("imap"), ssl=False, timeout=10)
    c.login("a@example.test", "pw-a")
    return c


def test_two_sessions_see_each_other(server: Any) -> None:
    a, b = _client(server), _client(server)
    try:
        a.create_folder("Both")
        a.select_folder("Both")
        b.select_folder("Both")
        a.append("Both", _msg("one"))
        a.append("Both", _msg("two"))
        updates = b.noop()[1]
        assert (2, b"EXISTS") in updates
        a.noop()
        a.add_flags([1], [b"\\Flagged"])
        updates = b.noop()[1]
        assert any(u[1] == b"FETCH" and b"\\Flagged" in u[2][1] for u in updates), updates
        a.add_flags([1], [b"\\Deleted"])
        a.expunge()
        updates = b.noop()[1]
        assert (1, b"EXPUNGE") in updates, updates
        assert b.search() == a.search() == [2]
        # a (non-UID) FETCH does not announce expunges; the next NOOP does
        a.add_flags([2], [b"\\Deleted"])
        a.expunge()
        b.use_uid = False
        assert b.fetch([1], ["FLAGS"])
        assert (1, b"EXPUNGE") in b.noop()[1]
    finally:
        a.logout()
        b.logout()


def test_idle_receives_append_within_a_second(server: Any) -> None:
    a, b = _client(server), _client(server)
    try:
        a.create_folder("Idle")
        b.select_folder("Idle")
        b.idle()
        time.sleep(0.1)
        start = time.monotonic()
        a.append("Idle", _msg("pushed"))
        got = b.idle_check(timeout=2)
        elapsed = time.monotonic() - start
        b.idle_done()
        assert (1, b"EXISTS") in got
        assert elapsed < 1.0
    finally:
        a.logout()
        b.logout()
