"""Raw-wire behaviour: garbage, limits, pipelining, clients that vanish, MULTIAPPEND."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from unigate.testing.server import serve_in_thread

LIMIT = 20000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    extra = f"[imap]\nmax_literal_size = {LIMIT}\nmax_line_length = 4096\n"
    with serve_in_thread(
        tmp_path_factory.mktemp("wire"), plugins=["imap", "storage_sliced"], extra=extra
    ) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        yield running


class Wire:
    def __init__(self, port: int, login: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        assert self.line().startswith(b"* OK [CAPABILITY")
        if login:
            self.send(b"L LOGIN a@example.test pw-a\r\n")
            assert self.tagged(b"L").startswith(b"L OK")

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def tagged(self, tag: bytes) -> bytes:
        """Read until the tagged reply of ``tag``; returns it (untagged lines are in .seen)."""
        self.seen: list[bytes] = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line
            self.seen.append(line)

    def cmd(self, text: bytes) -> bytes:
        tag = text.split(b" ", 1)[0]
        self.send(text + b"\r\n")
        return self.tagged(tag)

    def close(self) -> None:
        self.sock.close()


def test_garbage_gets_bad_and_session_lives(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"c0 SELECT INBOX")
    for text in (
        b"g1 FETCH 1 (FLAGS",
        b"g2 SEARCH (OR SEEN",
        b"g3 FETCH 1)) FLAGS",
        b"g4 FETCH 0 FLAGS",
        b"g5 FETCH 1:x FLAGS",
        b"g6 FETCH 99 FLAGS",
        b"g7 STORE 1 +FLAGS (\\Bogus",
        b"g8 FROBNICATE",
        b"g9 UID FETCH 1,,2 FLAGS",
        b'g10 LIST "" "unterminated',
        b"g11 APPEND",
    ):
        reply = w.cmd(text)
        assert reply.startswith(text.split(b" ")[0] + b" BAD"), (text, reply)
    w.send(b"\xff\xfe\x00garbage\r\n")
    assert w.line().startswith(b"* BAD")
    w.send(b"x" * 5000 + b"\r\n")
    assert b"BAD" in w.line()
    assert w.cmd(b"n1 NOOP").startswith(b"n1 OK")
    w.close()


def test_wrong_state(server: Any) -> None:
    w = Wire(server.port("imap"), login=False)
    assert w.cmd(b"a1 SELECT INBOX").startswith(b"a1 BAD")
    assert w.cmd(b"a2 FETCH 1 FLAGS").startswith(b"a2 BAD")
    assert w.cmd(b"a3 LOGIN a@example.test pw-a").startswith(b"a3 OK")
    assert w.cmd(b"a4 FETCH 1 FLAGS").startswith(b"a4 BAD")
    assert w.cmd(b"a5 LOGIN a@example.test pw-a").startswith(b"a5 BAD")
    w.close()


def test_literal_over_appendlimit(server: Any) -> None:
    w = Wire(server.port("imap"))
    # synchronizing literal: refused before the client sends it
    reply = w.cmd(b"t1 APPEND INBOX {%d}" % (LIMIT + 1))
    assert reply.startswith(b"t1 NO [TOOBIG]")
    # a 100 MB announcement: refused at once as well
    assert w.cmd(b"t2 APPEND INBOX {104857600}").startswith(b"t2 NO [TOOBIG]")
    # non-synchronizing: the bytes are skipped, then the session goes on
    w.send(b"t3 APPEND INBOX {%d+}\r\n" % (LIMIT + 10) + b"y" * (LIMIT + 10) + b"\r\n")
    assert w.tagged(b"t3").startswith(b"t3 NO [TOOBIG]")
    assert w.cmd(b"t4 STATUS INBOX (MESSAGES)").startswith(b"t4 OK")
    assert b"MESSAGES 0" in w.seen[0]
    w.close()


def test_multiappend_and_sync_literal(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"m0 CREATE Multi")
    one, two = b"Subject: one\r\n\r\nabc\r\n", b"Subject: two\r\n\r\nabc\r\n"
    w.send(b"m1 APPEND Multi (\\Seen) {%d}\r\n" % len(one))
    assert w.line().startswith(b"+ ")
    w.send(one + b" {%d+}\r\n" % len(two) + two + b"\r\n")
    reply = w.tagged(b"m1")
    assert reply.startswith(b"m1 OK [APPENDUID ") and b" 1:2]" in reply
    assert b"MESSAGES 2" in (w.cmd(b"m2 STATUS Multi (MESSAGES)") and w.seen[0])
    w.close()


def test_thousand_pipelined_commands(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"p0 SELECT INBOX")
    batch = b"".join(b"p%d NOOP\r\n" % i for i in range(1, 1001))
    w.send(batch)
    for i in range(1, 1001):
        assert w.tagged(b"p%d" % i).startswith(b"p%d OK" % i)
    w.close()


def test_client_vanishes_mid_literal(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"v0 CREATE Vanish")
    w.send(b"v1 APPEND Vanish {100+}\r\n" + b"z" * 10)
    w.close()
    time.sleep(0.2)
    other = Wire(server.port("imap"))
    reply = other.cmd(b"s1 STATUS Vanish (MESSAGES)")
    assert reply.startswith(b"s1 OK") and b"MESSAGES 0" in other.seen[0]
    other.close()


def test_idle_then_done_and_bad_done(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"i0 SELECT INBOX")
    w.send(b"i1 IDLE\r\n")
    assert w.line().startswith(b"+ ")
    w.send(b"DONE\r\n")
    assert w.tagged(b"i1").startswith(b"i1 OK")
    w.send(b"i2 IDLE\r\n")
    assert w.line().startswith(b"+ ")
    w.send(b"NOPE\r\n")
    assert w.tagged(b"i2").startswith(b"i2 BAD")
    assert w.cmd(b"i3 NOOP").startswith(b"i3 OK")
    w.close()


def test_esearch_searchres_and_qresync(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"q0 CREATE Q")
    for n in range(3):
        msg = b"Subject: m%d\r\n\r\nbody\r\n" % n
        w.send(b"qa%d APPEND Q {%d+}\r\n" % (n, len(msg)) + msg + b"\r\n")
        assert w.tagged(b"qa%d" % n).startswith(b"qa%d OK" % n)
    assert w.cmd(b"q1 ENABLE QRESYNC").startswith(b"q1 OK")
    assert w.cmd(b"q2 SELECT Q").startswith(b"q2 OK [READ-WRITE]")
    validity = next(x for x in w.seen if b"UIDVALIDITY" in x).split()[3].rstrip(b"]")
    assert w.cmd(b"q3 UID STORE 2 +FLAGS.SILENT (\\Seen)").startswith(b"q3 OK")
    assert w.cmd(b"q4 SEARCH RETURN (MIN MAX COUNT SAVE) UNSEEN").startswith(b"q4 OK")
    assert w.seen == [b'* ESEARCH (TAG "q4") MIN 1 MAX 3 COUNT 2']
    assert w.cmd(b"q5 UID FETCH $ (FLAGS)").startswith(b"q5 OK")
    assert len(w.seen) == 2
    assert w.cmd(b"q6 UID STORE 1 +FLAGS.SILENT (\\Deleted)").startswith(b"q6 OK")
    assert w.cmd(b"q7 EXPUNGE").startswith(b"q7 OK")
    assert w.seen == [b"* VANISHED 1"]
    w.cmd(b"q8 UNSELECT")
    reply = w.cmd(b"q9 SELECT Q (QRESYNC (%s 1 1:3))" % validity)
    assert reply.startswith(b"q9 OK")
    assert b"* VANISHED (EARLIER) 1" in w.seen
    assert any(b"FETCH (FLAGS (\\Seen) UID 2" in x for x in w.seen)
    w.close()
