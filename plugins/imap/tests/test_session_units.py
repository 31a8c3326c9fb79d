"""Unit tests of the session's pure helpers: numbering, caches, rights, error codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from unigate.api import mailboxes as mb
from unigate_imap import protocol as p
from unigate_imap.mime import Message
from unigate_imap.session.acl import translate_rights
from unigate_imap.session.cache import MemoryCache, MimeInfo, info_of
from unigate_imap.session.errors import CommandError, error_response
from unigate_imap.session.search import BODY, HEADER, NONE, need_of
from unigate_imap.session.state import Selected


@dataclass
class _Rec:
    uid: int


class _Box:
    def __init__(self, uids: list[int]) -> None:
        self._uids = uids

    def messages(self) -> list[_Rec]:
        return [_Rec(u) for u in self._uids]

    def uids(self) -> list[int]:
        return list(self._uids)

    def __len__(self) -> int:
        return len(self._uids)


def _sel(uids: list[int]) -> Selected:
    return Selected(_Box(uids), "INBOX", readonly=False)


def test_resolve_sequence_numbers() -> None:
    sel = _sel([3, 7, 9, 20])
    assert sel.exists == 4
    assert sel.resolve(p.SequenceSet.parse("1:*"), uid=False) == [3, 7, 9, 20]
    assert sel.resolve(p.SequenceSet.parse("4,2"), uid=False) == [7, 20]
    assert sel.resolve(p.SequenceSet.parse("*:3"), uid=False) == [9, 20]
    with pytest.raises(CommandError) as info:
        sel.resolve(p.SequenceSet.parse("5"), uid=False)
    assert info.value.status == "BAD"
    with pytest.raises(CommandError):
        _sel([]).resolve(p.SequenceSet.parse("1:*"), uid=False)


def test_resolve_uids() -> None:
    sel = _sel([3, 7, 9, 20])
    assert sel.resolve(p.SequenceSet.parse("1:8"), uid=True) == [3, 7]
    assert sel.resolve(p.SequenceSet.parse("10:*"), uid=True) == [20]
    assert sel.resolve(p.SequenceSet.parse("21:*"), uid=True) == [20]  # * is the last UID
    assert sel.resolve(p.SequenceSet.parse("100"), uid=True) == []
    assert _sel([]).resolve(p.SequenceSet.parse("1:*"), uid=True) == []
    sel.saved = [9, 3]
    assert sel.resolve(p.SequenceSet.parse("$"), uid=True) == [3, 9]


def test_mime_info_round_trip() -> None:
    raw = b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    info = info_of(Message(raw))
    again = MimeInfo.loads(info.dumps())
    assert again == info
    assert again.message(raw).root.body_start == raw.index(b"body")
    assert b'"hi"' in info.envelope
    assert info.header == b"Subject: hi\r\nContent-Type: text/plain\r\n\r\n"
    assert again.dumps() == info.dumps() and again.email_id.startswith(b"E")
    for broken in (
        b"",
        b"garbage",
        b"1 2 3\nabc",
        b"1 1 1 1 1\nabc",
        info.dumps()[:-1],
        b"\x01" * 30,
    ):
        assert MimeInfo.loads(broken) is None


def test_memory_cache_evicts_least_recent() -> None:
    cache = MemoryCache(400)
    cache.put("a", b"x", 100)
    cache.put("b", b"y", 100)
    cache.put("c", b"z", 100)
    assert cache.get("a") == b"x"  # refresh a
    cache.put("d", b"w", 100)
    cache.put("e", b"v", 100)  # over budget: b goes first
    assert cache.get("b") is None
    assert cache.get("a") == b"x"
    assert cache.used <= 400
    cache.put("huge", b"h", 1000)  # bigger than a quarter of the budget: not kept
    assert cache.get("huge") is None


def test_memory_cache_get_many_refreshes_hits() -> None:
    cache = MemoryCache(400)
    for n in (1, 2, 3, 4):
        cache.put(("box", n, "mime"), n * 10, 100)
    found, missing = cache.get_many(("box",), [1, 3, 7], "mime")
    assert found == {1: 10, 3: 30} and missing == [7]
    cache.put(("box", 5, "mime"), 50, 100)  # over budget: 2, the oldest not asked for, goes
    assert cache.get(("box", 2, "mime")) is None
    assert cache.get_many(("box",), [1, 3, 5], "mime") == ({1: 10, 3: 30, 5: 50}, [])


def test_memory_cache_put_many_is_put_in_one_call() -> None:
    one, many = MemoryCache(400), MemoryCache(400)
    entries = [(1, "a", 100), (2, "b", 100), (3, "huge", 150), (1, "a2", 90), (4, "d", 100)]
    for uid, value, size in entries:
        one.put(("box", uid, "mime"), value, size)
    many.put_many(("box",), "mime", entries)
    assert many.used == one.used == 290  # "huge" is over a quarter of the budget: not kept
    for uid in (1, 2, 3, 4):
        assert many.get(("box", uid, "mime")) == one.get(("box", uid, "mime"))
    many.put_many(("box",), "mime", [(5, "e", 100), (6, "f", 100)])  # over budget: oldest go
    assert many.used <= 400 and many.get(("box", 1, "mime")) is None  # the least recent
    assert many.get(("box", 6, "mime")) == "f"


def test_memory_cache_batch_paths_agree_with_one_by_one() -> None:
    """get_many/put_many take C-level paths when nothing or everything is cached, or
    every entry is new: the same answers, LRU order and byte count as one by one."""
    many = MemoryCache(1000)
    assert many.get_many(("box", 7), [1, 2], "mime") == ({}, [1, 2])  # nothing cached
    many.put_many(("box", 7), "mime", [(1, "a", 100), (2, "b", 100), (3, "c", 100)])
    assert many.used == 300
    assert many.get_many(("box", 7), [3, 1], "mime") == ({3: "c", 1: "a"}, [])  # all hits
    many.put_many(("box", 7), "mime", [(4, "d", 200), (4, "d2", 200)])  # a repeated key
    assert many.used == 500 and many.get(("box", 7, 4, "mime")) == "d2"
    many.put_many(("box", 7), "mime", [(5, "e", 250), (6, "f", 250), (7, "g", 100)])  # over
    assert many.get(("box", 7, 2, "mime")) is None  # not asked for since: the oldest
    assert many.get(("box", 7, 3, "mime")) == "c" and many.used <= 1000


def test_translate_rights() -> None:
    assert translate_rights("lrswipkxte") == "lrswipcd"
    assert translate_rights("+ka") == "+ca"
    assert translate_rights("-e") == "-d"
    assert translate_rights("") == ""
    with pytest.raises(CommandError) as info:
        translate_rights("lz")
    assert info.value.code == "INVALID"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (mb.NoSuchMailbox("x"), b"[NONEXISTENT]"),
        (mb.MailboxExists("x"), b"[ALREADYEXISTS]"),
        (mb.PermissionDenied("a"), b"[NOPERM]"),
        (mb.QuotaExceeded(True), b"[OVERQUOTA]"),
        (mb.CannotDeleteInbox("x"), b"[CANNOT]"),
        (mb.InvalidMailboxName("x\r\ny"), b"[CANNOT]"),
    ],
)
def test_error_codes(exc: Exception, code: bytes) -> None:
    reply = error_response("t1", exc)
    assert reply is not None
    assert reply.startswith(b"t1 NO " + code)
    assert reply.count(b"\r\n") == 1


def test_trycreate_and_foreign_errors() -> None:
    assert error_response("t", mb.NoSuchMailbox("x"), trycreate=True).startswith(  # type: ignore[union-attr]
        b"t NO [TRYCREATE]"
    )
    assert error_response("t", ValueError("x")) is None


def test_need_of() -> None:
    assert need_of(p.AllKey()) == NONE
    assert need_of(p.FlagKey("\\Seen")) == NONE
    assert need_of(p.TextKey("SUBJECT", "x")) == HEADER
    assert need_of(p.NotKey(p.TextKey("BODY", "x"))) == BODY
    assert need_of(p.OrKey(p.FlagKey("\\Seen"), p.TextKey("TEXT", "x"))) == BODY
    assert (
        need_of(
            p.AndKey(
                (
                    p.SizeKey(True, 3),
                    p.DateKey("ON", date.today(), sent=True),
                )
            )
        )
        == HEADER
    )


def test_notify_groups_add_up_and_none_excludes() -> None:
    from unigate_imap.session.notify import Filter, NotifyState

    me = "a@x.dom"
    msgs = frozenset({"MessageNew", "MessageExpunge"})
    state = NotifyState(
        None,
        [
            Filter("MAILBOXES", frozenset(), [(me, "Junk", "Junk")]),
            Filter("SUBSCRIBED", msgs),
            Filter("PERSONAL", frozenset({"MailboxName"})),
            Filter("SUBTREE", msgs, [(me, "Lists", "Lists"), ("b@x.dom", "", "~b")]),
        ],
    )
    state.subscribed = {(me, "Junk"): "Junk", (me, "Work"): "Work"}
    assert state.wants(me, "Work", me, "MessageNew")  # SUBSCRIBED
    assert state.wants(me, "Work", me, "MailboxName")  # PERSONAL: groups add up
    assert not state.wants(me, "Junk", me, "MessageNew")  # the NONE group comes first
    assert not state.wants(me, "Junk", me, "MailboxName")
    assert state.wants(me, "Lists/IETF", me, "MessageExpunge")  # SUBTREE: below the name
    assert not state.wants(me, "Listsx", me, "MessageNew")
    assert not state.wants(me, "Other", me, "MessageNew") and not state.wants(
        me, "Work", me, "FlagChange"
    )
    assert state.wants("b@x.dom", "Any/Thing", me, "MessageNew")  # SUBTREE of an account
    assert not state.wants("b@x.dom", "Any", me, "MailboxName")  # PERSONAL is mine only
    assert state.display("b@x.dom", "Any/Thing", me) == "~b/Any/Thing"
    assert state.display("c@x.dom", "INBOX", me) == "~c/INBOX"
    assert state.display("d@y.dom", "INBOX", me) == "~d@y.dom/INBOX"
    assert state.display(me, "Lists", me) == "Lists"
