"""Batched FETCH/SEARCH, the MIME summary cache, header columns, MULTIAPPEND spacing,
GETACL's owner entry and OBJECTID (RFC 8474), against a real server and in units."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient import IMAPClient

from unigate.testing.server import serve_in_thread
from unigate_imap import protocol as p
from unigate_imap.mime import Message, header_fields, unfold
from unigate_imap.mime.headers import field_text, field_values
from unigate_imap.protocol import Append, Limits, parse_command
from unigate_imap.session import cache as cache_mod
from unigate_imap.session import fetch as fetch_mod
from unigate_imap.session import search as search_mod
from unigate_imap.session.cache import MemoryCache, flush_pending, info_of, remember_appended
from unigate_imap.session.state import Selected

PLUGINS = ["imap", "storage_sliced"]


def message(n: int) -> bytes:
    """Varied messages: encoded-words, folded and repeated headers, multipart, no Subject."""
    subject = {
        0: "Subject: plain needle {n}\r\n",
        1: "Subject: =?utf-8?q?caf=C3=A9_N=C3=89EDLE?= {n}\r\n",
        2: "Subject: folded\r\n  over NEEDLE lines {n}\r\n",
        3: "",
        4: "Subject: first {n}\r\nSubject: second needle\r\n",
    }[n % 5].format(n=n)
    extra = "X-Tag: tagged\r\n" if n % 3 == 0 else ""
    head = (
        f"From: Sender {n} <s{n}@example.test>\r\nTo: a@example.test\r\n{subject}{extra}"
        f"Message-ID: <{n}@example.test>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    )
    if n % 2:
        body = (
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
            f"--B\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n--B\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            "\r\nAAEC\r\n--B--\r\n"
        )
    else:
        body = f"\r\nbody {n}\r\n"
    return (head + body).encode()


@dataclass
class Running:
    port: int
    server: Any


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_in_thread(tmp_path_factory.mktemp("batch"), plugins=PLUGINS) as srv:
        objects = srv.server.objects
        objects.add_account("a@example.test", settings={"PasswordEncryption": "clear"})
        objects.update_account_settings("a@example.test", {"Password": "pw-a"})
        yield srv


def client(running: Any) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=running.port("imap"), ssl=False, timeout=10)
    c.login("a@example.test", "pw-a")
    return c


@pytest.fixture(scope="module")
def filled(running: Any) -> list[bytes]:
    """A mailbox ``Batch`` with 40 messages appended over IMAP."""
    msgs = [message(n) for n in range(40)]
    c = client(running)
    try:
        c.create_folder("Batch")
        for i in range(0, 40, 10):
            c.multiappend("Batch", msgs[i : i + 10])
    finally:
        c.logout()
    return msgs


# -- FETCH batches -------------------------------------------------------------------
def test_fetch_ranges_in_batches_match_the_parser(
    running: Any, filled: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_mod, "BATCH_MESSAGES", 7)
    c = client(running)
    try:
        c.select_folder("Batch")
        got = c.fetch(c.search(), ["ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[]", "RFC822.SIZE"])
        assert len(got) == 40
        for uid, data in got.items():
            raw = filled[uid - 1]
            assert data[b"BODY[]"] == raw
            assert data[b"RFC822.SIZE"] == len(raw)
        # the encoded answers equal what the parser gives for the message itself
        raw_env = c._imap.uid("FETCH", "1:*", "(ENVELOPE BODYSTRUCTURE)")  # uid -> seq equal
        assert raw_env[0] == "OK"
        text = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in raw_env[1])
        for n, raw in enumerate(filled):
            info = info_of(Message(raw))
            assert b"ENVELOPE " + info.envelope in text, n
            assert b"BODYSTRUCTURE " + info.bodystructure in text, n
        # sections and partials through the general path, several batches
        parts = c.fetch(c.search(), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[1]<0.4>"])
        assert len(parts) == 40
        assert parts[2][b"BODY[HEADER.FIELDS (SUBJECT)]"].startswith(b"Subject: =?utf-8?q?caf")
    finally:
        c.logout()


def test_small_and_large_sets_resolve_the_same(running: Any, filled: list[bytes]) -> None:
    c = client(running)
    try:
        c.select_folder("Batch")
        c.use_uid = False
        assert sorted(c.fetch([3, 5, 6, 7, 40], ["UID"])) == [3, 5, 6, 7, 40]
        assert sorted(c.fetch([38, 39, 40], ["UID"])) == [38, 39, 40]
        c.use_uid = True
        assert sorted(c.fetch([2, 9, 10, 11, 1000], ["FLAGS"])) == [2, 9, 10, 11]
        assert len(c.fetch(c.search(), ["FLAGS"])) == 40
    finally:
        c.logout()


@dataclass
class _Rec:
    uid: int
    size: int = 1


@dataclass
class _Box:
    ids: list[int]
    recs: dict[int, _Rec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recs = {u: _Rec(u) for u in self.ids}

    def messages(self) -> list[_Rec]:
        return [self.recs[u] for u in self.ids]

    def uids(self) -> list[int]:
        return list(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def uid_of(self, seq: int) -> int:
        return self.ids[seq - 1]

    def seq_of(self, uid: int) -> int | None:
        return self.ids.index(uid) + 1 if uid in self.recs else None

    def record(self, uid: int) -> _Rec | None:
        return self.recs.get(uid)


_bound = st.integers(0, 120)


@settings(max_examples=300, deadline=None)
@given(
    uids=st.lists(st.integers(1, 150), unique=True, max_size=90).map(sorted),
    ranges=st.lists(st.tuples(_bound, _bound), min_size=1, max_size=4),
    uid=st.booleans(),
)
def test_resolve_records_agrees_with_resolve(
    uids: list[int], ranges: list[tuple[int, int]], uid: bool
) -> None:
    """The per-message path (small sets) and the slicing path give `resolve`'s answer."""
    sel = Selected(_Box(uids), "INBOX", readonly=False)
    seqset = p.SequenceSet(tuple(ranges))
    try:
        expected = sel.resolve(seqset, uid=uid)
    except Exception as exc:  # noqa: BLE001 - both must fail alike
        with pytest.raises(type(exc)):
            sel.resolve_records(seqset, uid=uid)
        return
    seqs, records = sel.resolve_records(seqset, uid=uid)
    assert [rec.uid for rec in records] == expected
    assert [uids[seq - 1] for seq in seqs] == expected


