"""ServerConnection framing: literals, continuation, TOOBIG skipping, IDLE, SASL, fuzz."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_imap.protocol import (
    NEED_DATA,
    Append,
    ConnectionClosed,
    ContinuationRequest,
    Idle,
    IdleDone,
    Limits,
    Login,
    Noop,
    ParseError,
    ReadState,
    SaslResponse,
    ServerConnection,
)
from unigate_imap.protocol.commands import Command


def drain(conn: ServerConnection, data: bytes = b"") -> list[object]:
    if data:
        conn.receive_data(data)
    out = []
    while True:
        ev = conn.next_event()
        if ev is NEED_DATA:
            return out
        out.append(ev)
        if isinstance(ev, ConnectionClosed):
            return out


def test_pipelined_commands_and_partial_lines() -> None:
    conn = ServerConnection()
    assert drain(conn, b"a1 NO") == []
    assert drain(conn, b"OP\r\na2 NOOP\r\n\r\na3 NO") == [Noop("a1"), Noop("a2")]
    assert drain(conn, b"OP\r\n") == [Noop("a3")]


def test_synchronizing_literal_gets_continuation() -> None:
    conn = ServerConnection()
    assert drain(conn, b"a LOGIN {3}\r\n") == [ContinuationRequest(b"+ Ready\r\n")]
    assert drain(conn, b"bo") == []
    assert drain(conn, b"b {2+}\r\npw\r\n") == [Login("a", "bob", "pw")]


def test_literal_plus_needs_no_continuation() -> None:
    conn = ServerConnection()
    events = drain(conn, b"a APPEND INBOX {5+}\r\nhello {3+}\r\nabc\r\n")
    assert len(events) == 1 and isinstance(events[0], Append)
    assert [m.data for m in events[0].messages] == [b"hello", b"abc"]


def test_sync_literal_too_big_is_refused_without_continuation() -> None:
    conn = ServerConnection(Limits(max_literal_size=10))
    assert drain(conn, b"a APPEND INBOX {11}\r\nb NOOP\r\n") == [
        ParseError("a", b"a NO [TOOBIG] literal too large\r\n"),
        Noop("b"),
    ]


def test_nonsync_literal_too_big_is_skipped_not_buffered() -> None:
    conn = ServerConnection(Limits(max_literal_size=10))
    assert drain(conn, b"a APPEND INBOX {20+}\r\n0123456789") == [
        ParseError("a", b"a NO [TOOBIG] literal too large\r\n"),
    ]
    assert conn.trailing_data == (b"", False)  # skipped bytes are not kept
    assert drain(conn, b"0123456789 {5+}\r\nabcde trailing\r\nb NOOP\r\n") == [Noop("b")]


def test_literal_minus_limit_gives_bad() -> None:
    conn = ServerConnection(Limits(max_literal_plus=4096))
    events = drain(conn, b"a APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\nb NOOP\r\n")
    assert events == [ParseError("a", b"a BAD [TOOBIG] literal too large\r\n"), Noop("b")]


def test_line_too_long_is_discarded() -> None:
    conn = ServerConnection(Limits(max_line_length=64))
    events = drain(conn, b"a SEARCH " + b"X" * 100)
    assert events == [ParseError("a", b"a BAD line too long\r\n")]
    assert len(conn.trailing_data[0]) <= 32
    assert drain(conn, b"Y" * 1000 + b"\r\nb NOOP\r\n") == [Noop("b")]


def test_bad_command_then_recovery() -> None:
    conn = ServerConnection()
    assert drain(conn, b"a FETCH x\r\nb NOOP\r\n") == [
        ParseError("a", b"a BAD empty sequence set\r\n"),
        Noop("b"),
    ]


def test_idle_done() -> None:
    conn = ServerConnection()
    assert drain(conn, b"a IDLE\r\n") == [Idle("a")]
    conn.start_idle()
    assert conn.state is ReadState.IDLE
    assert drain(conn, b"done\r\nb NOOP\r\n") == [IdleDone(True), Noop("b")]
    conn.start_idle()
    assert drain(conn, b"c NOOP\r\n") == [IdleDone(False)]
    assert conn.state is ReadState.COMMAND


def test_sasl_lines() -> None:
    conn = ServerConnection()
    conn.expect_sasl_response()
    assert drain(conn, b"AGJvYgBwdw==\r\n") == [SaslResponse(b"\0bob\0pw")]
    conn.expect_sasl_response()
    assert drain(conn, b"*\r\n") == [SaslResponse(cancelled=True)]
    conn.expect_sasl_response()
    assert drain(conn, b"!!\r\n") == [SaslResponse(malformed=True)]


def test_eof_and_discard_buffered() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a STARTTLS\r\ninjected NOOP\r\n")
    assert conn.next_event() is not NEED_DATA
    assert conn.discard_buffered() == len(b"injected NOOP\r\n")
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ReadState.CLOSED


_ALLOWED = (Command, ContinuationRequest, ParseError, IdleDone, SaslResponse, ConnectionClosed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_fuzz_arbitrary_bytes(chunks: list[bytes]) -> None:
    conn = ServerConnection(Limits(max_line_length=256, max_literal_size=64))
    for chunk in chunks:
        for ev in drain(conn, chunk):
            assert isinstance(ev, _ALLOWED)
    conn.receive_data(b"")
    assert drain(conn)[-1] == ConnectionClosed()


_WORDS = st.sampled_from(
    [
        b"a",
        b"UID",
        b"FETCH",
        b"SEARCH",
        b"1:*",
        b"(",
        b")",
        b"[",
        b"]",
        b"BODY[",
        b"{3}\r\n",
        b"{2+}\r\n",
        b"~{1}\r\n",
        b'"',
        b"\\",
        b"NOT",
        b"OR",
        b"ALL",
        b"$",
        b"*",
        b"HEADER.FIELDS",
        b"<0.5>",
        b"APPEND",
        b"x",
        b"SORT",
        b"THREAD",
        b"LIST",
        b"RETURN",
        b"STATUS",
        b"NOTIFY",
        b"SET",
        b"SELECT",
        b"QRESYNC",
        b"CHARSET",
        b"UTF-8",
        b"\xff",
        b"\x00",
    ]
)


_COMMANDS = st.sampled_from(
    [
        b"UID FETCH",
        b"FETCH",
        b"UID SEARCH",
        b"SEARCH",
        b"SORT",
        b"THREAD",
        b"LIST",
        b"STATUS",
        b"APPEND",
        b"SELECT",
        b"STORE",
        b"NOTIFY SET",
        b"ID",
        b"SETQUOTA",
        b"REPLACE",
        b"LOGIN",
        b"AUTHENTICATE",
        b"ENABLE",
        b"CREATE",
        b"COPY",
        b"UID EXPUNGE",
        b"SETACL",
    ]
)


@settings(max_examples=500, deadline=None)
@given(_COMMANDS, st.lists(_WORDS, max_size=30), st.sampled_from([b" ", b""]))
def test_fuzz_grammar_shaped(command: bytes, words: list[bytes], sep: bytes) -> None:
    conn = ServerConnection(Limits(max_depth=8, max_tokens=50))
    line = b"t " + command + b" " + sep.join(words) + b"\r\n" + b"abc" * 3 + b"\r\n"
    for ev in drain(conn, line):
        assert isinstance(ev, _ALLOWED)


def test_command_size_limit_over_many_literals() -> None:
    conn = ServerConnection(Limits(max_command_size=40, max_literal_size=30))
    events = drain(conn, b"a APPEND x {30+}\r\n" + b"y\r\n" * 10 + b"\r\nb NOOP\r\n")
    assert events == [ParseError("a", b"a NO [TOOBIG] literal too large\r\n"), Noop("b")]
    # the limit crossed by a line that announces a literal: its bytes are skipped too
    events = drain(conn, b"c APPEND x {20+}\r\n" + b"y" * 20 + b" {20+}\r\n")
    assert events == [ParseError("c", b"c BAD command too long\r\n")]
    assert drain(conn, b"z\r\n" * 6 + b"zz\r\nd NOOP\r\n") == [Noop("d")]
    conn = ServerConnection(Limits(max_command_size=40, max_line_length=100))
    events = drain(conn, b"a APPEND x {1+}\r\n1 " + b"(" * 45 + b"\r\nc NOOP\r\n")
    assert events == [ParseError("a", b"a BAD command too long\r\n"), Noop("c")]
