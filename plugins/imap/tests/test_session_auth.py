"""Logins: LOGIN, STARTTLS, LOGINDISABLED, implicit TLS, AUTHENTICATE PLAIN and SCRAM-SHA-256."""

from __future__ import annotations

import base64
import imaplib
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import scramp
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from unigate.testing.server import serve_in_thread

PLUGINS = ["imap", "storage_sliced"]


def _unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_in_thread(tmp_path_factory.mktemp("auth"), plugins=PLUGINS) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        yield running


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    extra = '[protection]\ncleartext_logins = "secure"\n'
    with serve_in_thread(
        tmp_path_factory.mktemp("strict"), plugins=PLUGINS, extra=extra
    ) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        yield running


def test_login_and_bad_password(server: Any) -> None:
    c = IMAPClient("127.0.0.1", port=server.port("imap"), ssl=False, timeout=10)
    with pytest.raises(LoginError):
        c.login("a@example.test", "wrong")
    c.login("a@example.test", "pw-a")
    assert b"IDLE" in c.capabilities()
    c.logout()


def test_login_referral_for_an_account_moved_elsewhere(server: Any) -> None:
    """The manual's sample: ``<j.smith> = John@othercompany.com`` -> RFC 2221 REFERRAL."""
    routing = server.server.routing
    table = routing.table_text()
    routing.set_table(table + "\n<j.smith> = John@othercompany.com\n")
    try:
        c = imaplib.IMAP4("127.0.0.1", server.port("imap"))
        with pytest.raises(imaplib.IMAP4.error) as info:
            c.login("j.smith", "whatever")
        assert str(info.value) == (
            "b'[REFERRAL IMAP://John;AUTH=*@othercompany.com/]"
            " account has been moved to a remote system'"
        )
        typ, _ = c.login("a@example.test", "pw-a")  # a local account is not referred
        assert typ == "OK"
        c.logout()
    finally:
        routing.set_table(table)


def test_authenticate_referral_for_an_account_moved_elsewhere(server: Any) -> None:
    """AUTHENTICATE PLAIN (with SASL-IR and without) for a routed-away name: the same
    REFERRAL; a local account's failed AUTHENTICATE stays AUTHENTICATIONFAILED."""
    routing = server.server.routing
    table = routing.table_text()
    routing.set_table(table + "\n<j.smith> = John@othercompany.com\n")
    try:
        with socket.create_connection(("127.0.0.1", server.port("imap")), timeout=10) as sock:
            f = sock.makefile("rwb")
            f.readline()
            blob = base64.b64encode(b"\0j.smith\0whatever")
            f.write(b"a1 AUTHENTICATE PLAIN " + blob + b"\r\n")
            f.flush()
            assert f.readline() == (
                b"a1 NO [REFERRAL IMAP://John;AUTH=*@othercompany.com/]"
                b" account has been moved to a remote system\r\n"
            )
            f.write(b"a2 AUTHENTICATE PLAIN\r\n")
            f.flush()
            assert f.readline().startswith(b"+")
            f.write(blob + b"\r\n")
            f.flush()
            assert f.readline().startswith(b"a2 NO [REFERRAL IMAP://John;")
            bad = base64.b64encode(b"\0a@example.test\0wrong")
            f.write(b"a3 AUTHENTICATE PLAIN " + bad + b"\r\n")
            f.flush()
            assert f.readline().startswith(b"a3 NO [AUTHENTICATIONFAILED]")
    finally:
        routing.set_table(table)


def test_starttls_then_login(server: Any) -> None:
    c = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    assert "STARTTLS" in c.capabilities
    typ, _ = c.starttls(ssl_context=_unverified())
    assert typ == "OK"
    typ, caps = c.capability()
    assert b"STARTTLS" not in caps[0]
    typ, _ = c.login("a@example.test", "pw-a")
    assert typ == "OK"
    c.logout()


def test_implicit_tls(server: Any) -> None:
    c = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=_unverified())
    assert "STARTTLS" not in c.capabilities
    assert "AUTH=PLAIN" in c.capabilities
    assert c.login("a@example.test", "pw-a")[0] == "OK"
    c.logout()


