"""SORT criteria, RFC 5256 base subjects and both THREAD algorithms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_imap.protocol.commands import SortCriterion
from unigate_imap.query import base_subject, format_threads, sort, thread

BASE = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass
class Msg:
    uid: int
    seq: int
    raw: bytes
    internal_date: datetime = BASE
    flags: frozenset[str] = frozenset()
    modseq: int = 1
    email_id: str | None = None
    thread_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.raw)

    def raw_header(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"

    def raw_message(self) -> bytes:
        return self.raw


def make(seq: int, day: int | None = None, **headers: str) -> Msg:
    lines = [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if day is not None:
        stamp = (BASE + timedelta(days=day)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        lines.append(f"Date: {stamp}")
    raw = ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode()
    return Msg(uid=seq * 10, seq=seq, raw=raw, internal_date=BASE + timedelta(hours=-seq))


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [list] Fwd: Hello (fwd)", ("HELLO", True)),
        ("[fwd: Re: test]", ("TEST", True)),
        ("  Re:   Re:  spaced   out  ", ("SPACED OUT", True)),
        ("[PATCH] fix\tit", ("FIX IT", False)),
        ("[PATCH]", ("[PATCH]", False)),
        ("Fw: x", ("X", True)),
        ("RE [blob]: y", ("Y", True)),
        ("Reply", ("REPLY", False)),
        ("=?UTF-8?Q?Re:_caf=C3=A9?=", ("CAFé", True)),
        ("re: ", ("", True)),
    ],
)
def test_base_subject(subject: str, expected: tuple[str, bool]) -> None:
    assert base_subject(subject.encode()) == expected


def test_base_subject_none() -> None:
    assert base_subject(None) == ("", False)


SORTBOX = [
    make(1, 3, From="Zed <zed@x>", To="b@x", Subject="Re: beta", Cc="Carl <carl@x>"),
    make(2, 1, From="adam@x", To="A Person <a@x>", Subject="alpha"),
    make(3, 2, From='"Bert" <bert@x>', Subject="[list] Alpha", Cc="ann@x"),
    make(4, None, From="zed@x", Subject="beta (fwd)"),  # no Date: internal date is used
]


def seqs(criteria: list[SortCriterion]) -> list[int]:
    return [m.seq for m in sort(SORTBOX, criteria)]


def test_sort_keys() -> None:
    assert seqs([SortCriterion("SUBJECT")]) == [2, 3, 1, 4]
    assert seqs([SortCriterion("SUBJECT", True), SortCriterion("DATE")]) == [4, 1, 2, 3]
    assert seqs([SortCriterion("DATE")]) == [4, 2, 3, 1]
    assert seqs([SortCriterion("ARRIVAL")]) == [4, 3, 2, 1]
    assert seqs([SortCriterion("FROM")]) == [2, 3, 1, 4]
    assert seqs([SortCriterion("TO")]) == [3, 4, 2, 1]  # missing sorts first as ""
    assert seqs([SortCriterion("CC")]) == [2, 4, 3, 1]
    assert seqs([SortCriterion("DISPLAYFROM")]) == [2, 3, 1, 4]
    assert seqs([SortCriterion("DISPLAYTO")]) == [3, 4, 2, 1]
    sizes = sorted(SORTBOX, key=lambda m: (m.size, m.seq))
    assert seqs([SortCriterion("SIZE")]) == [m.seq for m in sizes]
    assert seqs([SortCriterion("SIZE", True)]) == [
        m.seq for m in sorted(SORTBOX, key=lambda m: (-m.size, m.seq))
    ]


THREADBOX = [
    make(1, 1, Message_ID="<a@x>", Subject="Topic A"),
    make(2, 2, Message_ID="<b@x>", References="<a@x>", Subject="Re: Topic A"),
    make(3, 3, Message_ID="<c@x>", References="<a@x> <b@x>", Subject="Re: Topic A"),
    make(4, 4, Message_ID="<d@x>", In_Reply_To="<a@x> (sent by a)", Subject="Re: Topic A"),
    make(5, 5, Message_ID="<e@x>", References="<missing@x>", Subject="Other"),
    make(6, 6, Message_ID="<f@x>", References="<missing2@x>", Subject="Third"),
    make(7, 7, Message_ID="<g@x>", References="<missing2@x>", Subject="Re: Third"),
    make(8, 8, Message_ID="<h@x>", Subject="Re: Other"),
    make(9, 0, Subject="Unrelated"),
]


def test_thread_references() -> None:
    roots = thread(THREADBOX, "REFERENCES")
    assert format_threads(roots) == b"(9)(1 (2 3)(4))(5 8)((6)(7))"
    assert format_threads(roots, uid=True) == b"(90)(10 (20 30)(40))(50 80)((60)(70))"


def test_thread_orderedsubject() -> None:
    roots = thread(THREADBOX, "ORDEREDSUBJECT")
    assert format_threads(roots) == b"(9)(1 (2)(3)(4))(5 8)(6 7)"


def test_thread_references_loops_and_duplicates() -> None:
    box = [
        make(1, 1, Message_ID="<a@x>", References="<b@x>", Subject="loop"),
        make(2, 2, Message_ID="<b@x>", References="<a@x>", Subject="loop"),
        make(3, 3, Message_ID="<a@x>", Subject="dup id"),
        make(4, 4, Message_ID="<s@x>", References="<s@x>", Subject="self"),
    ]
    out = format_threads(thread(box, "REFERENCES"))
    numbers = sorted(int(n) for n in out.replace(b"(", b" ").replace(b")", b" ").split())
    assert numbers == [1, 2, 3, 4]  # every message appears exactly once, no hang
    assert format_threads(thread([], "REFERENCES")) == b""
    with pytest.raises(ValueError):
        thread(box, "FOO")


def test_thread_references_subject_merging() -> None:
    same = [
        make(1, 1, Message_ID="<1@x>", Subject="Hello"),
        make(2, 2, Message_ID="<2@x>", Subject="Hello"),
        make(3, 3, Message_ID="<3@x>", Subject="Re: World"),
        make(4, 4, Message_ID="<4@x>", Subject="Fwd: World"),
        make(5, 5, Message_ID="<5@x>", Subject="World"),
        make(6, 6, Message_ID="<6@x>", Subject=""),
        make(7, 7, Message_ID="<7@x>", Subject="Re:"),
    ]
    # same non-reply subject -> new dummy; replies join the non-reply "World" thread root;
    # empty base subjects never merge
    assert format_threads(thread(same, "REFERENCES")) == b"((1)(2))(5 (3)(4))(6)(7)"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),  # message-id (duplicates allowed)
            st.lists(st.integers(0, 8), max_size=4),  # references, may be unknown or cyclic
            st.sampled_from(["a", "Re: a", "b", "Fwd: b", "", "[x] a"]),
            st.integers(0, 5),  # day
        ),
        max_size=12,
    )
)
def test_thread_every_message_once(specs: list[tuple[int, list[int], str, int]]) -> None:
    box = [
        make(
            i + 1,
            day,
            Message_ID=f"<{mid}@x>",
            References=" ".join(f"<{r}@x>" for r in refs) or "",
            Subject=subject,
        )
        for i, (mid, refs, subject, day) in enumerate(specs)
    ]
    for algorithm in ("REFERENCES", "ORDEREDSUBJECT"):
        out = format_threads(thread(box, algorithm))
        assert out.count(b"(") == out.count(b")")
        numbers = sorted(int(n) for n in out.replace(b"(", b" ").replace(b")", b" ").split())
        assert numbers == list(range(1, len(box) + 1))
    assert sorted(m.seq for m in sort(box, [SortCriterion("SUBJECT")])) == [m.seq for m in box]