# -- the summary cache -------------------------------------------------------------------
def test_mime_summary_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    msgs = [message(n) for n in range(12)]
    with serve_in_thread(tmp_path, plugins=PLUGINS) as srv:
        srv.server.objects.add_account("a@example.test", settings={"PasswordEncryption": "clear"})
        srv.server.objects.update_account_settings("a@example.test", {"Password": "pw-a"})
        c = client(srv)
        for m in msgs:
            c.append("INBOX", m)
        c.select_folder("INBOX")
        first = c.fetch(c.search(), ["ENVELOPE", "BODYSTRUCTURE", "EMAILID"])
        c.logout()
    # no parsing at all after the restart: everything comes from the driver's cache

    def boom(*_: Any) -> Any:
        raise AssertionError("parsed again")

    monkeypatch.setattr(cache_mod, "info_of", boom)
    with serve_in_thread(tmp_path, plugins=PLUGINS) as srv:
        c = client(srv)
        c.select_folder("INBOX")
        again = c.fetch(c.search(), ["ENVELOPE", "BODYSTRUCTURE", "EMAILID"])
        assert c.search(["SUBJECT", "needle"]) == [1, 3, 5, 6, 8, 10, 11]
        assert sorted(c.sort("SUBJECT")) == list(range(1, 13))  # the header part, as bytes
        # entries loaded from the mapped cache file stay right after an expunge
        c.delete_messages([2])
        c.expunge()
        after = c.fetch(c.search(), ["ENVELOPE", "EMAILID"])
        c.logout()
    items = ("ENVELOPE", "BODYSTRUCTURE", "EMAILID")
    assert {u: [d[i.encode()] for i in items] for u, d in first.items()} == {
        u: [d[i.encode()] for i in items] for u, d in again.items()
    }
    assert {u: d[b"EMAILID"] for u, d in after.items()} == {
        u: d[b"EMAILID"] for u, d in first.items() if u != 2
    }
    assert after[3][b"ENVELOPE"] == first[3][b"ENVELOPE"]


