"""Sequence sets, modified UTF-7 and the response encoders, byte for byte."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unigate_imap.protocol import (
    MUTF7Error,
    SequenceSet,
    SequenceSetError,
    bad,
    continuation,
    decode_mutf7,
    encode_astring,
    encode_datetime,
    encode_flags,
    encode_literal,
    encode_mailbox,
    encode_mutf7,
    encode_nstring,
    encode_quoted,
    encode_string,
    no,
    ok,
    untagged,
)


def test_seqset_parse_contains_iter() -> None:
    s = SequenceSet.parse("1:3,7,10:*")
    assert str(s) == "1:3,7,10:*"
    assert s.contains(2, 5) and not s.contains(4, 20) and s.contains(15, 20)
    assert list(s.iter(12)) == [1, 2, 3, 7, 10, 11, 12]
    assert list(SequenceSet.parse("*:4").iter(6)) == [4, 5, 6]
    assert list(SequenceSet.parse("5:2,3").iter(10)) == [2, 3, 4, 5]
    assert list(SequenceSet.parse("1:*").iter(0)) == []
    assert str(SequenceSet.parse("3:1,9").normalized(100)) == "1:3,9"
    assert SequenceSet.parse("$").saved and str(SequenceSet.parse("$")) == "$"
    assert str(SequenceSet.from_numbers([5, 1, 2, 3, 9, 10])) == "1:3,5,9:10"
    assert SequenceSet.parse("4:*").uses_star()
    for text in ("", "0", "1:", "a", "1,,2", "4294967296", "01"):
        with pytest.raises(SequenceSetError):
            SequenceSet.parse(text)
    with pytest.raises(SequenceSetError):
        SequenceSet.parse("$").contains(1, 1)


@given(st.sets(st.integers(1, 300), max_size=60))
def test_seqset_from_numbers_roundtrip(numbers: set[int]) -> None:
    s = SequenceSet.from_numbers(numbers)
    assert set(s.iter(300)) == numbers
    if numbers:
        assert SequenceSet.parse(str(s)) == s


def test_mutf7_known_values() -> None:
    assert encode_mutf7("~peter/mail/日本語/台北") == "~peter/mail/&ZeVnLIqe-/&U,BTFw-"
    assert decode_mutf7("~peter/mail/&ZeVnLIqe-/&U,BTFw-") == "~peter/mail/日本語/台北"
    assert encode_mutf7("A&B") == "A&-B"
    assert decode_mutf7("A&-B") == "A&B"
    assert encode_mutf7("Entwürfe") == "Entw&APw-rfe"
    for broken in ("&Jjo", "&AGE-", "&*-", "é"):
        with pytest.raises(MUTF7Error):
            decode_mutf7(broken)


@given(st.text(max_size=30))
def test_mutf7_roundtrip(text: str) -> None:
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    assert decode_mutf7(encode_mutf7(text)) == text


def test_string_encoders() -> None:
    assert encode_quoted('a"b\\c') == b'"a\\"b\\\\c"'
    assert encode_string("plain") == b'"plain"'
    assert encode_string("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert encode_string("Grüße", utf8=False) == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"
    assert encode_string("Grüße", utf8=True) == '"Grüße"'.encode()
    assert encode_literal(b"\x00\x01", binary=True) == b"~{2}\r\n\x00\x01"
    assert encode_astring("INBOX") == b"INBOX"
    assert encode_astring("a]b") == b"a]b"
    assert encode_astring("nil") == b'"nil"'
    assert encode_astring("has space") == b'"has space"'
    assert encode_astring("") == b'""'
    assert encode_nstring(None) == b"NIL"
    assert encode_mailbox("Entwürfe", utf8=False) == b"Entw&APw-rfe"
    assert encode_mailbox("Entwürfe", utf8=True) == '"Entwürfe"'.encode()
    assert encode_mailbox("inbox", utf8=False) == b"INBOX"
    assert encode_flags(["\\Seen", "$Junk"]) == b"(\\Seen $Junk)"
    with pytest.raises(ValueError):
        encode_quoted("a\nb")


def test_datetime_and_responses() -> None:
    tz = timezone(timedelta(hours=-8))
    assert encode_datetime(datetime(1994, 2, 7, 21, 52, 25, tzinfo=tz)) == (
        b'" 7-Feb-1994 21:52:25 -0800"'
    )
    assert encode_datetime(datetime(2020, 12, 17, 1, 2, 3)) == b'"17-Dec-2020 01:02:03 +0000"'
    assert untagged("3", "EXISTS") == b"* 3 EXISTS\r\n"
    assert ok("a1", "SELECT completed", "READ-WRITE") == b"a1 OK [READ-WRITE] SELECT completed\r\n"
    assert no("a2", "no such mailbox", "NONEXISTENT") == b"a2 NO [NONEXISTENT] no such mailbox\r\n"
    assert bad(None, "junk") == b"* BAD junk\r\n"
    assert continuation("idling") == b"+ idling\r\n"
