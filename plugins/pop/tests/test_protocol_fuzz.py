"""Hypothesis: no input crashes or hangs the POP3 core, and byte-stuffing round-trips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_pop.protocol import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    Challenge,
    ConnectionClosed,
    Limits,
    PopState,
    ProtocolError,
    Quit,
    ServerConnection,
    Stls,
    dot_stuff,
    err,
    normalize_crlf,
    ok,
    top_of,
)

WORDS = [
    b"USER bob",
    b"PASS pw",
    b"APOP bob 0123456789abcdef0123456789abcdef",
    b"AUTH",
    b"AUTH PLAIN",
    b"AUTH PLAIN AGJvYgBwdw==",
    b"STLS",
    b"CAPA",
    b"STAT",
    b"LIST",
    b"LIST 1",
    b"UIDL 2",
    b"RETR 1",
    b"TOP 1 5",
    b"DELE 1",
    b"NOOP",
    b"RSET",
    b"LAST",
    b"QUIT",
    b"*",
    b"=",
    b"",
    b"XTND XMIT",
    b"RETR 99999999999",
    b"\x00\xff",
    b"A" * 300,
]

chunk = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(WORDS).map(lambda w: w + b"\r\n"),
    st.sampled_from(WORDS),
    st.just(b"\n"),
)


def drive(chunks: list[bytes], choices: list[int]) -> None:
    conn = ServerConnection(limits=Limits(max_command_line=64, max_auth_line=256, max_errors=50))
    assert conn.send(ok("ready")).endswith(b"\r\n")
    pick = iter(choices * 1000)
    pending = list(chunks) + [b""]
    steps = 0
    while True:
        steps += 1
        assert steps < 10_000, "the core does not make progress"
        event = conn.next_event()
        if event is NEED_DATA:
            if not pending:
                raise AssertionError("NEED_DATA after end of stream")
            conn.receive_data(pending.pop(0))
            continue
        if event is PAUSED:
            assert conn.state is PopState.STARTTLS
            conn.start_tls_done()
            continue
        if isinstance(event, ConnectionClosed):
            assert conn.state is PopState.CLOSED
            return
        if isinstance(event, ProtocolError):
            out = conn.send(event.reply)
        elif isinstance(event, (Auth, AuthResponse)):
            out = conn.send([ok(), err("no"), Challenge(b"c")][next(pick) % 3])
        elif isinstance(event, (Stls, Quit)):
            out = conn.send([ok(), err("no")][next(pick) % 2])
        else:
            out = conn.send([ok("x"), err("no")][next(pick) % 2])
        assert out.endswith(b"\r\n")
        if conn.state is PopState.CLOSED:
            return


@settings(max_examples=300, deadline=None)
@given(st.lists(chunk, max_size=40), st.lists(st.integers(0, 5), min_size=1, max_size=10))
def test_no_input_crashes_or_hangs_the_core(chunks: list[bytes], choices: list[int]) -> None:
    drive(chunks, choices)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_in_one_piece(data: bytes) -> None:
    drive([data], [0, 1])


def unstuff(wire: bytes) -> bytes:
    lines = wire.split(b"\r\n")
    assert lines[-1] == b""
    assert all(line != b"." for line in lines[:-1]), "a bare dot line would end the response early"
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines[:-1])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500).map(lambda b: b.replace(b"\r", b"")))
def test_dot_stuffing_round_trips(data: bytes) -> None:
    wire = dot_stuff(data)
    expected = normalize_crlf(data)
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert (unstuff(wire) if wire else b"") == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500), st.integers(0, 20))
def test_top_is_a_prefix_of_the_message(data: bytes, lines: int) -> None:
    assert normalize_crlf(data).startswith(top_of(data, lines))