@dataclass
class _CacheBox:
    owner: str = "a@example.test"
    mailbox: str = "INBOX"
    uidvalidity: int = 5
    puts: list[list[tuple[int, bytes]]] = field(default_factory=list)

    async def cache_put_many(self, items: list[tuple[int, bytes]], key: str) -> None:
        assert key == cache_mod.CACHE_KEY
        self.puts.append(list(items))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_write_behind_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "PENDING_BATCH", 3)
    memory = MemoryCache(10_000_000)
    box = _CacheBox()
    assert not remember_appended(box, 1, message(1), memory)
    assert not remember_appended(box, 2, message(2), memory)
    assert remember_appended(box, 3, message(3), memory)  # the batch is full
    assert memory.get(("a@example.test", "INBOX", 5, 2, "mime")) == info_of(Message(message(2)))
    await flush_pending(box, memory)
    assert [u for u, _ in box.puts[0]] == [1, 2, 3] and memory.pending_count == 0
    await flush_pending(box, memory)
    assert len(box.puts) == 1  # nothing left to write
    assert not remember_appended(box, 4, message(4), None)  # no memory cache: nothing kept


# -- header columns ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "criteria",
    [
        ["SUBJECT", "needle"],
        ["SUBJECT", "néedle"],
        ["SUBJECT", "café"],
        ["SUBJECT", ""],
        ["FROM", "sender 1"],
        ["HEADER", "X-Tag", ""],
        ["HEADER", "x-tag", "TAGGED"],
        ["HEADER", "X-Missing", ""],
        ["TO", "nobody"],
    ],
)
def test_header_column_agrees_with_the_evaluator(
    running: Any, filled: list[bytes], criteria: list[str]
) -> None:
    c = client(running)
    try:
        c.select_folder("Batch", readonly=True)
        fast = c.search(criteria, charset="UTF-8")
        slow = c.search(["NOT", "NOT", *criteria], charset="UTF-8")  # not a one-key program
        assert fast == slow
        assert c.search(criteria, charset="UTF-8") == fast  # the warm column
    finally:
        c.logout()


def test_column_key_recognises_one_header_key() -> None:
    subject = p.TextKey("SUBJECT", "x")
    assert search_mod._column_key(subject) == ("subject", subject)
    assert search_mod._column_key(p.AndKey((p.AllKey(), subject))) == ("subject", subject)
    header = p.TextKey("HEADER", "", "X-Tag")
    assert search_mod._column_key(header) == ("x-tag", header)
    assert search_mod._column_key(p.TextKey("BODY", "x")) is None
    assert search_mod._column_key(p.NotKey(subject)) is None
    assert search_mod._column_key(p.AndKey((subject, subject))) is None


_field_names = st.sampled_from([b"subject", b"s", b"x-tag", b"sub"])
_field_pieces = st.sampled_from(
    [
        b"s",
        b"S",
        b"u",
        b"b",
        b":",
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"\xc3",
        b"Subject:",
        b"\n ",
        b"\r\n\t",
    ]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_field_pieces, max_size=30).map(b"".join), _field_names)
def test_field_values_match_the_regex(block: bytes, name: bytes) -> None:
    """The column's scan finds what the multi-line regex it replaced finds."""
    pattern = re.compile(rb"(?im)^" + re.escape(name) + rb"[ \t]*:(.*(?:\r?\n[ \t].*)*)")
    assert field_values(block, name) == pattern.findall(block)


def test_summary_keeps_the_column_texts() -> None:
    """Column texts kept with the summary equal those computed from the header block."""
    for n in range(12):
        info = info_of(Message(message(n)))
        again = cache_mod.MimeInfo.loads(info.dumps())
        assert again is not None
        for name in cache_mod.COLUMN_FIELDS:
            expected = field_text(info.header, name.encode())
            assert again.column_text(name) == expected, (n, name)
    assert info_of(Message(message(1))).column_text("subject") == "café néedle 1"
    assert info_of(Message(message(3))).column_text("subject") is None


# -- the column-wise FETCH fast path -------------------------------------------------------
class _Session:
    """What `_fetch_summaries` and `fetch_items` use of a session."""

    def __init__(self, condstore: bool) -> None:
        self.condstore = condstore
        self.out: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out.append(data)

    visible_flags = staticmethod(lambda flags: sorted(f for f in flags if f != "\\Recent"))


