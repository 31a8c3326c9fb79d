"""DATA transparency and chunking: dot-stuffing edge cases, limits, any split of the input."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unigate_smtp.protocol import (
    NEED_DATA,
    DotReader,
    Extensions,
    Limits,
    MessageData,
    ProtocolError,
    Reply,
    ServerConnection,
    dot_stuff,
)
from unigate_smtp.protocol.dotstuff import _has_long_run
from unigate_smtp.protocol.harness import drive


def read(parts: list[bytes], **kw: int | None) -> tuple[DotReader, bytes | None]:
    kw.setdefault("max_size", None)
    kw.setdefault("max_line", None)
    reader = DotReader(**kw)  # type: ignore[arg-type]
    leftover = None
    for part in parts:
        assert leftover is None, "terminator seen before the last part"
        leftover = reader.feed(part)
    return reader, leftover


def test_empty_message() -> None:
    reader, leftover = read([b".\r\n"])
    assert reader.message == b"" and leftover == b""


def test_terminator_split_at_every_position() -> None:
    wire = b"line1\r\n..dots\r\n.\r\nNOOP\r\n"
    for cut in range(1, len(wire)):
        reader, leftover = read([wire[:cut], wire[cut:]]) if cut < 17 else (None, None)
        if reader is None:
            continue
        assert reader.message == b"line1\r\n.dots\r\n", cut
        assert leftover == b"NOOP\r\n"


def test_one_byte_at_a_time() -> None:
    wire = b"..\r\n.x\r\n\r\n.\r\nQUIT\r\n"
    reader = DotReader(max_size=None, max_line=None)
    leftover = None
    for i in range(len(wire)):
        leftover = reader.feed(wire[i : i + 1])
        if leftover is not None:
            assert wire[i + 1 :] == b"QUIT\r\n"
            break
    assert reader.message == b".\r\nx\r\n\r\n"


def test_double_dot_lines_and_leading_dot() -> None:
    reader, _ = read([b"..\r\n...\r\n..x\r\n.y\r\n.\r\n"])
    assert reader.message == b".\r\n..\r\n.x\r\ny\r\n"


def test_data_not_ending_with_crlf_before_dot_is_not_end() -> None:
    # "text.\r\n" is not CRLF "." CRLF; neither is a bare LF before the dot (smuggling).
    reader, leftover = read([b"text.\r\nbare\n.\r\nstill\r\n"])
    assert leftover is None
    leftover = reader.feed(b".\r\n")
    assert reader.message == b"text.\r\nbare\n.\r\nstill\r\n"
    reader, leftover = read([b"a\r\n.\n", b"b\r\n.\r\n"])
    assert reader.message == b"a\r\n\nb\r\n"  # ".\n" is an ordinary dot line, unstuffed


def test_cr_dot_cr_lf_is_not_end() -> None:
    reader, leftover = read([b"a\r.\r\nb\r\n.\r\n"])
    assert reader.message == b"a\r.\r\nb\r\n"


def test_size_limit_counts_unstuffed_octets() -> None:
    reader, _ = read([b"..\r\n" * 5 + b".\r\n"], max_size=15)  # 15 octets unstuffed, 20 on the wire
    assert reader.error is None and len(reader.message or b"") == 15
    reader, _ = read([b"..\r\n" * 5, b"x\r\n.\r\n"], max_size=15)
    assert reader.error is not None and reader.error.code == 552


def test_oversized_message_is_not_buffered() -> None:
    reader = DotReader(max_size=1000, max_line=None)
    for _ in range(100):
        assert reader.feed(b"x" * 1000 + b"\r\n") is None
        assert len(reader._raw) <= 1002 + 4
    assert reader.feed(b"\r\n.\r\nRSET\r\n") == b"RSET\r\n"
    assert reader.message is None
    assert reader.error == Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")


def test_text_line_limit() -> None:
    ok = b"x" * 998 + b"\r\n"
    reader, _ = read([ok, b"." + ok, b".\r\n"], max_line=1000)
    assert reader.error is None  # 1000 octets, and 1001 with a stuffed dot
    reader, _ = read([b"a\r\n" + b"x" * 1000 + b"\r\nb\r\n.\r\n"], max_line=1000)
    assert reader.error == Reply(500, "5.5.2", "Line too long")
    reader, _ = read([b"x" * 600, b"x" * 600, b"\r\n.\r\n"], max_line=1000)  # across reads
    assert reader.error is not None


def test_ten_megabyte_line_in_data_is_not_buffered() -> None:
    conn = ServerConnection(hostname="mx.test", limits=Limits(max_message_size=None))
    script = b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"
    events, _ = drive(conn, [script])
    peak = 0
    for _ in range(160):
        conn.receive_data(b"A" * 65536)
        assert conn.next_event() is NEED_DATA
        peak = max(peak, len(conn._data._raw))  # type: ignore[union-attr]
    assert peak <= 65536 + 8
    conn.receive_data(b"\r\n.\r\nNOOP\r\n")
    assert conn.next_event() == ProtocolError(Reply(500, "5.5.2", "Line too long"))
    conn.send(Reply(500, "5.5.2", "Line too long"))
    assert conn.bad_commands == 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(min_value=3, max_value=40))
def test_has_long_run_matches_naive(data: bytes, limit: int) -> None:
    data = data.replace(b"\x00", b"\n")
    buf = bytearray(data)
    naive = any(len(run) >= limit for run in data.split(b"\n"))
    assert _has_long_run(buf, 0, len(buf), limit) == naive


@settings(max_examples=300)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_stuff_then_read_roundtrip_any_split(message: bytes, cuts: list[int]) -> None:
    wire = dot_stuff(message) + b"NEXT"
    expected = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    points = sorted({c for c in cuts if c < len(wire)} | {0, len(wire)})
    reader = DotReader(max_size=None, max_line=None)
    leftover = None
    for a, b in zip(points, points[1:], strict=False):
        leftover = reader.feed(wire[a:b])
        if leftover is not None:
            leftover += wire[b:]
            break
    assert reader.message == expected
    assert leftover == b"NEXT"


def test_dot_stuff_bytes() -> None:
    assert dot_stuff(b"") == b".\r\n"
    assert dot_stuff(b".") == b"..\r\n.\r\n"
    assert dot_stuff(b"a\r\n.\r\nb") == b"a\r\n..\r\nb\r\n.\r\n"
    assert dot_stuff(b"a\n.b\rc\r\n") == b"a\r\n..b\r\nc\r\n.\r\n"


def test_large_message_is_fast() -> None:
    line = b"x" * 76 + b"\r\n"
    body = (line + b"..dotted\r\n") * 120_000  # ~10 MB, 240k lines
    reader = DotReader(max_size=20 * 1024 * 1024, max_line=1000)
    start = time.perf_counter()
    for i in range(0, len(body), 65536):
        assert reader.feed(body[i : i + 65536]) is None
    assert reader.feed(b".\r\n") == b""
    elapsed = time.perf_counter() - start
    assert reader.message is not None and len(reader.message) == len(body) - 120_000
    assert elapsed < 1.0, elapsed  # typically ~0.05 s: no per-line Python work


# ------------------------------------------------- whole-session chunking property

SESSION = (
    b"EHLO client.example\r\n"
    b"MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\n"
    b"RCPT TO:<c@d.example> NOTIFY=FAILURE\r\n"
    b"RCPT TO:<>\r\n"
    b"BOGUS\r\n"
    b"RCPT TO:<e@d.example>\r\n"
    b"DATA\r\n"
    b"Subject: hi\r\n\r\n..leading\r\n.\r\r\n\r\n.\r\n"
    b"MAIL FROM:<>\r\n"
    b"RCPT TO:<c@d.example>\r\n"
    b"BDAT 7\r\n\r\n.\r\n\x00\xffBDAT 0 LAST\r\n"
    b"NOOP\r\n"
    b"AUTH PLAIN AHUAcA==\r\n"
    b"VRFY x\r\n"
    b"QUIT\r\n"
)


def run_chunks(chunks: list[bytes]) -> tuple[list[object], bytes]:
    conn = ServerConnection(
        hostname="mx.test", extensions=Extensions(auth=("PLAIN",)), limits=Limits()
    )
    return drive(conn, chunks)  # type: ignore[return-value]


REFERENCE = run_chunks([SESSION])


def test_reference_session() -> None:
    events, out = REFERENCE
    assert any(e == MessageData(b"Subject: hi\r\n\r\n.leading\r\n\r\r\n\r\n") for e in events)
    assert out.endswith(b"221 2.0.0 Bye\r\n")
    assert out.count(b"\r\n500 5.5.2 Command unrecognized\r\n") == 1


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=len(SESSION) - 1), max_size=12))
def test_any_chunking_gives_same_events_and_bytes(cuts: list[int]) -> None:
    points = sorted(set(cuts) | {0, len(SESSION)})
    chunks = [SESSION[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert run_chunks(chunks) == REFERENCE


def test_every_single_split_point() -> None:
    for cut in range(1, len(SESSION)):
        assert run_chunks([SESSION[:cut], SESSION[cut:]]) == REFERENCE, cut


def test_byte_by_byte() -> None:
    assert run_chunks([SESSION[i : i + 1] for i in range(len(SESSION))]) == REFERENCE
