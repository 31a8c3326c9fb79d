"""POP3 against a real server with poplib: logins, the maildrop commands, UPDATE-only deletion,
\\Seen on RETR, STLS and implicit TLS, SASL, APOP, ``mailbox#account``, and garbage."""

from __future__ import annotations

import base64
import poplib
import socket
import ssl
from pathlib import Path

import pytest

from unigate_pop.login import apop_digest
from unigate_pop.testing import PASSWORD, USER, message, pop_server

SEEN = "\\Seen"


def login(port: int, user: str = USER, password: str = PASSWORD) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    client.user(user)
    client.pass_(password)
    return client


def raw(port: int, lines: list[bytes], *, until: bytes = b"") -> bytes:
    """Send ``lines`` at once and read until the server closes (or ``until`` shows up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        out = sock.recv(1000)
        sock.sendall(b"".join(lines))
        while until not in out or not until:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            out += data
        return out


def test_full_session_stat_list_uidl_retr_top_dele_quit(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        uids = [pop.deliver(message(i)) for i in (1, 2, 3)]
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        assert client.getwelcome().startswith(b"+OK Unigate POP3 server ready <")
        caps = client.capa()
        for cap in ("TOP", "UIDL", "USER", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"):
            assert cap in caps
        assert "PLAIN" in caps["SASL"]
        assert caps["IMPLEMENTATION"] == ["Unigate"]
        assert client.user(USER) == b"+OK send pass"
        assert client.pass_(PASSWORD).startswith(b"+OK 3 message(s)")
        trusted = pop.call(pop.server.classifier.classify, "127.0.0.1")
        assert trusted.temp_trusted  # read-then-send: the client may now relay for a while
        sizes = [len(message(i)) for i in (1, 2, 3)]
        assert client.stat() == (3, sum(sizes))
        assert client.list()[1] == [
            f"{n} {s}".encode() for n, s in zip((1, 2, 3), sizes, strict=True)
        ]
        assert client.list(2) == f"+OK 2 {sizes[1]}".encode()
        ids = client.uidl()[1]
        assert len({line.split()[1] for line in ids}) == 3
        assert client.uidl(1).split()[2] == ids[0].split()[1]
        _, lines, octets = client.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == message(1)  # poplib undoes the dot-stuffing
        assert b".leading dot line" in lines
        _, top, _ = client.top(2, 1)
        assert top[-2:] == [b"", b"Body of message 2."]
        assert client.dele(3) == b"+OK message 3 deleted"
        with pytest.raises(poplib.error_proto, match=r"-ERR message 3 is deleted"):
            client.retr(3)
        assert client.stat() == (2, sizes[0] + sizes[1])
        assert client.quit().startswith(b"+OK")
        flags = pop.flags()
        assert sorted(flags) == uids[:2]
        assert SEEN in flags[uids[0]]  # RETR sets \Seen
        assert SEEN not in flags[uids[1]]  # TOP does not


def test_dropped_connection_deletes_nothing_and_rset_undeletes(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        for i in (1, 2):
            pop.deliver(message(i))
        client = login(pop.port())
        client.dele(1)
        client.dele(2)
        client.sock.close()  # no QUIT: no UPDATE state
        client = login(pop.port())
        assert client.stat()[0] == 2
        client.dele(1)
        assert client.rset().startswith(b"+OK maildrop has 2 messages")
        client.quit()
        assert len(pop.flags()) == 2


def test_snapshot_at_login_and_stable_uidl(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        client = login(pop.port())
        first = client.uidl()[1]
        pop.deliver(message(2))  # arrives during the session
        assert client.stat()[0] == 1
        assert client.uidl()[1] == first
        client.quit()
        client = login(pop.port())
        assert client.stat()[0] == 2
        assert client.uidl()[1][0] == first[0]  # the same message keeps its id
        client.quit()


def test_deletion_of_messages_removed_elsewhere_does_not_fail(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        pop.deliver(message(2))
        one = login(pop.port())
        two = login(pop.port())
        one.dele(1)
        assert one.quit().startswith(b"+OK")
        with pytest.raises(poplib.error_proto, match="removed by another session"):
            two.retr(1)  # a zombie: still numbered, no longer readable
        assert two.list(1).startswith(b"+OK 1 ")
        two.dele(1)
        assert two.quit().startswith(b"+OK")
        assert len(pop.flags()) == 1


def test_bad_logins_get_auth_response_code(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        client.user(USER)
        with pytest.raises(
            poplib.error_proto, match=r"-ERR \[AUTH\] Incorrect Account Name or Password"
        ):
            client.pass_("wrong")
        client.user("nobody")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
            client.pass_(PASSWORD)
        with pytest.raises(poplib.error_proto, match="-ERR STAT is not valid in this state"):
            client.stat()
        client.user("alice%example.test")  # the manual's % form
        assert client.pass_(PASSWORD).startswith(b"+OK")
        client.quit()


def test_stls_then_login_and_implicit_tls(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        client.stls(pop.tls_context())
        assert "STLS" not in client.capa()
        client.user(USER)
        client.pass_(PASSWORD)
        assert client.stat()[0] == 1
        client.quit()
        secure = poplib.POP3_SSL(
            "127.0.0.1", pop.port("pop3s"), context=pop.tls_context(), timeout=10
        )
        assert "STLS" not in secure.capa()
        secure.user(USER)
        secure.pass_(PASSWORD)
        assert secure.retr(1)[1][2] == b"Subject: message 1"
        secure.quit()


def test_clear_text_refused_without_tls_when_policy_says_so(tmp_path: Path) -> None:
    with pop_server(tmp_path, extra='[protection]\ncleartext_logins = "secure"\n') as pop:
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        caps = client.capa()
        assert "USER" not in caps and "PLAIN" not in caps.get("SASL", [])
        with pytest.raises(poplib.error_proto, match="clear-text logins are disabled"):
            client.user(USER)
        client.stls(pop.tls_context())
        assert "USER" in client.capa()
        client.user(USER)
        assert client.pass_(PASSWORD).startswith(b"+OK")
        client.quit()


def test_auth_plain_and_empty_auth(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
        out = raw(
            pop.port(), [b"AUTH\r\n", b"AUTH PLAIN " + token + b"\r\n", b"STAT\r\n", b"QUIT\r\n"]
        )
        lines = out.split(b"\r\n")
        assert lines[1] == b"+OK SASL mechanisms follow" and b"PLAIN" in lines[2:6]
        assert (
            b"+OK 1 message(s)" in out
            and b"+OK 1 " in out
            and out.endswith(b"signing off (0 messages deleted)\r\n")
        )
        # without an initial response: a "+ " challenge, then the response
        bad = base64.b64encode(f"\0{USER}\0wrong".encode())
        out = raw(
            pop.port(), [b"AUTH PLAIN\r\n", bad + b"\r\n", b"AUTH PLAIN\r\n", b"*\r\n", b"QUIT\r\n"]
        )
        assert out.count(b"+ \r\n") == 2
        assert b"-ERR [AUTH] Incorrect Account Name or Password\r\n" in out
        assert b"-ERR authentication cancelled\r\n" in out


def test_apop_with_a_clear_stored_password(tmp_path: Path) -> None:
    with pop_server(tmp_path, clear_password=True) as pop:
        pop.deliver(message(1))
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        assert client.apop(USER, PASSWORD).startswith(b"+OK 1 message(s)")
        client.quit()
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
            client.apop(USER, "wrong")
        timestamp = client.getwelcome().split()[-1].decode()
        assert len(apop_digest(timestamp, "x")) == 32
        client.quit()


def test_mailbox_hash_account_login_and_hidden_messages(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        pop.deliver(message(2), flags=("$Service",))  # never visible to POP
        pop.deliver(message(7), mailbox="private")
        client = login(pop.port())
        assert client.stat()[0] == 1
        client.quit()
        client = login(pop.port(), user=f"private#{USER}")
        assert client.stat()[0] == 1
        assert client.retr(1)[1][2] == b"Subject: message 7"
        client.quit()
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        client.user(f"nosuch#{USER}")
        with pytest.raises(
            poplib.error_proto, match=r"-ERR \[SYS/PERM\] mailbox nosuch does not exist"
        ):
            client.pass_(PASSWORD)
        client.quit()


def test_garbage_gets_errors_and_other_sessions_are_unaffected(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        watcher = login(pop.port())
        out = raw(
            pop.port(),
            [b"HELLO\r\n", b"\x00\xff\xfe\r\n", b"A" * 5000 + b"\r\n", b"RETR 1\r\n", b"QUIT\r\n"],
        )
        assert b"-ERR unknown command HELLO\r\n" in out
        assert b"-ERR invalid characters in the command line\r\n" in out
        assert b"-ERR command line too long\r\n" in out
        assert b"-ERR RETR is not valid in this state\r\n" in out
        assert out.endswith(b"+OK Unigate POP3 server signing off\r\n")
        out = raw(pop.port(), [b"NOPE\r\n" * 50])
        assert out.endswith(b"-ERR too many errors, closing connection\r\n")
        with socket.create_connection(("127.0.0.1", pop.port()), timeout=10) as sock:
            sock.recv(1000)
            sock.sendall(b"STLS\r\n")
            assert sock.recv(1000) == b"+OK begin TLS negotiation\r\n"
            sock.sendall(b"this is no TLS client hello\r\n" * 20)
            while sock.recv(1000):  # perhaps a TLS alert, then the server closes
                pass
        assert watcher.stat()[0] == 1
        watcher.quit()


def test_pipelined_commands_are_answered_in_order(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        for i in range(1, 6):
            pop.deliver(message(i))
        commands = [f"USER {USER}\r\n".encode(), f"PASS {PASSWORD}\r\n".encode()]
        commands += (
            [f"TOP {i} 0\r\n".encode() for i in range(1, 6)] + [b"NOOP\r\n"] * 200 + [b"QUIT\r\n"]
        )
        out = raw(pop.port(), commands)
        assert out.count(b"+OK top of message follows\r\n") == 5
        assert out.count(b"+OK\r\n") == 200
        assert out.endswith(b"signing off (0 messages deleted)\r\n")


def test_stls_discards_pipelined_plaintext(tmp_path: Path) -> None:
    with (
        pop_server(tmp_path) as pop,
        socket.create_connection(("127.0.0.1", pop.port()), timeout=10) as sock,
    ):
        sock.recv(1000)
        sock.sendall(f"STLS\r\nUSER {USER}\r\nPASS {PASSWORD}\r\n".encode())
        assert sock.recv(1000) == b"+OK begin TLS negotiation\r\n"
        with pop.tls_context().wrap_socket(sock, server_hostname="example.test") as tls:
            tls.sendall(b"STAT\r\n")
            assert tls.recv(1000) == b"-ERR STAT is not valid in this state\r\n"
            tls.sendall(b"QUIT\r\n")
            assert tls.recv(1000).startswith(b"+OK")


def test_tls_context_is_verifiable(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        context = pop.tls_context()
        assert context.verify_mode is ssl.CERT_REQUIRED


def test_session_and_login_limits_answer_with_response_codes(tmp_path: Path) -> None:
    extra = "[pop]\nsessions_per_account = 2\nlogin_limit = 3\n"
    with pop_server(tmp_path, extra=extra) as pop:
        assert poplib.POP3("127.0.0.1", pop.port(), timeout=10).capa()["LOGIN-DELAY"] == ["200"]
        one = login(pop.port())
        two = login(pop.port())
        third = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        third.user(USER)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
            third.pass_(PASSWORD)
        one.quit()
        third.user(USER)
        assert third.pass_(PASSWORD).startswith(b"+OK")  # the third login in the window
        two.quit()
        third.quit()
        fourth = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        fourth.user(USER)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[LOGIN-DELAY\] too many POP logins"):
            fourth.pass_(PASSWORD)
        fourth.quit()


def test_idle_session_is_logged_out_without_update(tmp_path: Path) -> None:
    with pop_server(tmp_path, extra="[pop]\nidle_timeout = 1\n") as pop:
        pop.deliver(message(1))
        client = login(pop.port())
        client.dele(1)
        assert client.file.readline() == b"-ERR [SYS/TEMP] autologout: idle for too long\r\n"
        assert client.file.readline() == b""  # closed
        assert len(pop.flags()) == 1


def test_foreign_mailbox_without_delete_right(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        boss = pop.server.objects.add_account("boss@example.test", password="boss-pw")
        uid = pop.deliver(message(1), account=boss)
        mgr = pop.server.service("mailboxes")
        pop.call(mgr.set_acl, boss, "INBOX", boss, USER, "lr")
        client = login(pop.port(), user=f"~boss/INBOX#{USER}")
        assert client.stat()[0] == 1
        assert client.retr(1)[1][2] == b"Subject: message 1"
        with pytest.raises(
            poplib.error_proto, match="access right 'd' required|no right to delete"
        ):
            client.dele(1)
        client.quit()
        assert "\\Seen" not in pop.flags(boss)[uid]  # no "s" right: Seen unchanged
        client = poplib.POP3("127.0.0.1", pop.port(), timeout=10)
        client.user("~boss/Secret#" + USER)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/PERM\]"):
            client.pass_(PASSWORD)
        client.quit()


def test_protocol_trace_masks_passwords(tmp_path: Path) -> None:
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    with pop_server(tmp_path) as pop:
        login(pop.port()).quit()
        raw(pop.port(), [b"AUTH PLAIN " + token + b"\r\n", b"QUIT\r\n"])
        raw(pop.port(), [b"AUTH PLAIN\r\n", token + b"\r\n", b"QUIT\r\n"])
        logs = pop.data_dir / "SystemLogs"
    text = b"".join(path.read_bytes() for path in logs.rglob("*") if path.is_file())
    assert b"inp: PASS *** (for alice@example.test)" in text and b"inp: AUTH PLAIN ***" in text
    assert b"inp: AUTH PLAIN\n" in text and b"inp: *** (SASL response)" in text
    assert PASSWORD.encode() not in text and token not in text


def test_auth_scram_sha_256_with_final_challenge(tmp_path: Path) -> None:
    scramp = pytest.importorskip("scramp")
    with pop_server(tmp_path) as pop:
        pop.deliver(message(1))
        client = scramp.ScramClient(["SCRAM-SHA-256"], USER, PASSWORD)
        with socket.create_connection(("127.0.0.1", pop.port()), timeout=10) as sock:
            stream = sock.makefile("rwb")
            stream.readline()

            def send(line: bytes) -> bytes:
                stream.write(line + b"\r\n")
                stream.flush()
                return stream.readline()

            first = base64.b64encode(client.get_client_first().encode())
            challenge = send(b"AUTH SCRAM-SHA-256 " + first)
            assert challenge.startswith(b"+ ")
            client.set_server_first(base64.b64decode(challenge[2:]).decode())
            final = send(base64.b64encode(client.get_client_final().encode()))
            assert final.startswith(b"+ ")  # RFC 5034: server-final data as a last challenge
            client.set_server_final(base64.b64decode(final[2:]).decode())  # verifies the server
            assert send(b"") == b"+OK 1 message(s) (154 octets)\r\n"
            assert send(b"QUIT").startswith(b"+OK")
