"""Server core: every command and every error path, byte for byte."""

from __future__ import annotations

import pytest

from unigate_smtp.protocol import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    Body,
    Chunk,
    ConnectionClosed,
    DataStart,
    Expn,
    Extensions,
    Helo,
    Help,
    Limits,
    LocalProtocolError,
    MailFrom,
    MailParams,
    MessageData,
    Noop,
    Notify,
    OtherCommand,
    ProtocolError,
    Quit,
    RcptParams,
    RcptTo,
    Reply,
    Ret,
    Rset,
    ServerConnection,
    ServerState,
    StartTLS,
    Vrfy,
)
from unigate_smtp.protocol.harness import accept_all, drive

EXT = Extensions(starttls=True, auth=("PLAIN", "LOGIN"), extra_commands=frozenset({"ETRN"}))
BANNER = b"220 mx.test ESMTP\r\n"
EHLO_REPLY = (
    b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n"
    b"250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
)


def server(**kw: object) -> ServerConnection:
    kw.setdefault("extensions", EXT)
    return ServerConnection(hostname="mx.test", **kw)  # type: ignore[arg-type]


def run(data: bytes | list[bytes], conn: ServerConnection | None = None, **kw: object):
    conn = conn or server()
    events, out = drive(conn, [data] if isinstance(data, bytes) else data, **kw)  # type: ignore[arg-type]
    return conn, events, out


def errors(events: list) -> list[bytes]:
    return [e.reply.to_bytes() for e in events if isinstance(e, ProtocolError)]


# ------------------------------------------------------------------ greeting


def test_greeting_then_paused_until_sent() -> None:
    conn = server()
    conn.receive_data(b"EHLO x\r\n")
    assert conn.state is ServerState.GREETING
    assert conn.has_buffered_data  # early talker, visible to the loop
    assert conn.next_event() is PAUSED
    assert conn.send(Reply(220, None, "mx.test ESMTP")) == BANNER
    assert conn.next_event() == Helo("x", extended=True)


def test_554_greeting_allows_only_quit() -> None:
    conn, events, out = run(b"EHLO x\r\nQUIT\r\n", greeting=Reply(554, None, "mx.test no service"))
    assert out == (b"554 mx.test no service\r\n503 No service here, QUIT only\r\n221 Bye\r\n")
    assert conn.state is ServerState.CLOSED


def test_421_unprompted_closes() -> None:
    conn, _, _ = run(b"")
    assert conn.send(Reply(421, "4.4.2", "mx.test idle timeout")) == b"421 mx.test idle timeout\r\n"
    assert conn.state is ServerState.CLOSED
    assert conn.next_event() == ConnectionClosed()


def test_send_without_pending_is_local_error() -> None:
    conn, _, _ = run(b"")
    with pytest.raises(LocalProtocolError):
        conn.send(Reply(250, None, "OK"))
    with pytest.raises(LocalProtocolError):
        conn.send("250 OK")  # type: ignore[arg-type]


# -------------------------------------------------------------- HELO / EHLO


def test_ehlo_reply_lists_extensions_without_status_codes() -> None:
    _, events, out = run(b"EHLO client.example\r\n")
    assert events == [Helo("client.example", extended=True)]
    assert out == BANNER + EHLO_REPLY


def test_ehlo_reply_text_and_tls_hides_starttls() -> None:
    conn = server(tls_active=True, limits=Limits(max_message_size=None))
    conn.send(Reply(220, None, "x"))
    conn.receive_data(b"EHLO c\r\n")
    conn.next_event()
    reply = conn.ehlo_reply("greets c")
    assert reply.lines[0] == "mx.test greets c"
    assert "STARTTLS" not in reply.lines
    assert "SIZE" in reply.lines


def test_helo_is_not_extended_and_gets_no_status_codes() -> None:
    conn, events, out = run(b"HELO c\r\nMAIL FROM:<a@b.example>\r\nFOO\r\n")
    assert events[0] == Helo("c", extended=False)
    assert out == BANNER + b"250 mx.test\r\n250 OK\r\n500 Command unrecognized\r\n"
    assert not conn.extended


def test_helo_without_argument() -> None:
    _, events, out = run(b"HELO\r\nEHLO  \r\nEHLO a b\r\n")
    assert out == BANNER + b"501 Syntax: HELO hostname\r\n501 Syntax: EHLO hostname\r\n" * 1 + (
        b"501 Syntax: EHLO hostname\r\n"
    )
    assert all(isinstance(e, ProtocolError) and not e.fatal for e in events)


def test_ehlo_rejected_by_application_keeps_state() -> None:
    conn, _, out = run(
        b"EHLO bad\r\nMAIL FROM:<>\r\n",
        respond=lambda c, e: (
            Reply(550, "5.7.1", "go away") if isinstance(e, Helo) else accept_all(c, e)
        ),
    )
    assert out.endswith(b"550 go away\r\n503 Send HELO/EHLO first\r\n")
    assert conn.state is ServerState.CONNECTED


