"""The sans-I/O POP3 core, byte for byte: parsing, sequencing, limits, STLS and SASL states."""

from __future__ import annotations

import base64

import pytest

from unigate_pop.protocol import (
    NEED_DATA,
    PAUSED,
    Apop,
    Auth,
    AuthList,
    AuthResponse,
    Capa,
    Challenge,
    ConnectionClosed,
    Dele,
    Last,
    Limits,
    List,
    LocalProtocolError,
    Noop,
    Pass,
    PopState,
    ProtocolError,
    Quit,
    Retr,
    Rset,
    ServerConnection,
    Stat,
    Stls,
    Top,
    Uidl,
    Unknown,
    User,
    err,
    listing,
    ok,
)


def greeted(**kwargs) -> ServerConnection:
    conn = ServerConnection(**kwargs)
    assert conn.next_event() is PAUSED  # the greeting is due first
    assert conn.send(ok("ready <1.2@host>")) == b"+OK ready <1.2@host>\r\n"
    assert conn.state is PopState.AUTHORIZATION
    return conn


def feed(conn: ServerConnection, data: bytes):
    conn.receive_data(data)
    return conn.next_event()


def logged_in() -> ServerConnection:
    conn = greeted()
    assert feed(conn, b"USER bob\r\n") == User("bob")
    assert conn.send(ok("send pass")) == b"+OK send pass\r\n"
    assert feed(conn, b"PASS pw\r\n") == Pass("bob", "pw")
    conn.send(ok("2 message(s)"))
    assert conn.state is PopState.TRANSACTION
    return conn


def test_greeting_err_closes() -> None:
    conn = ServerConnection()
    assert conn.send(err("go away")) == b"-ERR go away\r\n"
    assert conn.state is PopState.CLOSED
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_user_pass_login_and_quit_with_update() -> None:
    conn = logged_in()
    assert feed(conn, b"DELE 1\r\n") == Dele(1)
    assert conn.send(ok("message 1 deleted")) == b"+OK message 1 deleted\r\n"
    assert feed(conn, b"QUIT\r\n") == Quit(update=True)
    assert conn.state is PopState.UPDATE
    assert conn.send(ok("bye")) == b"+OK bye\r\n"
    assert conn.state is PopState.CLOSED
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_quit_in_authorization_has_no_update() -> None:
    conn = greeted()
    assert feed(conn, b"quit\r\n") == Quit(update=False)
    conn.send(ok("bye"))
    assert conn.state is PopState.CLOSED


def test_failed_pass_returns_to_authorization_and_needs_user_again() -> None:
    conn = greeted()
    feed(conn, b"USER bob\r\n")
    conn.send(ok())
    assert conn.user == "bob"
    assert feed(conn, b"PASS wrong one\r\n") == Pass("bob", "wrong one")  # spaces kept
    assert conn.send(err("bad", code=None)) == b"-ERR bad\r\n"
    assert conn.state is PopState.AUTHORIZATION
    event = feed(conn, b"PASS again\r\n")
    assert isinstance(event, ProtocolError)
    assert conn.send(event.reply) == b"-ERR send USER first\r\n"


def test_rejected_user_does_not_allow_pass() -> None:
    conn = greeted()
    feed(conn, b"USER bob\r\n")
    conn.send(err("clear-text logins are disabled"))
    event = feed(conn, b"PASS pw\r\n")
    assert isinstance(event, ProtocolError)


def test_commands_parse_to_events() -> None:
    conn = logged_in()
    cases = [
        (b"STAT\r\n", Stat()),
        (b"LIST\r\n", List(None)),
        (b"list 2\r\n", List(2)),
        (b"UIDL\r\n", Uidl(None)),
        (b"UIDL 12\r\n", Uidl(12)),
        (b"RETR 1\r\n", Retr(1)),
        (b"TOP 1 0\r\n", Top(1, 0)),
        (b"TOP 3 10\n", Top(3, 10)),  # a bare LF ends a line too
        (b"DELE 2\r\n", Dele(2)),
        (b"NOOP\r\n", Noop()),
        (b"RSET\r\n", Rset()),
        (b"LAST\r\n", Last()),
        (b"CAPA\r\n", Capa()),
        (b"XTND XMIT\r\n", Unknown("XTND", "XMIT")),
    ]
    for line, expected in cases:
        assert feed(conn, line) == expected
        conn.send(ok())


