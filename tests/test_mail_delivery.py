"""End to end: SMTP/LMTP in with real clients, the Queue, local delivery into INBOXes.

Each test starts a real server in a thread (smtp + local + a storage format), talks to
it with smtplib or a raw socket, and reads the result back through the mailbox manager
on the server's own event loop.
"""

from __future__ import annotations

import base64
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.lowlevel
import pytest

from unigate.testing.server import RunningServer, serve_in_thread
from unigate_hookspecs import Verdict, hookimpl

PLUGINS = ["smtp", "local", "storage_sliced"]
MESSAGE = (
    b"From: bob@remote.test\r\nSubject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\nHi there.\r\n"
)


class Veto:
    """A plugin judging RCPTs through the smtp plugin's own ``smtp_rcpt`` hook."""

    @hookimpl
    def smtp_rcpt(self, recipient: str) -> Verdict | None:
        if recipient.startswith("vetoed@"):
            return Verdict.reject("no thanks", code=550, status="5.7.1")
        if recipient.startswith("boom@"):
            raise RuntimeError("a broken plugin")
        return None


class Probe:
    """A test plugin: keeps the server's event-loop token and registers `Veto`.

    `Veto` is registered at start-up, once the smtp plugin published its hooks (the
    kernel does not call ``unigate_addhooks`` before checking plugins yet).
    """

    def __init__(self) -> None:
        self.token: Any = None

    @hookimpl
    async def unigate_startup(self, server: Any) -> None:
        self.token = anyio.lowlevel.current_token()
        server.pm.register(Veto(), name="veto")


class Mail:
    """A running server plus helpers to read its mailboxes."""

    def __init__(self, running: RunningServer, probe: Probe) -> None:
        self.running = running
        self.server = running.server
        self.probe = probe

    def port(self, name: str = "smtp") -> int:
        return self.running.port(name)

    def call(self, fn: Any, *args: Any) -> Any:
        return anyio.from_thread.run(fn, *args, token=self.probe.token)

    def messages(self, account: str, mailbox: str = "INBOX") -> list[bytes]:
        async def read() -> list[bytes]:
            manager = self.server.service("mailboxes")
            session = await manager.open(account, mailbox, user=account)
            try:
                return [await session.read(rec.uid) for rec in session.messages()]
            finally:
                await session.close()

        return self.call(read)

    def wait_messages(self, account: str, count: int, mailbox: str = "INBOX") -> list[bytes]:
        self.idle()  # the Queue's deliveries first: then the mailbox is read once
        deadline = time.monotonic() + 10
        while True:
            found = self.messages(account, mailbox)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def idle(self) -> None:
        queue = self.server.service("queue")
        deadline = time.monotonic() + 10
        while queue.count and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def mail_server(tmp_path: Path, extra: str = "", domain: str = "example.test") -> Iterator[Mail]:
    probe = Probe()
    with serve_in_thread(
        tmp_path, plugins=PLUGINS, extra=extra, extra_plugins=[("probe", probe)], domain=domain
    ) as running:
        yield Mail(running, probe)


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[Mail]:
    with mail_server(tmp_path) as running:
        objects = running.server.objects
        objects.add_account("alice@example.test", password="pw")
        objects.add_account("bob@example.test", password="pw")
        yield running


def raw_session(port: int) -> tuple[socket.socket, Any]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"220 ")
    return sock, reader


def read_reply(reader: Any) -> bytes:
    lines = b""
    while True:
        line = reader.readline()
        lines += line
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def test_smtplib_delivers_to_inbox_with_trace_fields(mail: Mail) -> None:
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        code, text = client.ehlo("client.test")
        assert code == 250
        for keyword in (
            b"PIPELINING",
            b"SIZE",
            b"8BITMIME",
            b"SMTPUTF8",
            b"ENHANCEDSTATUSCODES",
            b"DSN",
            b"CHUNKING",
            b"BINARYMIME",
            b"STARTTLS",
            b"AUTH",
        ):
            assert keyword in text
        assert client.sendmail("bob@remote.test", ["alice@example.test"], MESSAGE) == {}
    (stored,) = mail.wait_messages("alice@example.test", 1)
    head = stored.split(b"\r\n\r\n")[0]
    assert head.startswith(
        b"Return-Path: <bob@remote.test>\r\nDelivered-To: alice@example.test\r\n"
    )
    assert b"Received: from client.test ([127.0.0.1])" in head
    assert b"for <alice@example.test>" in head
    assert stored.endswith(b"Hi there.\r\n")