def test_ehlo_reply_outside_helo_is_local_error() -> None:
    conn, _, _ = run(b"")
    with pytest.raises(LocalProtocolError):
        conn.ehlo_reply()


# ----------------------------------------------------------------- sequence

GREETED = b"EHLO c\r\n"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"MAIL FROM:<a@b.c>\r\n", b"503 Send HELO/EHLO first\r\n"),
        (b"RCPT TO:<a@b.c>\r\n", b"503 Send HELO/EHLO first\r\n"),
        (b"DATA\r\n", b"503 Send HELO/EHLO first\r\n"),
        (b"STARTTLS\r\n", b"503 Send EHLO first\r\n"),
        (b"AUTH PLAIN\r\n", b"503 Send EHLO first\r\n"),
        (GREETED + b"RCPT TO:<a@b.c>\r\n", b"503 5.5.1 Need MAIL command\r\n"),
        (GREETED + b"DATA\r\n", b"503 5.5.1 Need MAIL command\r\n"),
        (GREETED + b"MAIL FROM:<>\r\nDATA\r\n", b"503 5.5.1 Need RCPT command\r\n"),
        (GREETED + b"MAIL FROM:<>\r\nMAIL FROM:<>\r\n", b"503 5.5.1 Sender already specified\r\n"),
        (
            GREETED + b"MAIL FROM:<>\r\nAUTH PLAIN\r\n",
            b"503 5.5.1 AUTH not permitted during a mail transaction\r\n",
        ),
        (
            GREETED + b"MAIL FROM:<>\r\nSTARTTLS\r\n",
            b"503 5.5.1 STARTTLS not permitted during a mail transaction\r\n",
        ),
        (
            GREETED + b"MAIL FROM:<>\r\nRCPT TO:<a@b.c>\r\nBDAT 2\r\nxyDATA\r\n",
            b"503 5.5.1 DATA not permitted during BDAT transfer\r\n",
        ),
        (
            GREETED + b"MAIL FROM:<>\r\nRCPT TO:<a@b.c>\r\nBDAT 2\r\nxyMAIL FROM:<>\r\n",
            b"503 5.5.1 Bad sequence of commands\r\n",
        ),
    ],
)
def test_sequence_errors(script: bytes, expected: bytes) -> None:
    _, events, out = run(script)
    assert out.endswith(expected)
    assert isinstance(events[-1], ProtocolError)
    assert events[-1].reply.code == 503 and events[-1].reply.status == "5.5.1"


def test_unknown_and_bad_bytes() -> None:
    _, _, out = run(GREETED + b"XYZZY\r\nMAIL\xff\r\nNO\x00OP\r\n")
    assert out.endswith(
        b"500 5.5.2 Command unrecognized\r\n500 5.5.2 Invalid UTF-8 in command\r\n"
        b"500 5.5.2 Invalid character in command\r\n"
    )


def test_commands_are_case_insensitive_and_lf_tolerated() -> None:
    _, events, _ = run(b"ehlo c\nmail from:<a@b.c>\r\nrcpt to:<d@e.f>\n")
    assert [type(e) for e in events] == [Helo, MailFrom, RcptTo]


# ------------------------------------------------------------------- MAIL


def test_mail_all_parameters() -> None:
    _, events, out = run(
        GREETED + b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8bitmime SMTPUTF8 RET=HDRS "
        b"ENVID=QQ+2B1 AUTH=u+2Bx@b.example\r\n"
    )
    assert events[-1] == MailFrom(
        "a@b.example",
        MailParams(1000, Body.EIGHT_BIT_MIME, True, Ret.HDRS, "QQ+1", "u+x@b.example"),
    )
    assert out.endswith(b"250 2.0.0 OK\r\n")