def test_authorization_commands() -> None:
    conn = greeted()
    digest = "c4c9334bac560ecc979e58001b3e22fb"
    assert feed(conn, f"APOP mrose {digest.upper()}\r\n".encode()) == Apop("mrose", digest)
    conn.send(err("no"))
    assert feed(conn, b"AUTH\r\n") == AuthList()
    assert conn.send(listing("mechanisms", ["PLAIN"])) == b"+OK mechanisms\r\nPLAIN\r\n.\r\n"
    assert feed(conn, b"CAPA\r\n") == Capa()
    conn.send(ok())
    assert feed(conn, b"STLS\r\n") == Stls()


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"\r\n", b"-ERR empty command\r\n"),
        (b"RETR\r\n", b"-ERR RETR needs one message number\r\n"),
        (b"RETR 0\r\n", b"-ERR message numbers start at 1\r\n"),
        (b"RETR -1\r\n", b"-ERR invalid number '-1'\r\n"),
        (b"RETR x\r\n", b"-ERR invalid number 'x'\r\n"),
        (b"RETR 12345678901\r\n", b"-ERR invalid number '12345678901'\r\n"),
        (b"LIST 1 2\r\n", b"-ERR LIST takes at most one message number\r\n"),
        (b"TOP 1\r\n", b"-ERR TOP needs a message number and a line count\r\n"),
        (b"STAT now\r\n", b"-ERR STAT takes no arguments\r\n"),
        (b"USER bob\r\n", b"-ERR USER is not valid in this state\r\n"),
        (b"STLS\r\n", b"-ERR STLS is not valid in this state\r\n"),
        (b"RETR \x001\r\n", b"-ERR invalid characters in the command line\r\n"),
    ],
)
def test_transaction_errors_byte_for_byte(line: bytes, reply: bytes) -> None:
    conn = logged_in()
    event = feed(conn, line)
    assert isinstance(event, ProtocolError) and not event.fatal
    assert conn.send(event.reply) == reply
    assert conn.state is PopState.TRANSACTION


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"STAT\r\n", b"-ERR STAT is not valid in this state\r\n"),
        (b"USER\r\n", b"-ERR USER needs one name\r\n"),
        (b"APOP bob nothex\r\n", b"-ERR APOP needs a name and an MD5 digest\r\n"),
        (b"AUTH PLAIN !!!\r\n", b"-ERR invalid base64 data\r\n"),
        (b"AUTH PL@IN\r\n", b"-ERR invalid mechanism name\r\n"),
        (
            b"AUTH PLAIN a b\r\n",
            b"-ERR AUTH takes a mechanism and an optional initial response\r\n",
        ),
    ],
)
def test_authorization_errors_byte_for_byte(line: bytes, reply: bytes) -> None:
    conn = greeted()
    event = feed(conn, line)
    assert isinstance(event, ProtocolError)
    assert conn.send(event.reply) == reply
    assert conn.state is PopState.AUTHORIZATION


def test_one_reply_per_command_and_pipelining_in_order() -> None:
    conn = logged_in()
    conn.receive_data(b"STAT\r\nLIST 1\r\nNOOP\r\n")
    assert conn.next_event() == Stat()
    assert conn.next_event() is PAUSED
    conn.send(ok("2 10"))
    assert conn.next_event() == List(1)
    conn.send(ok("1 5"))
    assert conn.next_event() == Noop()
    conn.send(ok())
    assert conn.next_event() is NEED_DATA


def test_partial_lines_wait_for_more_data() -> None:
    conn = logged_in()
    for piece in (b"RE", b"TR", b" 1\r"):
        assert feed(conn, piece) is NEED_DATA
    assert feed(conn, b"\n") == Retr(1)


def test_send_without_pending_command_is_a_local_error() -> None:
    conn = logged_in()
    with pytest.raises(LocalProtocolError):
        conn.send(ok())
    feed(conn, b"STAT\r\n")
    with pytest.raises(LocalProtocolError):
        conn.send(Challenge(b"x"))


def test_reply_text_must_not_contain_line_breaks() -> None:
    with pytest.raises(LocalProtocolError):
        ok("a\r\nb")
    with pytest.raises(LocalProtocolError):
        listing("x", ["ok", "bad\nline"])


def test_command_line_limit_255_octets() -> None:
    conn = greeted()
    exact = b"USER " + b"a" * 248 + b"\r\n"  # 255 octets with CRLF
    assert len(exact) == 255
    assert feed(conn, exact) == User("a" * 248)
    conn.send(err("no"))
    event = feed(conn, b"USER " + b"a" * 249 + b"\r\n")
    assert isinstance(event, ProtocolError)
    assert conn.send(event.reply) == b"-ERR command line too long\r\n"


def test_overlong_line_without_end_is_dropped_then_parsing_resumes() -> None:
    conn = greeted()
    event = feed(conn, b"X" * 300)
    assert isinstance(event, ProtocolError)
    assert conn.send(event.reply) == b"-ERR command line too long\r\n"
    assert feed(conn, b"Y" * 1000) is NEED_DATA  # still inside the long line: dropped
    assert feed(conn, b"ZZ\r\nCAPA\r\n") == Capa()


def test_too_many_errors_close_the_connection() -> None:
    conn = greeted(limits=Limits(max_errors=3))
    for _ in range(2):
        event = feed(conn, b"BOGUS\r\n")
        assert isinstance(event, Unknown)
        conn.send(err("unknown command"))
    event = feed(conn, b"STAT\r\n")
    assert isinstance(event, ProtocolError) and event.fatal
    assert conn.send(event.reply) == b"-ERR too many errors, closing connection\r\n"
    assert conn.state is PopState.CLOSED