_SUMMARY_ITEMS = [
    "UID",
    "FLAGS",
    "RFC822.SIZE",
    "INTERNALDATE",
    "MODSEQ",
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "EMAILID",
    "THREADID",
]


#: whole-message items: the stored bytes as a literal, no structure needed
_WHOLE_ITEMS = {
    "BODY[]": p.FetchAtt("BODY", p.Section()),
    "BODY.PEEK[]": p.FetchAtt("BODY", p.Section(), peek=True),
    "RFC822": p.FetchAtt("RFC822"),
}


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.sampled_from(_SUMMARY_ITEMS + list(_WHOLE_ITEMS)), min_size=1, max_size=5),
    condstore=st.booleans(),
    gone=st.sets(st.integers(0, 9)),
    unread=st.sets(st.integers(0, 9)),
)
def test_summary_path_is_byte_identical_to_the_general_one(
    names: list[str], condstore: bool, gone: set[int], unread: set[int]
) -> None:
    """Column-wise formatting gives exactly the bytes of per-message `fetch_items`.

    ``gone``: messages without a `MimeInfo`; ``unread``: messages whose bytes the
    driver no longer has (both expunged meanwhile: left out, reported incomplete).
    """
    from unigate_hookspecs.storage import MessageRecord

    flag_sets = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Recent", "$Junk", "\\Seen"})]
    recs = [
        MessageRecord(uid, flag_sets[uid % 3], 1_700_000_000 + 3600 * uid, 100 + uid, 7 * uid)
        for uid in range(3, 13)
    ]
    seqs = list(range(1, 11))
    infos = {
        rec.uid: info_of(Message(message(rec.uid))) for i, rec in enumerate(recs) if i not in gone
    }
    atts = tuple(_WHOLE_ITEMS.get(n) or p.FetchAtt(n) for n in names)
    whole = any(n in _WHOLE_ITEMS for n in names)
    raws = (
        {rec.uid: message(rec.uid) for i, rec in enumerate(recs) if i not in unread}
        if whole
        else None
    )
    fast = _Session(condstore)
    complete = fetch_mod._fetch_summaries(fast, seqs, recs, atts, infos, raws)  # type: ignore[arg-type]
    slow = _Session(condstore)
    uses_info = any(n in fetch_mod._FROM_INFO for n in names)
    for seq, rec in zip(seqs, recs, strict=True):
        info = infos.get(rec.uid)
        raw = raws.get(rec.uid) if raws is not None else None
        if (uses_info and info is None) or (whole and raw is None):
            continue
        items = fetch_mod.fetch_items(slow, rec, atts, info, raw, add_flags=False)  # type: ignore[arg-type]
        fetch_mod.write_fetch(slow, seq, items)  # type: ignore[arg-type]
    assert b"".join(fast.out) == b"".join(slow.out)
    assert complete == ((not uses_info or not gone) and (not whole or not unread))


# -- header parsing ----------------------------------------------------------------------
def _reference_fields(block: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """A straightforward per-byte splitter: the behaviour `header_fields` must keep."""
    out = []
    pos, n = 0, len(block)
    while pos < n:
        end = pos
        while True:
            nl = block.find(b"\n", end)
            if nl < 0:
                end = n
                break
            end = nl + 1
            if end >= n or block[end] not in (0x20, 0x09):
                break
        line = block[pos:end]
        pos = end
        if not line.strip():
            break
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].rstrip(b" \t")
        if not name or any(c <= 0x20 or c >= 0x7F for c in name):
            continue
        out.append((name, line[colon + 1 :], line))
    return out


_pieces = st.sampled_from(
    [b"a", b"B", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"X-Y", b"\x80", b"Subject: ", b"\r\n "]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_pieces, max_size=30).map(b"".join))
def test_header_fields_matches_reference(block: bytes) -> None:
    assert header_fields(block) == _reference_fields(block)
    folded = re.sub(rb"\r?\n(?=[ \t])", b"", block)
    assert unfold(block) == folded.rstrip(b"\r\n").strip(b" \t")


# -- MULTIAPPEND spacing, GETACL, OBJECTID ------------------------------------------------------
def test_multiappend_accepts_imapclient_spacing() -> None:
    cmd = parse_command(b"a APPEND x {1+}\r\na  {1+}\r\nb (\\Seen) {1+}\r\nc", Limits())
    assert isinstance(cmd, Append)
    assert [m.data for m in cmd.messages] == [b"a", b"b", b"c"]
    assert cmd.messages[2].flags == ("\\Seen",)
    with pytest.raises(p.CommandSyntaxError):
        parse_command(b"a APPEND x  {1+}\r\na", Limits())  # only between messages