def test_mail_null_sender_space_after_colon_and_source_route() -> None:
    _, events, _ = run(
        GREETED + b"MAIL FROM: <>\r\nRSET\r\nMAIL FROM:<@r1.example,@r2.example:a@b.example>\r\n"
    )
    assert events[1] == MailFrom("", MailParams())
    assert events[3].address == "a@b.example"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"MAIL TO:<a@b.c>", b"501 5.5.4 Syntax: MAIL FROM:<address>"),
        (b"MAIL FROM:a@b.c", b"501 5.1.7 Bad sender address syntax: path must be enclosed in <>"),
        (b"MAIL FROM:<a@b.c", b"501 5.1.7 Bad sender address syntax: path must end with >"),
        (b"MAIL FROM:<a..b@c.d>", b"501 5.1.7 Bad sender address syntax: bad local part"),
        (b"MAIL FROM:<a@-c.d>", b"501 5.1.7 Bad sender address syntax: bad domain label"),
        (b"MAIL FROM:<a@b.c>SIZE=1", b"501 5.5.4 Syntax error after address"),
        (b"MAIL FROM:<a@b.c> SIZE=x", b"501 5.5.4 Invalid value for SIZE"),
        (b"MAIL FROM:<a@b.c> SIZE=", b"501 5.5.4 Syntax error in parameter 'SIZE='"),
        (b"MAIL FROM:<a@b.c> SIZE=1 SIZE=2", b"501 5.5.4 Duplicate parameter SIZE"),
        (b"MAIL FROM:<a@b.c> FOO=1", b"555 5.5.4 Unsupported parameter FOO"),
        (b"MAIL FROM:<a@b.c> BODY=9BIT", b"501 5.5.4 Invalid value for BODY"),
        (b"MAIL FROM:<a@b.c> SMTPUTF8=yes", b"501 5.5.4 Invalid value for SMTPUTF8"),
        (b"MAIL FROM:<a@b.c> RET=ALL", b"501 5.5.4 Invalid value for RET"),
        (b"MAIL FROM:<a@b.c> ENVID=a+ZZ", b"501 5.5.4 Invalid value for ENVID"),
        (
            b"MAIL FROM:<a@b.c> SIZE=99999999999",
            b"552 5.3.4 Message size exceeds fixed maximum message size",
        ),
        ("MAIL FROM:<j\u00f6@b.c>".encode(), b"553 5.6.7 Non-ASCII address requires SMTPUTF8"),
    ],
)
def test_mail_errors(line: bytes, expected: bytes) -> None:
    conn, events, out = run(GREETED + line + b"\r\n")
    assert out.endswith(expected + b"\r\n")
    assert conn.state is ServerState.READY


def test_mail_parameters_need_ehlo_and_offer() -> None:
    _, _, out = run(b"HELO c\r\nMAIL FROM:<a@b.c> SIZE=1\r\n")
    assert out.endswith(b"555 Unsupported parameter SIZE\r\n")
    conn = server(extensions=Extensions(dsn=False, eightbitmime=False, binarymime=False))
    _, _, out = run(
        GREETED + b"MAIL FROM:<a@b.c> RET=FULL\r\nMAIL FROM:<a@b.c> BODY=8BITMIME\r\n", conn
    )
    assert out.endswith(
        b"555 5.5.4 Unsupported parameter RET\r\n555 5.5.4 Unsupported parameter BODY\r\n"
    )
    conn = server(extensions=Extensions(chunking=False))
    _, _, out = run(GREETED + b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\n", conn)
    assert out.endswith(b"501 5.5.4 Invalid value for BODY\r\n")


def test_mail_utf8_with_smtputf8() -> None:
    _, events, _ = run(
        GREETED + "MAIL FROM:<jö@bü.example> SMTPUTF8\r\nRCPT TO:<ü@x.example>\r\n".encode()
    )
    assert events[1].address == "jö@bü.example"
    assert events[2].address == "ü@x.example"


def test_mail_rejected_by_application_stays_ready() -> None:
    conn, _, out = run(
        GREETED + b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n",
        respond=lambda c, e: (
            Reply(550, "5.7.1", "no") if isinstance(e, MailFrom) else accept_all(c, e)
        ),
    )
    assert out.endswith(b"550 5.7.1 no\r\n503 5.5.1 Need MAIL command\r\n")
    assert conn.state is ServerState.READY


# ------------------------------------------------------------------- RCPT

TXN = GREETED + b"MAIL FROM:<a@b.example>\r\n"


def test_rcpt_dsn_parameters_and_postmaster() -> None:
    _, events, _ = run(
        TXN + b"RCPT TO:<d@e.example> NOTIFY=success,DELAY ORCPT=rfc822;d+2Bx@e.example\r\n"
        b"RCPT TO:<Postmaster> NOTIFY=NEVER\r\n"
        b'RCPT TO:<"q x"@[192.0.2.1]> ORCPT=utf-8;\\x{E9}@e.example\r\n'
    )
    assert events[2] == RcptTo(
        "d@e.example",
        RcptParams(frozenset({Notify.SUCCESS, Notify.DELAY}), ("rfc822", "d+x@e.example")),
    )
    assert events[3] == RcptTo("Postmaster", RcptParams(frozenset()))
    assert events[4] == RcptTo('"q x"@[192.0.2.1]', RcptParams(None, ("utf-8", "\u00e9@e.example")))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"RCPT FROM:<a@b.c>", b"501 5.5.4 Syntax: RCPT TO:<address>"),
        (b"RCPT TO:<>", b"501 5.1.3 Bad recipient address syntax: null path not allowed here"),
        (b"RCPT TO:<abuse>", b"501 5.1.3 Bad recipient address syntax: missing @domain"),
        (b"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS", b"501 5.5.4 Invalid value for NOTIFY"),
        (b"RCPT TO:<a@b.c> NOTIFY=SUCCESS,SUCCESS", b"501 5.5.4 Invalid value for NOTIFY"),
        (b"RCPT TO:<a@b.c> ORCPT=rfc822", b"501 5.5.4 Invalid value for ORCPT"),
        (b"RCPT TO:<a@b.c> SIZE=1", b"555 5.5.4 Unsupported parameter SIZE"),
        ("RCPT TO:<ü@b.c>".encode(), b"553 5.6.7 Non-ASCII address requires SMTPUTF8"),
    ],
)
def test_rcpt_errors(line: bytes, expected: bytes) -> None:
    conn, _, out = run(TXN + line + b"\r\n")
    assert out.endswith(expected + b"\r\n")
    assert conn.state is ServerState.MAIL


