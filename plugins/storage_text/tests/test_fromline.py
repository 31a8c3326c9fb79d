"""From-line and escaping: byte-exact formats and round trips."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unigate_storage_text import fromline


def test_build_and_parse_round_trip() -> None:
    line = fromline.build(
        return_path="a@b.c",
        uid=42,
        flags=frozenset({"\\Seen", "\\Flagged", "Junk", "Work", "$Hidden"}),
        internal_date=1700000000,
        stored_length=123,
        modseq=7,
        no_eol=False,
    )
    assert line.startswith(b"From <a@b.c>(S_F____H__J_+123#7*Work-42-) Tue Nov 14 22:13:20 2023")
    assert len(line) % 16 == 0 and line.endswith(b" ")
    fl = fromline.parse(line)
    assert fl is not None
    assert fl.uid == 42 and fl.stored_length == 123 and fl.modseq == 7
    assert fl.flags == {"\\Seen", "\\Flagged", "Junk", "Work", "$Hidden"}
    assert fl.internal_date == 1700000000 and fl.return_path == "a@b.c"


def test_every_system_flag_has_its_own_slot() -> None:
    names = frozenset(name for name, _ in fromline.FLAG_LETTERS)
    line = fromline.build(
        return_path="", uid=1, flags=names, internal_date=0, stored_length=0, modseq=0, no_eol=True
    )
    assert b"(SAFDXRMHVEJn+0#0-1-)" in line
    parsed = fromline.parse(line)
    assert parsed is not None and parsed.flags == names and parsed.no_eol


def test_manual_template_is_parsed() -> None:
    fl = fromline.parse(b"From <>(SA-12-) Wed Nov 25 11:14:52 2026")
    assert fl is not None
    assert (fl.uid, fl.flags, fl.stored_length) == (12, {"\\Seen", "\\Answered"}, None)
    assert fl.internal_date == 1795605292


def test_legacy_line_has_no_uid() -> None:
    fl = fromline.parse(b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011")
    assert fl is not None and fl.uid is None and fl.return_path == "MAILER-DAEMON"
    assert fl.internal_date == 1310126914
    assert fromline.parse(b"Frobnicate") is None


def test_width_is_kept_for_in_place_rewrite() -> None:
    a = fromline.build(
        return_path="",
        uid=1,
        flags=frozenset(),
        internal_date=0,
        stored_length=9,
        modseq=1,
        no_eol=False,
    )
    b = fromline.build(
        return_path="",
        uid=1,
        flags=frozenset({"\\Seen", "Kw"}),
        internal_date=0,
        stored_length=9,
        modseq=12345,
        no_eol=False,
        width=len(a),
    )
    assert len(a) == len(b)


def test_escape_rules_byte_for_byte() -> None:
    cases = {
        b"From x\n": b"From x\n",  # first line follows the From-line, not an empty line
        b"a\n\nFrom x\n": b"a\n\n>From x\n",
        b"a\r\n\r\nFrom x\r\n": b"a\r\n\r\n>From x\r\n",
        b"a\n\n>From x\n": b"a\n\n>>From x\n",
        b"a\nFrom x\n": b"a\nFrom x\n",  # not after an empty line
        b"\nFrom": b"\n>From",  # an empty first line counts
        b"a\n\nFromage\n": b"a\n\n>Fromage\n",
        b"a\n \nFrom\n": b"a\n \nFrom\n",  # a blank-but-not-empty line does not count
    }
    for raw, stored in cases.items():
        assert fromline.escape(raw)[0] == stored
        assert fromline.unescape(stored) == raw
        assert fromline.count_escapes(stored) == len(stored) - len(raw)


@given(
    st.lists(
        st.sampled_from([b"From x", b">From", b">>From y", b"", b"\r", b"a", b"From"]), max_size=12
    ),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_escape_round_trip(lines: list[bytes], eol: bytes, final: bool) -> None:
    raw = eol.join(lines) + (eol if final else b"")
    stored, _ = fromline.escape(raw)
    assert fromline.unescape(stored) == raw
    assert b"\n\nFrom" not in b"\n" + stored and b"\n\r\nFrom" not in b"\n" + stored


def test_escape_count_token() -> None:
    line = fromline.build(
        return_path="",
        uid=3,
        flags=frozenset(),
        internal_date=0,
        stored_length=50,
        modseq=2,
        no_eol=False,
        escapes=2,
    )
    assert b"(____________+50:2#2-3-)" in line
    fl = fromline.parse(line)
    assert fl is not None and fl.escapes == 2 and fl.stored_length == 50
    hand = fromline.parse(b"From <>(S-4-) Wed Nov 25 11:14:52 2026")
    assert hand is not None and hand.escapes is None  # unknown: counted in the body


_REFERENCE = re.compile(rb"(?m)^(\r?\n)(>*From)")


@given(
    st.lists(
        st.sampled_from([b"From x", b">From", b"", b"\r", b"a", b"From", b"\r\n", b"\n"]),
        max_size=14,
    )
)
def test_escape_matches_the_line_rule(parts: list[bytes]) -> None:
    raw = b"\n".join(parts)
    assert fromline.escape(raw)[0] == _REFERENCE.sub(rb"\1>\2", raw)


@given(st.integers(min_value=0, max_value=253402300799))
def test_time_stamp_round_trip(ts: int) -> None:
    assert fromline.parse_time(fromline.format_time(ts)) == ts
    assert fromline.format_time(ts) == time.asctime(time.gmtime(ts))


@pytest.mark.parametrize(
    "line",
    [
        b"From <a@b.c>(S_F_________+12#3*Work-7-) Tue Nov 14 22:13:20 2023    ",
        b"From <>(SA-12-) Wed Nov 25 11:14:52 2026",
        b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",
        b"From x@y(",
        b"Frobnicate",
    ],
)
def test_return_path_alone_matches_parse(line: bytes) -> None:
    fl = fromline.parse(line)
    assert fromline.return_path(line) == (fl.return_path if fl is not None else "")