def test_aliases_forwarders_groups_and_direct_mailbox(mail: Mail) -> None:
    objects = mail.server.objects
    objects.add_alias("al@example.test", "alice@example.test")
    objects.add_forwarder("fw@example.test", "bob@example.test")
    objects.add_group("team@example.test", ["alice@example.test", "bob@example.test"])
    manager = mail.server.service("mailboxes")
    mail.call(manager.create, "alice@example.test", "Archive", "alice@example.test")
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        client.sendmail("x@remote.test", ["al@example.test"], MESSAGE.replace(b"hello", b"alias"))
        client.sendmail("x@remote.test", ["fw@example.test"], MESSAGE.replace(b"hello", b"fwd"))
        client.sendmail("x@remote.test", ["team@example.test"], MESSAGE.replace(b"hello", b"grp"))
        client.sendmail(
            "x@remote.test", ["Archive#alice@example.test"], MESSAGE.replace(b"hello", b"box")
        )
    alice = mail.wait_messages("alice@example.test", 2)
    bob = mail.wait_messages("bob@example.test", 2)
    archive = mail.wait_messages("alice@example.test", 1, "Archive")
    assert sorted(m.split(b"Subject: ")[1][:5] for m in alice) == [b"alias", b"grp\r\n"]
    assert sorted(m.split(b"Subject: ")[1][:5] for m in bob) == [b"fwd\r\n", b"grp\r\n"]
    assert b"Subject: box" in archive[0]