def test_max_recipients_452_not_counted_as_bad() -> None:
    conn = server(limits=Limits(max_recipients=2, max_bad_commands=2))
    _, _, out = run(TXN + b"RCPT TO:<a@b.c>\r\n" * 2 + b"RCPT TO:<c@b.c>\r\n" * 3, conn)
    assert out.endswith(b"250 2.0.0 OK\r\n" * 2 + b"452 4.5.3 Too many recipients\r\n" * 3)
    assert conn.recipients == 2 and conn.bad_commands == 0


def test_rejected_rcpt_is_not_counted() -> None:
    conn, _, out = run(
        TXN + b"RCPT TO:<a@b.c>\r\nRCPT TO:<ok@b.c>\r\nDATA\r\n",
        respond=lambda c, e: (
            Reply(550, "5.1.1", "unknown")
            if isinstance(e, RcptTo) and e.address == "a@b.c"
            else accept_all(c, e)
        ),
    )
    assert conn.recipients == 1 and conn.state is ServerState.DATA


# ------------------------------------------------------------ small commands


def test_small_commands() -> None:
    _, events, out = run(
        GREETED
        + b"NOOP hello\r\nVRFY bob\r\nEXPN list\r\nHELP\r\nHELP MAIL\r\nETRN example.com\r\n"
        b"RSET\r\nQUIT\r\n"
    )
    assert events[1:] == [
        Noop(" hello"[1:]),
        Vrfy("bob"),
        Expn("list"),
        Help(None),
        Help("MAIL"),
        OtherCommand("ETRN", "example.com"),
        Rset(),
        Quit(),
    ]
    assert out.endswith(b"250 2.0.0 OK\r\n" * 7 + b"221 2.0.0 Bye\r\n")


def test_small_command_syntax() -> None:
    _, _, out = run(GREETED + b"VRFY\r\nEXPN \r\nRSET x\r\nQUIT now\r\nDATA x\r\nSTARTTLS x\r\n")
    assert out.endswith(
        b"501 5.5.4 Syntax: VRFY string\r\n501 5.5.4 Syntax: EXPN string\r\n"
        b"501 5.5.4 Syntax: RSET\r\n501 5.5.4 Syntax: QUIT\r\n503 5.5.1 Need MAIL command\r\n"
        b"501 5.5.4 Syntax: STARTTLS\r\n"
    )


def test_rset_clears_transaction() -> None:
    conn, _, _ = run(TXN + b"RCPT TO:<a@b.c>\r\nRSET\r\n")
    assert conn.state is ServerState.READY and conn.recipients == 0 and conn.mail_params is None


def test_rset_before_helo_stays_connected() -> None:
    conn, _, out = run(b"RSET\r\n")
    assert conn.state is ServerState.CONNECTED
    assert out == BANNER + b"250 OK\r\n"


def test_ehlo_mid_transaction_resets() -> None:
    conn, _, _ = run(TXN + b"RCPT TO:<a@b.c>\r\nEHLO again\r\n")
    assert conn.state is ServerState.READY and conn.recipients == 0


def test_quit_closes() -> None:
    conn, events, out = run(GREETED + b"QUIT\r\nNOOP\r\n")
    assert conn.state is ServerState.CLOSED
    assert events[-1] == Quit()
    assert conn.next_event() == ConnectionClosed()


def test_eof_gives_connection_closed() -> None:
    conn, events, _ = run([GREETED + b"MAIL FR"], eof=True)
    assert events[-1] == ConnectionClosed()
    assert conn.state is ServerState.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")


# -------------------------------------------------------------------- DATA


