"""SEARCH evaluation over an in-memory mailbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from unigate_imap.protocol import Limits, SequenceSet, parse_command
from unigate_imap.protocol.commands import DateKey, Search
from unigate_imap.query import SearchableMessage, SearchContext, matches, search


@dataclass
class Msg:
    uid: int
    seq: int
    raw: bytes
    flags: frozenset[str] = frozenset()
    internal_date: datetime = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
    modseq: int = 1
    email_id: str | None = None
    thread_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.raw)

    def raw_header(self) -> bytes:
        end = self.raw.find(b"\r\n\r\n")
        return self.raw if end < 0 else self.raw[: end + 4]

    def raw_message(self) -> bytes:
        return self.raw


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


M1 = Msg(
    1,
    1,
    crlf(
        "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\n"
        "To: team@example.com\n"
        "Subject: Quarterly report\n"
        "Date: Tue, 09 Jan 2024 23:30:00 -0800\n"
        "X-Priority: 1\n"
        "\n"
        "Numbers are up.\n"
    ),
    frozenset({"\\Seen", "$Important"}),
    modseq=5,
    email_id="M1",
)
M2 = Msg(
    4,
    2,
    crlf(
        "From: Alice <alice@example.com>\n"
        "To: bob@example.com\n"
        "Cc: carol@example.com\n"
        "Subject: =?UTF-8?B?Q2Fmw6k=?= meeting\n"
        "Date: Fri, 12 Jan 2024 08:00:00 +0000\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Wir treffen uns im Caf=E9.\n"
        "--b\n"
        "Content-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "c2VjcmV0\n"
        "--b--\n"
    ),
    frozenset({"\\Flagged", "\\Recent"}),
    datetime(2024, 1, 12, 9, 0, tzinfo=UTC),
    modseq=9,
)
M3 = Msg(
    7,
    3,
    crlf("Subject: no date\n\nplain body\n"),
    frozenset({"\\Deleted"}),
    datetime(2024, 1, 15, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
    modseq=2,
)
BOX: list[SearchableMessage] = [M1, M2, M3]
CTX = SearchContext(
    max_seq=3,
    max_uid=7,
    now=datetime(2024, 1, 16, 12, 0, tzinfo=UTC),
    saved=SequenceSet.parse("4,7"),
)


def run(program: str) -> list[int]:
    cmd = parse_command(b"t UID SEARCH " + program.encode(), Limits())
    assert isinstance(cmd, Search)
    return [m.uid for m in search(BOX, cmd.key, CTX)]


def test_msg_satisfies_protocol() -> None:
    assert isinstance(M1, SearchableMessage)


def test_flags_and_keywords() -> None:
    assert run("SEEN") == [1]
    assert run("UNSEEN") == [4, 7]
    assert run("KEYWORD $important") == [1]
    assert run("UNKEYWORD $Important") == [4, 7]
    assert run("NEW") == [4]
    assert run("OLD") == [1, 7]
    assert run("RECENT UNSEEN FLAGGED") == [4]
    assert run("DELETED") == [7]
    assert run("ALL") == [1, 4, 7]


def test_sets() -> None:
    assert run("2:*") == [4, 7]
    assert run("UID 4:*") == [4, 7]
    assert run("UID *") == [7]
    assert run("$") == [4, 7]
    assert run("NOT 1") == [4, 7]


def test_text_keys_decode_charsets() -> None:
    assert run('FROM "müller"') == [1]  # encoded-word in ISO-8859-1
    assert run("FROM JOERG@EXAMPLE") == [1]
    assert run('SUBJECT "café MEETING"') == [4]  # UTF-8 B encoded-word
    assert run('BODY "café"') == [4]  # quoted-printable latin-1 body
    assert run("BODY secret") == []  # attachments are not text
    assert run("TEXT quarterly") == [1]  # TEXT includes the header
    assert run("TEXT plain") == [7]
    assert run("CC carol") == [4]
    assert run("TO example.com") == [1, 4]
    assert run("BCC x") == []
    assert run('HEADER X-Priority ""') == [1]
    assert run("HEADER x-priority 2") == []
    assert run('HEADER Subject "no"') == [7]


def test_date_keys() -> None:
    # internal dates are compared by their own calendar date
    assert run("ON 15-Jan-2024") == [7]
    assert run("BEFORE 12-Jan-2024") == [1]
    assert run("SINCE 12-Jan-2024") == [4, 7]
    # Date: header (its own timezone: 9 Jan, although 10 Jan in UTC); missing -> internal date
    assert run("SENTON 9-Jan-2024") == [1]
    assert run("SENTBEFORE 10-Jan-2024") == [1]
    assert run("SENTSINCE 12-Jan-2024") == [4, 7]
    assert matches(DateKey("ON", date(2024, 1, 12)), M2, CTX)


def test_size_modseq_within_objectid_and_logic() -> None:
    assert run(f"LARGER {M1.size - 1}") == [1, 4]
    assert run(f"SMALLER {M3.size + 1}") == [7]
    assert run("MODSEQ 5") == [1, 4]
    assert run("YOUNGER 86400") == [7]
    assert run("OLDER 86400") == [1, 4]
    assert run("EMAILID M1") == [1]
    assert run("THREADID T1") == []
    assert run("OR SEEN DELETED") == [1, 7]
    assert run("NOT (OR SEEN DELETED)") == [4]
    assert run("(SINCE 1-Jan-2024 (NOT SEEN)) NOT UID 7") == [4]


def test_saved_result_missing() -> None:
    ctx = SearchContext(max_seq=3, max_uid=7)
    cmd = parse_command(b"t SEARCH $", Limits())
    assert isinstance(cmd, Search)
    assert search(BOX, cmd.key, ctx) == []