def test_logindisabled_without_tls(strict: Any) -> None:
    c = imaplib.IMAP4("127.0.0.1", strict.port("imap"))
    assert "LOGINDISABLED" in c.capabilities
    assert "AUTH=PLAIN" not in c.capabilities
    typ, data = c._simple_command("LOGIN", "a@example.test", "pw-a")  # type: ignore[attr-defined]
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[0]
    c.starttls(ssl_context=_unverified())
    typ, caps = c.capability()
    assert b"LOGINDISABLED" not in caps[0] and b"AUTH=PLAIN" in caps[0]
    assert c.login("a@example.test", "pw-a")[0] == "OK"
    c.logout()


def test_authenticate_plain(server: Any) -> None:
    c = IMAPClient("127.0.0.1", port=server.port("imap"), ssl=False, timeout=10)
    c.plain_login("a@example.test", "pw-a")
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    c.logout()


def test_authenticate_plain_without_sasl_ir(server: Any) -> None:
    c = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0a@example.test\0pw-a")
    assert typ == "OK"
    c.logout()


class _Wire:
    """A minimal line-oriented IMAP client over a raw socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        assert self.line().startswith(b"* OK")

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


def test_authenticate_scram_sha_256(server: Any) -> None:
    client = scramp.ScramClient(["SCRAM-SHA-256"], "a@example.test", "pw-a")
    w = _Wire(server.port("imap"))
    first = base64.b64encode(client.get_client_first().encode())
    w.send(b"s1 AUTHENTICATE SCRAM-SHA-256 " + first + b"\r\n")
    line = w.line()
    assert line.startswith(b"+ ")
    client.set_server_first(base64.b64decode(line[2:]).decode())
    w.send(base64.b64encode(client.get_client_final().encode()) + b"\r\n")
    line = w.line()
    assert line.startswith(b"+ "), line
    client.set_server_final(base64.b64decode(line[2:]).decode())  # verifies the server
    w.send(b"\r\n")
    line = w.line()
    assert line.startswith(b"s1 OK"), line
    w.send(b"s2 SELECT INBOX\r\n")
    while not (line := w.line()).startswith(b"s2 "):
        pass
    assert line.startswith(b"s2 OK")


def test_scram_wrong_password_and_cancel(server: Any) -> None:
    client = scramp.ScramClient(["SCRAM-SHA-256"], "a@example.test", "nope")
    w = _Wire(server.port("imap"))
    w.send(b"s1 AUTHENTICATE SCRAM-SHA-256\r\n")
    assert w.line() == b"+ "
    w.send(base64.b64encode(client.get_client_first().encode()) + b"\r\n")
    line = w.line()
    client.set_server_first(base64.b64decode(line[2:]).decode())
    w.send(base64.b64encode(client.get_client_final().encode()) + b"\r\n")
    assert w.line().startswith(b"s1 NO [AUTHENTICATIONFAILED]")
    w.send(b"s2 AUTHENTICATE PLAIN\r\n")
    assert w.line().startswith(b"+")
    w.send(b"*\r\n")
    assert w.line().startswith(b"s2 BAD")
    w.send(b"s3 AUTHENTICATE NOSUCH\r\n")
    assert w.line().startswith(b"s3 NO")


def test_starttls_drops_pipelined_plaintext(server: Any) -> None:
    """Bytes sent after STARTTLS in the same packet must not be executed (CVE-2011-0411 style)."""
    w = _Wire(server.port("imap"))
    w.send(b"t1 STARTTLS\r\nt2 LOGIN a@example.test pw-a\r\n")
    assert w.line().startswith(b"t1 OK")
    tls = _unverified().wrap_socket(w.sock, server_hostname="localhost")
    tls.sendall(b"t3 NOOP\r\n")
    data = b""
    while b"t3 " not in data:
        data += tls.recv(65536)
    assert b"t2 " not in data
    assert data.startswith(b"t3 OK")
    tls.close()
