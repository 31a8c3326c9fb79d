"""Untagged response builders, byte for byte."""

from __future__ import annotations

from unigate_imap.protocol import (
    FetchAtt,
    Section,
    SequenceSet,
    acl_response,
    body_item,
    capability_response,
    enabled_response,
    esearch_response,
    exists_response,
    expunge_response,
    fetch_response,
    flags_response,
    id_response,
    list_response,
    listrights_response,
    lsub_response,
    myrights_response,
    namespace_response,
    quota_response,
    quotaroot_response,
    search_response,
    sort_response,
    status_response,
    thread_response,
    vanished_response,
)


def test_simple_untagged() -> None:
    assert capability_response(["IMAP4rev2", "IDLE"]) == b"* CAPABILITY IMAP4rev2 IDLE\r\n"
    assert enabled_response([]) == b"* ENABLED\r\n"
    assert enabled_response(["CONDSTORE"]) == b"* ENABLED CONDSTORE\r\n"
    assert exists_response(23) == b"* 23 EXISTS\r\n"
    assert expunge_response(3) == b"* 3 EXPUNGE\r\n"
    assert flags_response(["\\Seen", "\\Draft"]) == b"* FLAGS (\\Seen \\Draft)\r\n"
    assert vanished_response(SequenceSet.parse("41,43:116"), earlier=True) == (
        b"* VANISHED (EARLIER) 41,43:116\r\n"
    )


def test_fetch_and_body_items() -> None:
    att = FetchAtt("BODY", Section((1,), "MIME"), (0, 10))
    assert body_item(att, b"abc") == (b"BODY[1.MIME]<0>", b"{3}\r\nabc")
    assert body_item(att, None) == (b"BODY[1.MIME]<0>", b"NIL")
    assert body_item(FetchAtt("BINARY", Section((1,))), b"\x00", binary=True) == (
        b"BINARY[1]",
        b"~{1}\r\n\x00",
    )
    line = fetch_response(12, [(b"FLAGS", b"(\\Seen)"), (b"UID", b"4827313")])
    assert line == b"* 12 FETCH (FLAGS (\\Seen) UID 4827313)\r\n"


def test_search_family() -> None:
    assert search_response([2, 3, 6]) == b"* SEARCH 2 3 6\r\n"
    assert search_response([]) == b"* SEARCH\r\n"
    assert search_response([2], modseq=917162500) == b"* SEARCH 2 (MODSEQ 917162500)\r\n"
    assert esearch_response(
        "A282", uid=True, min=2, max=17, count=3, all=SequenceSet.parse("2,10:11")
    ) == (b'* ESEARCH (TAG "A282") UID MIN 2 MAX 17 ALL 2,10:11 COUNT 3\r\n')
    assert esearch_response("A283", count=0) == b'* ESEARCH (TAG "A283") COUNT 0\r\n'
    assert sort_response([5, 3, 4]) == b"* SORT 5 3 4\r\n"
    assert thread_response(b"(2)(3 6 (4 23)(44 7 96))") == (
        b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    )
    assert thread_response(b"") == b"* THREAD\r\n"


def test_mailbox_responses() -> None:
    assert list_response(["\\HasNoChildren"], "/", "Entwürfe", utf8=False) == (
        b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe\r\n'
    )
    assert list_response([], None, "Fun Stuff", utf8=True) == b'* LIST () NIL "Fun Stuff"\r\n'
    assert (
        list_response(
            ["\\Subscribed"], "/", "Foo", utf8=True, extended=[("CHILDINFO", b'("SUBSCRIBED")')]
        )
        == b'* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n'
    )
    assert lsub_response([], ".", "inbox", utf8=False) == b'* LSUB () "." INBOX\r\n'
    assert status_response("blurdybloop", [("MESSAGES", 231), ("UIDNEXT", 44292)], utf8=True) == (
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    )
    assert namespace_response([("", "/")], [("~", "/")], None, utf8=True) == (
        b'* NAMESPACE (("" "/")) (("~" "/")) NIL\r\n'
    )
    assert id_response([("name", "Unigate"), ("os", None)]) == (
        b'* ID ("name" "Unigate" "os" NIL)\r\n'
    )
    assert id_response(None) == b"* ID NIL\r\n"


def test_acl_and_quota() -> None:
    assert acl_response("INBOX", [("Fred", "rwipslxetad")], utf8=True) == (
        b"* ACL INBOX Fred rwipslxetad\r\n"
    )
    assert listrights_response("~/Mail/saved", "smith", "la", ["r", "swicdkxte"], utf8=True) == (
        b"* LISTRIGHTS ~/Mail/saved smith la r swicdkxte\r\n"
    )
    assert myrights_response("INBOX", "rwiptsldaex", utf8=False) == (
        b"* MYRIGHTS INBOX rwiptsldaex\r\n"
    )
    assert quota_response("", [("STORAGE", 10, 512)]) == b'* QUOTA "" (STORAGE 10 512)\r\n'
    assert quotaroot_response("INBOX", [""], utf8=False) == b'* QUOTAROOT INBOX ""\r\n'