def test_data_flow_bytes() -> None:
    conn, events, out = run(
        TXN + b"RCPT TO:<d@e.f>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    )
    assert events[3:] == [DataStart(), MessageData(b"Subject: x\r\n\r\nbody\r\n"), Quit()]
    assert out == BANNER + EHLO_REPLY + (
        b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        b"250 2.0.0 Queued\r\n221 2.0.0 Bye\r\n"
    )


def test_data_rejected_by_application_reads_commands() -> None:
    conn, events, out = run(
        TXN + b"RCPT TO:<d@e.f>\r\nDATA\r\nNOOP\r\n",
        respond=lambda c, e: (
            Reply(554, "5.5.1", "no valid recipients")
            if isinstance(e, DataStart)
            else accept_all(c, e)
        ),
    )
    assert events[-1] == Noop("")
    assert conn.state is ServerState.RCPT


def test_data_reply_must_be_354_or_error() -> None:
    conn, _, _ = run(TXN + b"RCPT TO:<d@e.f>\r\n")
    conn.receive_data(b"DATA\r\n")
    assert conn.next_event() == DataStart()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply(250, "2.0.0", "OK"))
    with pytest.raises(LocalProtocolError):
        conn.send(Reply(334, None, ""))
    conn.send(Reply(354, None, "go"))
    assert conn.state is ServerState.DATA


