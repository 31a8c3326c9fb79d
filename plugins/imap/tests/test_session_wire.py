"""Raw-wire behaviour: garbage, limits, pipelining, clients that vanish, MULTIAPPEND."""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unigate.testing.server import serve_in_thread

LIMIT = 20000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    extra = f"[imap]\nmax_literal_size = {LIMIT}\nmax_line_length = 4096\n"
    with serve_in_thread(
        tmp_path_factory.mktemp("wire"), plugins=["imap", "storage_sliced"], extra=extra
    ) as running:
        # clear-text storage: no argon2 per login, so the many short sessions stay fast
        objects = running.server.objects
        objects.add_account("a@example.test", settings={"PasswordEncryption": "clear"})
        objects.update_account_settings("a@example.test", {"Password": "pw-a"})
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


def test_replace(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"r0 CREATE Rep")
    old = b"Subject: draft 1\r\n\r\nold\r\n"
    w.send(b"r1 APPEND Rep (\\Draft) {%d+}\r\n" % len(old) + old + b"\r\n")
    assert w.tagged(b"r1").startswith(b"r1 OK")
    w.cmd(b"r2 SELECT Rep")
    new = b"Subject: draft 2\r\n\r\nnew\r\n"
    w.send(b"r3 UID REPLACE 1 Rep (\\Draft) {%d+}\r\n" % len(new) + new + b"\r\n")
    assert w.tagged(b"r3").startswith(b"r3 OK")
    assert any(line.startswith(b"* OK [APPENDUID ") for line in w.seen)
    assert b"* 1 EXPUNGE" in w.seen
    assert w.cmd(b"r4 UID SEARCH SUBJECT draft").startswith(b"r4 OK")
    assert w.seen[-1] == b"* SEARCH 2"
    assert w.cmd(b"r5 REPLACE 9 Rep {1+}\r\nx").startswith(b"r5 BAD")
    w.close()


def test_compress_deflate(server: Any) -> None:
    w = Wire(server.port("imap"))
    assert w.cmd(b"z1 COMPRESS DEFLATE").startswith(b"z1 OK")
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    inflate = zlib.decompressobj(-15)

    def send(text: bytes) -> None:
        w.sock.sendall(deflate.compress(text) + deflate.flush(zlib.Z_SYNC_FLUSH))

    def until(tag: bytes) -> bytes:
        data = b""
        while tag + b" " not in data:
            data += inflate.decompress(w.sock.recv(65536))
        return data

    send(b"z2 SELECT INBOX\r\n")
    assert b"z2 OK" in until(b"z2")
    send(b"z3 COMPRESS DEFLATE\r\n")
    assert b"z3 NO [COMPRESSIONACTIVE]" in until(b"z3")
    send(b"z4 LOGOUT\r\n")
    assert b"* BYE" in until(b"z4")
    w.close()


_WORDS = st.sampled_from(
    [
        b"FETCH",
        b"UID",
        b"STORE",
        b"SEARCH",
        b"SELECT",
        b"1:*",
        b"(",
        b")",
        b"[",
        b"]",
        b"{3}",
        b"{2+}",
        b"~{1}",
        b'"',
        b"\\Seen",
        b"BODY[",
        b"<0.5>",
        b"*",
        b"$",
        b"NIL",
        b"INBOX",
        b"OR",
        b"HEADER",
        b"\x00",
        b"\xff",
        b"\t",
        b"-1",
        b"4294967296",
        b"RETURN",
        b"(MIN",
        b"CHARSET",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_WORDS, min_size=1, max_size=8), min_size=1, max_size=5))
def test_fuzzed_commands_never_break_the_session(server: Any, lines: list[list[bytes]]) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"f0 SELECT INBOX")
    for i, words in enumerate(lines):
        w.send(b"f%d " % (i + 1) + b" ".join(words) + b"\r\n")
    w.send(b"\r\n" * 3 + b"zz NOOP\r\n")
    # whatever the garbage did (literals may swallow lines), the session answers
    deadline = time.monotonic() + 5
    w.sock.settimeout(5)
    while time.monotonic() < deadline:
        line = w.line()
        if line.startswith(b"zz OK"):
            break
        if line.startswith(b"+ "):  # a synchronizing literal is waiting: feed it
            w.send(b"xxxxxx\r\n" + b"zz NOOP\r\n")
    else:
        pytest.fail("no answer to NOOP")
    w.close()


def test_autologout(tmp_path: Any) -> None:
    extra = "[imap]\nautologout_unauthenticated = 0.3\nautologout = 0.6\nidle_timeout = 0.6\n"
    with serve_in_thread(tmp_path, plugins=["imap", "storage_sliced"], extra=extra) as running:
        objects = running.server.objects
        objects.add_account("a@example.test", settings={"PasswordEncryption": "clear"})
        objects.update_account_settings("a@example.test", {"Password": "pw-a"})
        silent = Wire(running.port("imap"), login=False)
        start = time.monotonic()
        assert silent.line().startswith(b"* BYE")
        assert 0.2 < time.monotonic() - start < 3
        with pytest.raises(EOFError):
            silent.line()
        idler = Wire(running.port("imap"))
        idler.send(b"i1 IDLE\r\n")
        assert idler.line().startswith(b"+ ")
        assert idler.line().startswith(b"* BYE")
        with pytest.raises(EOFError):
            idler.line()


def test_rev2_search_is_esearch(server: Any) -> None:
    w = Wire(server.port("imap"))
    w.cmd(b"e0 CREATE Rev2")
    msg = b"Subject: r\r\n\r\nx\r\n"
    w.send(b"e1 APPEND Rev2 {%d+}\r\n" % len(msg) + msg + b"\r\n")
    assert w.tagged(b"e1").startswith(b"e1 OK")
    assert w.cmd(b"e2 ENABLE IMAP4rev2").startswith(b"e2 OK")
    assert w.seen == [b"* ENABLED IMAP4rev2"]
    w.cmd(b"e3 SELECT Rev2")
    assert not any(b"RECENT" in x for x in w.seen)
    assert b'* LIST () "/" Rev2' in w.seen
    assert w.cmd(b"e4 SEARCH ALL").startswith(b"e4 OK")
    assert w.seen == [b'* ESEARCH (TAG "e4") ALL 1']
    assert w.cmd(b"e5 UID SEARCH UNSEEN").startswith(b"e5 OK")
    assert w.seen == [b'* ESEARCH (TAG "e5") UID ALL 1']
    w.close()