def test_multiappend_through_imapclient(running: Any) -> None:
    c = client(running)
    try:
        c.create_folder("Multi")
        answer = c.multiappend("Multi", [b"Subject: a\r\n\r\nx\r\n", b"Subject: b\r\n\r\ny\r\n"])
        typ, (text,) = answer
        assert typ == "OK" and text.startswith(b"[APPENDUID ") and b" 1:2]" in text
        assert c.folder_status("Multi", ["MESSAGES"])[b"MESSAGES"] == 2
    finally:
        c.logout()


def test_getacl_lists_the_owner(running: Any) -> None:
    c = client(running)
    try:
        c.create_folder("Acl")
        acl = c.getacl("Acl")
        assert acl[0] == (b"a@example.test", b"lrswipcda")
        c.setacl("Acl", "anyone", "lr")
        assert dict(c.getacl("Acl")) == {b"a@example.test": b"lrswipcda", b"anyone": b"lr"}
        assert dict(c.getacl("~a@example.test/Acl"))[b"a@example.test"] == b"lrswipcda"
    finally:
        c.logout()


def _wire(running: Any, *commands: bytes) -> list[bytes]:
    sock = socket.create_connection(("127.0.0.1", running.port("imap")), timeout=10)
    out: list[bytes] = []
    buf = b""
    try:
        for i, command in enumerate((b"LOGIN a@example.test pw-a", *commands)):
            tag = b"t%d" % i
            sock.sendall(tag + b" " + command + b"\r\n")
            while b"\r\n" + tag + b" " not in b"\r\n" + buf:
                buf += sock.recv(65536)
            out.append(buf)
            buf = b""
    finally:
        sock.close()
    return out


def test_objectid(running: Any) -> None:
    raw = b"Subject: object\r\n\r\nid\r\n"
    c = client(running)
    try:
        assert b"OBJECTID" in c.capabilities()
        c.create_folder("Obj1")
        c.append("Obj1", raw)
        c.select_folder("Obj1")
        data = c.fetch("1", ["EMAILID", "THREADID"])[1]
        emailid = data[b"EMAILID"][0]
        assert emailid.startswith(b"E") and len(emailid) == 25
        assert data[b"THREADID"] is None
        c.copy("1", "INBOX")
        c.select_folder("INBOX")
        found = c.search(["EMAILID", emailid.decode()])
        assert found and c.fetch(found, ["EMAILID"])[found[0]][b"EMAILID"] == (emailid,)
        assert c.search(["EMAILID", "Enothere"]) == []
        assert c.search(["THREADID", "T1"]) == []
    finally:
        c.logout()
    _, create, select, status, rename, status2 = _wire(
        running,
        b"CREATE Obj2",
        b"SELECT Obj2",
        b"STATUS Obj2 (MAILBOXID MESSAGES)",
        b"RENAME Obj2 Obj3",
        b"STATUS Obj3 (MAILBOXID)",
    )
    mid = create.split(b"[MAILBOXID (")[1].split(b")")[0]
    assert mid.startswith(b"M")
    assert b"* OK [MAILBOXID (" + mid + b")]" in select
    assert b"(MAILBOXID (" + mid + b") MESSAGES 0)" in status
    assert b"MAILBOXID (" + mid + b")" in status2  # kept across RENAME
    assert b" OK " in rename


def test_body_search_in_batches(
    running: Any, filled: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_mod, "LOAD_BATCH", 3)
    monkeypatch.setattr(search_mod, "LOAD_BYTES", 400)
    c = client(running)
    try:
        c.select_folder("Batch", readonly=True)
        expected = [n + 1 for n, raw in enumerate(filled) if b"part 1" in raw]
        assert c.search(["BODY", "part 1"]) == expected
        assert c.search(["TEXT", "s17@example"]) == [18]
        folded = {n + 1 for n in range(40) if n % 5 == 2}
        assert c.search(["OR", "BODY", "body 4", "SUBJECT", "folded"]) == sorted({5} | folded)
    finally:
        c.logout()