def test_data_with_binarymime_is_503() -> None:
    _, _, out = run(GREETED + b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nDATA\r\n")
    assert out.endswith(b"503 5.5.1 BODY=BINARYMIME requires BDAT\r\n")


def test_message_over_size_limit_552() -> None:
    conn = server(limits=Limits(max_message_size=10))
    _, events, out = run(
        TXN + b"RCPT TO:<d@e.f>\r\nDATA\r\n" + b"12345678\r\n" + b"x\r\n.\r\nNOOP\r\n", conn
    )
    assert events[-2] == ProtocolError(
        Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
    )
    assert out.endswith(
        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"
    )
    assert conn.state is ServerState.READY and conn.bad_commands == 0


def test_message_exactly_at_size_limit_with_stuffed_dots() -> None:
    conn = server(limits=Limits(max_message_size=10))
    _, events, _ = run(TXN + b"RCPT TO:<d@e.f>\r\nDATA\r\n", conn)
    for part in (b"..\r\n", b"..", b"\r\n12", b"\r\n", b".\r\n"):
        conn.receive_data(part)
        event = conn.next_event()
    assert event == MessageData(b".\r\n.\r\n12\r\n")  # 10 octets, 13 on the wire
    conn.send(Reply(250, "2.0.0", "OK"))
    conn.receive_data(b"MAIL FROM:<>\r\n")
    conn.next_event()
    conn.send(Reply(250, "2.0.0", "OK"))
    conn.receive_data(b"RCPT TO:<a@b.c>\r\n")
    conn.next_event()
    conn.send(Reply(250, "2.0.0", "OK"))
    conn.receive_data(b"DATA\r\n")
    conn.next_event()
    conn.send(Reply(354, None, "go"))
    conn.receive_data(b"..\r\n..\r\n123\r\n.\r\n")  # 11 octets
    assert conn.next_event() == ProtocolError(
        Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
    )


def test_8bit_without_8bitmime() -> None:
    limits = Limits(reject_8bit_without_8bitmime=True)
    script = b"DATA\r\ncaf\xc3\xa9\r\n.\r\n"
    _, _, out = run(TXN + b"RCPT TO:<d@e.f>\r\n" + script, server(limits=limits))
    assert out.endswith(b"554 5.6.1 8-bit content requires BODY=8BITMIME\r\n")
    _, events, _ = run(
        GREETED + b"MAIL FROM:<a@b.c> BODY=8BITMIME\r\nRCPT TO:<d@e.f>\r\n" + script,
        server(limits=limits),
    )
    assert events[-1] == MessageData(b"caf\xc3\xa9\r\n")
    _, events, _ = run(TXN + b"RCPT TO:<d@e.f>\r\n" + script)  # default: lenient
    assert isinstance(events[-1], MessageData)


# -------------------------------------------------------------------- BDAT


def test_bdat_chunks_binary_exact() -> None:
    payload = b"\x00\r\n.\r\nQUIT\r\n\xff"
    conn, events, out = run(
        TXN
        + b"RCPT TO:<d@e.f>\r\nBDAT %d\r\n" % len(payload)
        + payload
        + b"BDAT 3 LAST\r\nxyzNOOP\r\n"
    )
    assert events[3:] == [Chunk(payload, last=False), Chunk(b"xyz", last=True), Noop("")]
    assert out.endswith(b"250 2.0.0 OK\r\n250 2.0.0 Queued\r\n250 2.0.0 OK\r\n")
    assert conn.state is ServerState.READY


def test_bdat_zero_last() -> None:
    _, events, _ = run(TXN + b"RCPT TO:<d@e.f>\r\nBDAT 0 last\r\n")
    assert events[-1] == Chunk(b"", last=True)


def test_bdat_errors_consume_the_chunk() -> None:
    _, events, out = run(GREETED + b"BDAT 6\r\nMAIL FNOOP\r\n")
    assert out.endswith(b"503 5.5.1 Need MAIL command\r\n250 2.0.0 OK\r\n")
    conn = server(extensions=Extensions(chunking=False))
    _, _, out = run(TXN + b"RCPT TO:<d@e.f>\r\nBDAT 4 LAST\r\nabcdNOOP\r\n", conn)
    assert out.endswith(b"502 5.5.1 Command not implemented\r\n250 2.0.0 OK\r\n")


def test_bdat_bad_syntax_is_fatal() -> None:
    conn, events, out = run(TXN + b"RCPT TO:<d@e.f>\r\nBDAT ten\r\nNOOP\r\n")
    assert events[-1] == ProtocolError(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"), fatal=True)
    assert conn.state is ServerState.CLOSED
    assert out.endswith(b"501 5.5.4 Syntax: BDAT size [LAST]\r\n")


def test_bdat_over_size_limit_discards_and_resets() -> None:
    conn = server(limits=Limits(max_message_size=5))
    _, events, out = run(
        TXN + b"RCPT TO:<d@e.f>\r\nBDAT 3\r\nabcBDAT 3 LAST\r\ndefBDAT 1 LAST\r\nxNOOP\r\n", conn
    )
    assert out.endswith(
        b"250 2.0.0 OK\r\n552 5.3.4 Message size exceeds fixed maximum message size\r\n"
        b"503 5.5.1 Need MAIL command\r\n250 2.0.0 OK\r\n"
    )


def test_bdat_rejected_by_application_ends_transaction() -> None:
    conn, _, out = run(
        TXN + b"RCPT TO:<d@e.f>\r\nBDAT 1\r\naBDAT 1 LAST\r\nb",
        respond=lambda c, e: (
            Reply(451, "4.3.0", "try later") if isinstance(e, Chunk) else accept_all(c, e)
        ),
    )
    assert out.endswith(b"451 4.3.0 try later\r\n503 5.5.1 Need MAIL command\r\n")


def test_bdat_eof_mid_chunk() -> None:
    _, events, _ = run([TXN + b"RCPT TO:<d@e.f>\r\nBDAT 10\r\nabc"], eof=True)
    assert events[-1] == ConnectionClosed()


# -------------------------------------------------------------------- LMTP


def test_lmtp_per_recipient_replies_after_data() -> None:
    conn = server(lmtp=True)

    def respond(c: ServerConnection, e: object) -> Reply | list[Reply]:
        if isinstance(e, MessageData):
            return [Reply(250, "2.1.5", "a ok"), Reply(452, "4.2.2", "b over quota")]
        return accept_all(c, e)  # type: ignore[arg-type]

    _, events, out = run(
        b"LHLO c\r\nMAIL FROM:<s@x.y>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\nDATA\r\nhi\r\n.\r\n",
        conn,
        respond=respond,
    )
    assert events[0] == Helo("c", extended=True, lmtp=True)
    assert out.endswith(
        b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.1.5 a ok\r\n452 4.2.2 b over quota\r\n"
    )
    assert conn.state is ServerState.READY


def test_lmtp_partial_replies_stay_paused() -> None:
    conn = server(lmtp=True)
    run(b"LHLO c\r\nMAIL FROM:<s@x.y>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\nDATA\r\n", conn)
    conn.receive_data(b"hi\r\n.\r\nNOOP\r\n")
    assert conn.next_event() == MessageData(b"hi\r\n")
    conn.send(Reply(250, "2.1.5", "a"))
    assert conn.next_event() is PAUSED
    conn.send(Reply(250, "2.1.5", "b"))
    assert conn.next_event() == Noop("")


def test_lmtp_only_refuses_helo_ehlo() -> None:
    _, _, out = run(b"HELO c\r\nEHLO c\r\n", server(lmtp=True))
    assert out.endswith(b"500 This is an LMTP server: use LHLO\r\n" * 2)


def test_lhlo_on_smtp_port_switches_to_lmtp() -> None:
    conn, _, _ = run(b"LHLO c\r\n")
    assert conn.lmtp


def test_lmtp_core_error_repeated_per_recipient() -> None:
    conn = server(lmtp=True, limits=Limits(max_message_size=3))
    _, _, out = run(
        b"LHLO c\r\nMAIL FROM:<s@x.y>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\nDATA\r\n123456\r\n.\r\n",
        conn,
    )
    assert out.endswith(b"552 5.3.4 Message size exceeds fixed maximum message size\r\n" * 2)


def test_lmtp_bdat_last_per_recipient() -> None:
    conn = server(lmtp=True)
    _, _, out = run(
        b"LHLO c\r\nMAIL FROM:<s@x.y>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\nBDAT 2\r\nhiBDAT 0 LAST\r\n",
        conn,
    )
    assert out.endswith(b"250 2.0.0 OK\r\n250 2.1.5 Delivered\r\n250 2.1.5 Delivered\r\n")


# -------------------------------------------------------------------- AUTH


def test_auth_plain_initial_response() -> None:
    conn, events, out = run(GREETED + b"AUTH plain AHUAcA==\r\nAUTH PLAIN\r\n")
    assert events[1] == Auth("PLAIN", b"\x00u\x00p")
    assert conn.authenticated
    assert out.endswith(
        b"235 2.7.0 Authentication successful\r\n503 5.5.1 Already authenticated\r\n"
    )


def test_auth_login_exchange() -> None:
    def respond(c: ServerConnection, e: object) -> Reply:
        if isinstance(e, Auth):
            return Reply(334, None, "VXNlcm5hbWU6")
        if isinstance(e, AuthResponse) and e.data == b"user":
            return Reply(334, None, "UGFzc3dvcmQ6")
        if isinstance(e, AuthResponse):
            return (
                Reply(535, "5.7.8", "bad credentials")
                if e.data != b"pw"
                else Reply(235, "2.7.0", "ok")
            )
        return accept_all(c, e)  # type: ignore[arg-type]

    conn, events, out = run(GREETED + b"AUTH LOGIN\r\ndXNlcg==\r\ncHc=\r\n", respond=respond)
    assert events[1:] == [Auth("LOGIN", None), AuthResponse(b"user"), AuthResponse(b"pw")]
    assert out.endswith(b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 ok\r\n")
    assert conn.authenticated and conn.state is ServerState.READY


def test_auth_cancel_and_bad_base64() -> None:
    def respond(c: ServerConnection, e: object) -> Reply:
        if isinstance(e, Auth):
            return Reply(334, None, "")
        if isinstance(e, AuthResponse):
            assert e.data is None
            return Reply(501, "5.7.0", "cancelled")
        return accept_all(c, e)  # type: ignore[arg-type]

    conn, events, out = run(GREETED + b"AUTH LOGIN\r\n*\r\nAUTH LOGIN\r\n!!!\r\n", respond=respond)
    assert out.endswith(b"334 \r\n501 5.7.0 cancelled\r\n334 \r\n501 5.5.2 Invalid base64 data\r\n")
    assert conn.state is ServerState.READY and not conn.authenticated


def test_auth_errors() -> None:
    _, _, out = run(
        GREETED + b"AUTH CRAM-MD5\r\nAUTH\r\nAUTH PLAIN a b\r\nAUTH PLAIN ***\r\nAUTH PLAIN =\r\n"
    )
    assert out.endswith(
        b"504 5.5.4 Unrecognized authentication type\r\n501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
        b"501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n501 5.5.2 Invalid base64 data\r\n"
        b"235 2.7.0 Authentication successful\r\n"
    )
    _, _, out = run(GREETED + b"AUTH PLAIN\r\n", server(extensions=Extensions()))
    assert out.endswith(b"502 5.5.1 Command not implemented\r\n")


def test_auth_line_may_be_long() -> None:
    token = b"QUFB" * 1000  # 4000 octets, over the 2048 command line limit
    _, events, _ = run(GREETED + b"AUTH PLAIN " + token + b"\r\n")
    assert events[-1] == Auth("PLAIN", b"AAA" * 1000)


def test_mail_auth_parameter_needs_auth_offer() -> None:
    _, _, out = run(GREETED + b"MAIL FROM:<a@b.c> AUTH=<>\r\n", server(extensions=Extensions()))
    assert out.endswith(b"555 5.5.4 Unsupported parameter AUTH\r\n")
    _, events, _ = run(GREETED + b"MAIL FROM:<a@b.c> AUTH=<>\r\n")
    assert events[-1].params.auth == "<>"


# ---------------------------------------------------------------- STARTTLS


def test_starttls_discards_pipelined_plaintext() -> None:
    conn = server()
    _, events, out = run(GREETED + b"STARTTLS\r\nMAIL FROM:<evil@x.y>\r\n", conn)
    assert events[-1] == StartTLS()
    assert out.endswith(b"220 2.0.0 Ready to start TLS\r\n")
    assert conn.state is ServerState.CONNECTED and conn.tls_active
    assert not conn.has_buffered_data
    # Under TLS the client must greet again; no trace of the injected MAIL.
    conn.receive_data(b"MAIL FROM:<a@b.c>\r\n")
    assert conn.next_event() == ProtocolError(Reply(503, "5.5.1", "Send HELO/EHLO first"))


def test_start_tls_done_reports_discarded_bytes() -> None:
    conn, _, _ = run(GREETED)
    conn.receive_data(b"STARTTLS\r\nRSET\r\n")
    assert conn.next_event() == StartTLS()
    conn.send(Reply(220, "2.0.0", "go"))
    assert conn.next_event() is PAUSED
    assert conn.start_tls_done() == len(b"RSET\r\n")
    with pytest.raises(LocalProtocolError):
        conn.start_tls_done()


def test_starttls_refused_and_repeated() -> None:
    conn, _, out = run(
        GREETED + b"STARTTLS\r\n",
        respond=lambda c, e: (
            Reply(454, "4.7.0", "TLS not available")
            if isinstance(e, StartTLS)
            else accept_all(c, e)
        ),
    )
    assert conn.state is ServerState.READY and not conn.tls_active
    conn = server(tls_active=True)
    _, _, out = run(GREETED + b"STARTTLS\r\n", conn)
    assert out.endswith(b"503 5.5.1 TLS already active\r\n")
    _, _, out = run(GREETED + b"STARTTLS\r\n", server(extensions=Extensions()))
    assert out.endswith(b"502 5.5.1 Command not implemented\r\n")


def test_starttls_positive_reply_must_be_220() -> None:
    conn, _, _ = run(GREETED)
    conn.receive_data(b"STARTTLS\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply(250, "2.0.0", "ok"))


def test_starttls_resets_session() -> None:
    conn, _, _ = run(GREETED + b"AUTH PLAIN AHUAcA==\r\nSTARTTLS\r\n")
    assert not conn.authenticated and not conn.extended and conn.helo_name is None


# -------------------------------------------------------------- line limits


def test_command_line_too_long_then_resync() -> None:
    conn = server(limits=Limits(max_command_line=64, max_extended_command_line=100))
    _, events, out = run([b"NOOP " + b"x" * 70 + b"\r\nNOOP\r\n"], conn)
    assert events == [ProtocolError(Reply(500, "5.5.2", "Line too long")), Noop("")]
    assert out == BANNER + b"500 Line too long\r\n250 OK\r\n"


def test_ten_megabyte_command_line_is_not_buffered() -> None:
    conn = server()
    conn.send(Reply(220, None, "x"))
    conn.receive_data(b"EHLO c\r\n")
    conn.next_event()
    conn.send(conn.ehlo_reply())
    events = []
    for _ in range(160):  # 10 MB in 64 KiB reads
        conn.receive_data(b"A" * 65536)
        while (event := conn.next_event()) not in (NEED_DATA,):
            events.append(event)
            conn.send(event.reply)  # type: ignore[union-attr]
        assert len(conn._buf) <= 65536  # never more than one read buffered
    conn.receive_data(b"AAAA\r\nNOOP\r\n")
    assert conn.next_event() == Noop("")
    assert events == [ProtocolError(Reply(500, "5.5.2", "Line too long"))]


def test_too_many_bad_commands_421() -> None:
    conn = server(limits=Limits(max_bad_commands=3))
    _, events, out = run(GREETED + b"BAD\r\nBAD\r\nBAD\r\nNOOP\r\n", conn)
    assert events[-1] == ProtocolError(
        Reply(421, "4.7.0", "mx.test Too many errors, closing connection"), fatal=True
    )
    assert out.endswith(
        b"500 5.5.2 Command unrecognized\r\n" * 2
        + b"421 4.7.0 mx.test Too many errors, closing connection\r\n"
    )
    assert conn.state is ServerState.CLOSED


# -------------------------------------------------------------- pipelining


def test_pipelined_group_replies_in_order() -> None:
    _, events, out = run(
        GREETED
        + b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<>\r\nRCPT TO:<y@b.c>\r\nDATA\r\n"
    )
    assert [type(e) for e in events] == [Helo, MailFrom, RcptTo, ProtocolError, RcptTo, DataStart]
    assert out.endswith(
        b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n501 5.1.3 Bad recipient address syntax: null path not allowed here\r\n"
        b"250 2.0.0 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    )


def test_paused_until_reply() -> None:
    conn, _, _ = run(GREETED)
    conn.receive_data(b"NOOP\r\nNOOP\r\n")
    assert conn.next_event() == Noop("")
    assert conn.next_event() is PAUSED
    assert conn.send(Reply(250, "2.0.0", "OK")) == b"250 2.0.0 OK\r\n"
    assert conn.next_event() == Noop("")


def test_intermediate_reply_to_mail_is_local_error() -> None:
    conn, _, _ = run(GREETED)
    conn.receive_data(b"MAIL FROM:<>\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply(354, None, "no"))


def test_events_are_frozen() -> None:
    event = Helo("x", True)
    with pytest.raises(AttributeError):
        event.name = "y"  # type: ignore[misc]