def test_unknown_recipient_gets_550_at_rcpt(mail: Mail) -> None:
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        client.ehlo()
        client.mail("x@remote.test")
        code, text = client.rcpt("nobody@example.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        assert client.rcpt("alice@example.test")[0] == 250


def test_unauthenticated_relay_is_refused(mail: Mail) -> None:
    for listener in ("smtp", "lmtp"):
        sock, reader = raw_session(mail.port(listener))
        with sock:
            sock.sendall(b"LHLO c.test\r\n" if listener == "lmtp" else b"EHLO c.test\r\n")
            read_reply(reader)
            sock.sendall(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<victim@elsewhere.test>\r\n")
            assert read_reply(reader).startswith(b"250 ")
            assert read_reply(reader).startswith(b"550 5.7.1 ")


def test_submission_requires_auth(mail: Mail) -> None:
    with smtplib.SMTP("127.0.0.1", mail.port("submission")) as client:
        client.ehlo()
        code, text = client.mail("alice@example.test")
        assert (code, text[:5]) == (530, b"5.7.0")
        client.login("alice@example.test", "pw")
        assert client.mail("alice@example.test")[0] == 250
        assert client.rcpt("bob@example.test")[0] == 250


def test_wrong_password_is_535(mail: Mail) -> None:
    with (
        smtplib.SMTP("127.0.0.1", mail.port("submission")) as client,
        pytest.raises(smtplib.SMTPAuthenticationError) as info,
    ):
        client.login("alice@example.test", "wrong")
    assert info.value.smtp_code == 535


def test_size_limits(tmp_path: Path) -> None:
    with mail_server(tmp_path, extra="[smtp]\nmax_message_size = 20000\n") as mail:
        mail.server.objects.add_account("alice@example.test", password="pw")
        with smtplib.SMTP("127.0.0.1", mail.port()) as client:
            client.ehlo()
            code, text = client.mail("x@remote.test", ["SIZE=30000"])
            assert (code, text[:5]) == (552, b"5.3.4")
            big = MESSAGE + (b"x" * 70 + b"\r\n") * 400
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("x@remote.test", ["alice@example.test"], big)
            assert refused.value.smtp_code == 552
            client.rset()
            client.mail("x@remote.test")  # no SIZE= declared: refused at the end of data
            client.rcpt("alice@example.test")
            code, text = client.data(big)
            assert (code, text[:5]) == (552, b"5.3.4")
            assert client.noop()[0] == 250
            assert client.sendmail("x@remote.test", ["alice@example.test"], MESSAGE) == {}
        assert len(mail.wait_messages("alice@example.test", 1)) == 1


def test_ten_megabyte_line_and_garbage(mail: Mail) -> None:
    sock, reader = raw_session(mail.port())
    with sock:
        sock.sendall(b"EHLO c.test\r\n")
        read_reply(reader)
        sock.sendall(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        assert read_reply(reader).startswith(b"250")
        assert read_reply(reader).startswith(b"250")
        assert read_reply(reader).startswith(b"354")
        sock.sendall(b"Subject: long\r\n\r\n" + b"a" * (10 * 1024 * 1024) + b"\r\n.\r\n")
        assert read_reply(reader)[:1] == b"5"
        sock.sendall(b"\x00\xff garbage\r\nFROB\r\n")
        assert read_reply(reader).startswith(b"500")
        assert read_reply(reader).startswith(b"500")
        sock.sendall(b"NOOP\r\n")
        assert read_reply(reader).startswith(b"250")
        sock.sendall(b"BOGUS\r\n" * 12)
        replies = b""
        while not replies.endswith(b"Too many errors, closing connection\r\n"):
            replies += read_reply(reader)
        assert replies.count(b"500 5.5.2 Command unrecognized") >= 5
        assert replies.endswith(b"421 4.7.0 example.test Too many errors, closing connection\r\n")
        assert reader.read() == b""
    # the server is fine: a new session delivers
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        assert client.sendmail("x@remote.test", ["alice@example.test"], MESSAGE) == {}
    assert len(mail.wait_messages("alice@example.test", 1)) == 1


def test_client_vanishing_mid_data_delivers_nothing(mail: Mail) -> None:
    sock, reader = raw_session(mail.port())
    with sock:
        sock.sendall(
            b"EHLO c.test\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
        )
        for _ in range(4):
            read_reply(reader)
        sock.sendall(b"Subject: half\r\n\r\nsome text but no end")
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        assert client.sendmail("x@remote.test", ["alice@example.test"], MESSAGE) == {}
    stored = mail.wait_messages("alice@example.test", 1)
    mail.idle()
    assert len(mail.messages("alice@example.test")) == 1
    assert b"half" not in stored[0]


def test_lmtp_replies_per_recipient(mail: Mail) -> None:
    client = smtplib.LMTP("127.0.0.1", mail.port("lmtp"))
    try:
        refused = client.sendmail(
            "x@remote.test", ["alice@example.test", "bob@example.test"], MESSAGE
        )
        assert refused == {}
    finally:
        client.quit()
    assert len(mail.wait_messages("alice@example.test", 1)) == 1
    assert len(mail.wait_messages("bob@example.test", 1)) == 1


def test_pipelined_bdat(mail: Mail) -> None:
    sock, reader = raw_session(mail.port())
    body = MESSAGE.replace(b"hello", b"chunks")
    with sock:
        sock.sendall(b"EHLO c.test\r\n")
        read_reply(reader)
        sock.sendall(
            b"MAIL FROM:<x@remote.test> BODY=BINARYMIME\r\nRCPT TO:<bob@example.test>\r\n"
            + b"BDAT 20\r\n"
            + body[:20]
            + b"BDAT %d LAST\r\n" % (len(body) - 20)
            + body[20:]
        )
        replies = [read_reply(reader) for _ in range(4)]
        assert [r[:3] for r in replies] == [b"250"] * 4
        sock.sendall(b"QUIT\r\n")
        assert read_reply(reader).startswith(b"221")
    (stored,) = mail.wait_messages("bob@example.test", 1)
    assert stored.endswith(body)


def test_starttls_then_auth_plain(mail: Mail) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", mail.port("submission")) as client:
        client.starttls(context=context)
        code, text = client.ehlo()
        assert b"STARTTLS" not in text
        client.login("bob@example.test", "pw")
        assert client.sendmail("bob@example.test", ["alice@example.test"], MESSAGE) == {}
    (stored,) = mail.wait_messages("alice@example.test", 1)
    assert b" with ESMTPSA " in stored


def test_smtps_implicit_tls(mail: Mail) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP_SSL("127.0.0.1", mail.port("smtps"), context=context) as client:
        assert client.sendmail("x@remote.test", ["bob@example.test"], MESSAGE) == {}
    (stored,) = mail.wait_messages("bob@example.test", 1)
    assert b" with ESMTPS " in stored


def test_auth_mechanism_exchange_without_initial_response(mail: Mail) -> None:
    sock, reader = raw_session(mail.port("submission"))
    with sock:
        sock.sendall(b"EHLO c.test\r\nAUTH PLAIN\r\n")
        read_reply(reader)
        assert read_reply(reader).startswith(b"334")
        sock.sendall(base64.b64encode(b"\0alice@example.test\0pw") + b"\r\n")
        assert read_reply(reader).startswith(b"235 2.7.0")


def test_smtp_rcpt_hook_can_veto(mail: Mail) -> None:
    mail.server.objects.add_account("vetoed@example.test", password="pw")
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        client.ehlo()
        client.mail("x@remote.test")
        assert client.rcpt("vetoed@example.test") == (550, b"5.7.1 no thanks")


def test_blacklisted_peer_fails_every_rcpt(tmp_path: Path) -> None:
    with mail_server(tmp_path, extra='[protection]\nblacklisted = ["127.0.0.1"]\n') as mail:
        mail.server.objects.add_account("alice@example.test", password="pw")
        with smtplib.SMTP("127.0.0.1", mail.port()) as client:
            client.ehlo()
            client.mail("x@remote.test")
            code, text = client.rcpt("alice@example.test")
            assert (code, text[:5]) == (550, b"5.7.1")


def test_message_rate_limit(tmp_path: Path) -> None:
    with mail_server(tmp_path, extra="[smtp]\nmax_messages_per_minute = 2\n") as mail:
        mail.server.objects.add_account("alice@example.test", password="pw")
        with smtplib.SMTP("127.0.0.1", mail.port()) as client:
            client.sendmail("x@remote.test", ["alice@example.test"], MESSAGE)
            client.sendmail("x@remote.test", ["alice@example.test"], MESSAGE)
            code, text = client.mail("x@remote.test")
            assert (code, text[:5]) == (451, b"4.7.1")


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers(mail: Mail) -> None:
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{mail.port()}",
            "--from",
            "x@remote.test",
            "--to",
            "alice@example.test",
            "--header",
            "Subject: swaks test",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode(errors="replace")
    (stored,) = mail.wait_messages("alice@example.test", 1)
    assert b"Subject: swaks test" in stored


def test_quota_permanent_and_temporary_failures(mail: Mail) -> None:
    mail.server.objects.update_account_settings("bob@example.test", {"MaxAccountSize": 3000})
    small = MESSAGE + (b"y" * 70 + b"\r\n") * 18
    big = MESSAGE + (b"z" * 70 + b"\r\n") * 60
    with smtplib.SMTP("127.0.0.1", mail.port("submission")) as client:
        client.login("alice@example.test", "pw")
        client.sendmail("alice@example.test", ["bob@example.test"], big)  # > quota: 5.2.2
        client.sendmail("alice@example.test", ["bob@example.test"], small)  # fits
    (report,) = mail.wait_messages("alice@example.test", 1)
    assert b"Action: failed" in report and b"5.2.2" in report
    assert len(mail.wait_messages("bob@example.test", 1)) == 1
    with smtplib.SMTP("127.0.0.1", mail.port("submission")) as client:
        client.login("alice@example.test", "pw")
        client.sendmail("alice@example.test", ["bob@example.test"], small)  # account full: 4.2.2
    queue = mail.server.service("queue")
    deadline = time.monotonic() + 5
    entries: list[Any] = []
    while time.monotonic() < deadline:
        entries = mail.call(queue.list)
        if entries and entries[0].recipients[0].attempts:
            break
        time.sleep(0.05)
    (entry,) = entries
    assert entry.recipients[0].state == "delayed"
    assert entry.recipients[0].last_error.startswith("4.2.2")


def test_command_timeout_and_connection_limit(tmp_path: Path) -> None:
    extra = "[smtp]\ncommand_timeout = 0.5\nmax_connections_per_address = 1\n"
    with mail_server(tmp_path, extra=extra) as mail:
        sock, reader = raw_session(mail.port())
        with sock:
            second = socket.create_connection(("127.0.0.1", mail.port()), timeout=10)
            with second:
                assert (
                    second.makefile("rb").readline() == b"421 example.test too many connections\r\n"
                )
            assert reader.readline() == b"421 example.test timeout, closing\r\n"
            assert reader.read() == b""


def test_command_timeout_after_starttls(tmp_path: Path) -> None:
    with mail_server(tmp_path, extra="[smtp]\ncommand_timeout = 0.5\n") as mail:
        client = smtplib.SMTP("127.0.0.1", mail.port(), timeout=10)
        client.ehlo()
        client.starttls(context=ssl._create_unverified_context())
        client.ehlo()
        started = time.monotonic()
        code, text = client.getreply()  # nothing sent: the server gives up first
        assert (code, text) == (421, b"4.4.2 example.test timeout, closing")
        assert 0.4 < time.monotonic() - started < 5
        client.close()


def test_a_failing_hook_gives_451_and_the_session_goes_on(mail: Mail) -> None:
    mail.server.objects.add_account("boom@example.test", password="pw")
    with smtplib.SMTP("127.0.0.1", mail.port()) as client:
        client.ehlo()
        client.mail("x@remote.test")
        assert client.rcpt("boom@example.test") == (451, b"4.3.0 Local error in processing")
        assert client.rcpt("alice@example.test")[0] == 250
        assert client.data(MESSAGE)[0] == 250
    assert len(mail.wait_messages("alice@example.test", 1)) == 1


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_auth_on_submission(mail: Mail) -> None:
    base = [
        "swaks",
        "--server",
        f"127.0.0.1:{mail.port('submission')}",
        "--from",
        "alice@example.test",
        "--to",
        "bob@example.test",
        "--header",
        "Subject: swaks auth",
    ]
    refused = subprocess.run(base, capture_output=True, timeout=30, check=False)
    assert refused.returncode != 0 and b"530 5.7.0" in refused.stdout
    auth = ["--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", "pw"]
    result = subprocess.run(base + auth, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout.decode(errors="replace")
    (stored,) = mail.wait_messages("bob@example.test", 1)
    assert b"Subject: swaks auth" in stored and b" with ESMTPA " in stored