def test_unknown_commands_alone_reach_the_error_limit() -> None:
    conn = greeted(limits=Limits(max_errors=2))
    assert isinstance(feed(conn, b"BOGUS\r\n"), Unknown)
    conn.send(err("unknown command"))
    event = feed(conn, b"BOGUS\r\n")
    assert isinstance(event, ProtocolError) and event.fatal
    conn.send(event.reply)
    assert conn.state is PopState.CLOSED


def test_eof_after_pipelined_commands_still_delivers_them() -> None:
    conn = logged_in()
    conn.receive_data(b"DELE 1\r\nQUIT\r\nNOOP")
    conn.receive_data(b"")
    assert conn.next_event() == Dele(1)
    conn.send(ok())
    assert conn.next_event() == Quit(update=True)
    conn.send(ok())
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_eof_mid_session_is_connection_closed_without_update() -> None:
    conn = logged_in()
    conn.receive_data(b"DELE 1\r\n")
    assert conn.next_event() == Dele(1)
    conn.send(ok())
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)
    assert conn.state is PopState.CLOSED


def test_stls_discards_pipelined_plaintext_and_resets() -> None:
    conn = greeted()
    conn.receive_data(b"STLS\r\nUSER evil\r\nPASS injected\r\n")
    assert conn.next_event() == Stls()
    assert conn.send(ok("begin TLS")) == b"+OK begin TLS\r\n"
    assert conn.state is PopState.STARTTLS
    assert conn.next_event() is PAUSED
    conn.receive_data(b"more plaintext\r\n")
    conn.start_tls_done()
    assert conn.tls_active and conn.state is PopState.AUTHORIZATION
    assert conn.next_event() is NEED_DATA  # nothing of the plaintext survived
    event = feed(conn, b"STLS\r\n")
    assert isinstance(event, ProtocolError)
    assert conn.send(event.reply) == b"-ERR TLS is already active\r\n"


def test_stls_refused_keeps_state() -> None:
    conn = greeted()
    feed(conn, b"STLS\r\n")
    conn.send(err("STLS is not available"))
    assert conn.state is PopState.AUTHORIZATION
    with pytest.raises(LocalProtocolError):
        conn.start_tls_done()


def test_sasl_exchange_with_challenges() -> None:
    conn = greeted()
    assert feed(conn, b"AUTH SCRAM-SHA-256\r\n") == Auth("SCRAM-SHA-256", None)
    assert conn.send(Challenge(b"")) == b"+ \r\n"
    assert conn.state is PopState.SASL
    response = base64.b64encode(b"n,,n=bob,r=abc")
    assert feed(conn, response + b"\r\n") == AuthResponse(b"n,,n=bob,r=abc")
    assert conn.send(Challenge(b"r=abcdef")) == b"+ " + base64.b64encode(b"r=abcdef") + b"\r\n"
    assert feed(conn, b"\r\n") == AuthResponse(b"")
    conn.send(ok("logged in"))
    assert conn.state is PopState.TRANSACTION


def test_sasl_initial_response_and_failure() -> None:
    conn = greeted()
    assert feed(conn, b"AUTH PLAIN =\r\n") == Auth("PLAIN", b"")
    conn.send(err("[AUTH] no"))
    conn2 = greeted()
    token = base64.b64encode(b"\0bob\0pw")
    assert feed(conn2, b"auth plain " + token + b"\r\n") == Auth("PLAIN", b"\0bob\0pw")


def test_sasl_cancel_and_malformed_responses() -> None:
    conn = greeted()
    feed(conn, b"AUTH LOGIN\r\n")
    conn.send(Challenge(b"Username:"))
    assert feed(conn, b"*\r\n") == AuthResponse(None)
    conn.send(err("authentication cancelled"))
    assert conn.state is PopState.AUTHORIZATION
    feed(conn, b"AUTH LOGIN\r\n")
    conn.send(Challenge(b"Username:"))
    assert feed(conn, b"not base64!\r\n") == AuthResponse(None, malformed=True)
    conn.send(err("invalid base64 data"))
    assert conn.state is PopState.AUTHORIZATION


def test_sasl_responses_may_exceed_the_command_limit_but_not_their_own() -> None:
    conn = greeted(limits=Limits(max_command_line=255, max_auth_line=1024))
    feed(conn, b"AUTH PLAIN\r\n")
    conn.send(Challenge())
    long = base64.b64encode(b"x" * 600)
    assert feed(conn, long + b"\r\n") == AuthResponse(b"x" * 600)
    conn.send(Challenge())
    assert feed(conn, b"A" * 2000) == AuthResponse(None, malformed=True)
    conn.send(err("invalid base64 data"))
    assert feed(conn, b"AAAA\r\nCAPA\r\n") == Capa()
