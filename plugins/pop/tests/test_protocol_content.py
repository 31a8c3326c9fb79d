"""Replies and message content on the wire: status lines, response codes, byte-stuffing, TOP."""

from __future__ import annotations

import pytest

from unigate_pop.protocol import (
    Challenge,
    LocalProtocolError,
    Reply,
    ResponseCode,
    content,
    dot_stuff,
    err,
    listing,
    normalize_crlf,
    ok,
    top_of,
)


def test_status_lines_and_response_codes() -> None:
    assert ok().encode() == b"+OK\r\n"
    assert ok("2 320").encode() == b"+OK 2 320\r\n"
    assert err("bad password", ResponseCode.AUTH).encode() == b"-ERR [AUTH] bad password\r\n"
    assert err("later", ResponseCode.SYS_TEMP).encode() == b"-ERR [SYS/TEMP] later\r\n"
    assert err("busy", ResponseCode.IN_USE).encode() == b"-ERR [IN-USE] busy\r\n"
    assert err("wait", ResponseCode.LOGIN_DELAY).encode() == b"-ERR [LOGIN-DELAY] wait\r\n"
    assert err("gone", ResponseCode.SYS_PERM).encode() == b"-ERR [SYS/PERM] gone\r\n"


def test_multiline_replies() -> None:
    assert (
        listing("2 messages", ["1 120", "2 200"]).encode()
        == b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
    )
    assert listing("none", []).encode() == b"+OK none\r\n.\r\n"
    assert content("5 octets", b"a\r\nb\r\n").encode() == b"+OK 5 octets\r\na\r\nb\r\n.\r\n"
    with pytest.raises(LocalProtocolError):
        Reply(False, "x", body=b"y")


def test_challenges_are_base64() -> None:
    assert Challenge().encode() == b"+ \r\n"
    assert Challenge(b"hello").encode() == b"+ aGVsbG8=\r\n"


def test_dot_stuffing() -> None:
    assert dot_stuff(b"") == b""
    assert dot_stuff(b".") == b"..\r\n"
    assert dot_stuff(b".a\r\nb\r\n.\r\n..c\r\n") == b"..a\r\nb\r\n..\r\n...c\r\n"
    assert dot_stuff(b"no end") == b"no end\r\n"
    assert dot_stuff(b"lf\n.only\n") == b"lf\r\n..only\r\n"
    assert dot_stuff(b"a.b\r\n") == b"a.b\r\n"  # dots inside lines stay
    assert content("", b"x\r\n.\r\n").encode() == b"+OK\r\nx\r\n..\r\n.\r\n"


def test_normalize_crlf_keeps_bare_cr_inside_lines() -> None:
    assert normalize_crlf(b"a\nb\r\nc\rd") == b"a\r\nb\r\nc\rd"
    assert normalize_crlf(b"plain") == b"plain"


MESSAGE = b"Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"


@pytest.mark.parametrize(
    ("data", "lines", "expected"),
    [
        (MESSAGE, 0, b"Subject: x\r\nFrom: a@b\r\n\r\n"),
        (MESSAGE, 2, b"Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\nline 2\r\n"),
        (MESSAGE, 10, MESSAGE),
        (b"Subject: x\r\n", 5, b"Subject: x\r\n"),  # no body, no blank line
        (b"Subject: x\r\n\r\n", 5, b"Subject: x\r\n\r\n"),
        (b"\r\nbody\r\nmore\r\n", 1, b"\r\nbody\r\n"),  # empty header section
        (b"S: x\n\nb1\nb2", 1, b"S: x\r\n\r\nb1\r\n"),  # bare LF message
        (b"S: x\n\nb1\nb2", 2, b"S: x\r\n\r\nb1\r\nb2"),  # last line without end
    ],
)
def test_top_of(data: bytes, lines: int, expected: bytes) -> None:
    assert top_of(data, lines) == expected


def test_top_of_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        top_of(MESSAGE, -1)
