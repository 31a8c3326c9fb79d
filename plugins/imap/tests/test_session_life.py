"""The full life of a mailbox through imapclient and imaplib against a real server."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from unigate.testing.server import serve_in_thread

PLUGINS = ["imap", "storage_sliced", "storage_text"]
MESSAGE = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@example.test>\r\n"
    b"Subject: Hello there\r\n"
    b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <m1@example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n"
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"First part with needle\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQ=\r\n"
    b"--XX--\r\n"
)


def simple(subject: str, body: str = "text") -> bytes:
    return (
        f"From: x@example.test\r\nTo: a@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.test>\r\n\r\n{body}\r\n"
    ).encode()


@contextmanager
def imap_server(directory: Path, extra: str = "") -> Iterator[Any]:
    with serve_in_thread(directory, plugins=PLUGINS, extra=extra) as running:
        objects = running.server.objects
        objects.add_account("a@example.test", password="pw-a")
        objects.add_account("b@example.test", password="pw-b")
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with imap_server(tmp_path_factory.mktemp("life")) as running:
        yield running


def client(server: Any, user: str = "a@example.test", password: str = "pw-a") -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=server.port("imap"), ssl=False, timeout=10)
    c.login(user, password)
    return c


def test_full_life(server: Any) -> None:
    c = client(server)
    try:
        assert b"IMAP4REV2" in c.capabilities()
        c.create_folder("Life")
        c.create_folder("Life/Sub")
        folders = {f[2]: f[0] for f in c.list_folders()}
        assert b"\\HasChildren" in folders["Life"]
        assert b"\\HasNoChildren" in folders["Life/Sub"]
        uidvalidity, uids = c.append("Life", MESSAGE, flags=[b"\\Flagged"])[0], None
        del uidvalidity, uids
        # imapclient's multiappend puts two spaces between messages (invalid syntax): the
        # MULTIAPPEND form is tested with raw bytes in test_session_wire.py
        c.append("Life", simple("two", "second body"))
        c.append("Life", simple("three"))
        info = c.select_folder("Life")
        assert info[b"EXISTS"] == 3
        assert info[b"UIDNEXT"] == 4
        assert b"READ-WRITE" in info
        # every fetch item
        data = c.fetch(
            [1],
            [
                "UID",
                "FLAGS",
                "INTERNALDATE",
                "RFC822.SIZE",
                "ENVELOPE",
                "BODYSTRUCTURE",
                "BODY",
                "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
                "BODY.PEEK[1]",
                "BODY.PEEK[2.MIME]",
                "BODY.PEEK[TEXT]<0.6>",
                "BINARY.SIZE[2]",
                "RFC822.HEADER",
            ],
        )[1]
        assert data[b"SEQ"] == 1  # imapclient keys the answer by UID
        assert data[b"FLAGS"] == (b"\\Flagged",)
        assert data[b"RFC822.SIZE"] == len(MESSAGE)
        env = data[b"ENVELOPE"]
        assert env.subject == b"Hello there"
        assert env.from_[0].mailbox == b"alice"
        assert data[b"BODYSTRUCTURE"].is_multipart
        assert data[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: Hello there\r\n\r\n"
        assert data[b"BODY[1]"] == b"First part with needle"
        assert data[b"BODY[TEXT]<0>"] == b"--XX\r\n"
        assert data[b"BINARY.SIZE[2]"] == 5
        # PEEK did not set \Seen; BODY[] does
        assert b"\\Seen" not in c.get_flags([1])[1]
        got = c.fetch([1], ["BODY[]"])[1]
        assert got[b"BODY[]"] == MESSAGE
        assert b"\\Seen" in got[b"FLAGS"]
        # cached ENVELOPE again
        assert c.fetch([1], ["ENVELOPE"])[1][b"ENVELOPE"].subject == b"Hello there"
        # search
        assert c.search(["SUBJECT", "hello"]) == [1]
        assert c.search(["BODY", "needle"]) == [1]
        assert c.search(["TEXT", "second"]) == [2]
        assert c.search(["UNSEEN"]) == [2, 3]
        assert c.search(["FLAGGED"]) == [1]
        assert c.search(["NOT", "FLAGGED", "LARGER", "10"]) == [2, 3]
        assert c.sort(["SUBJECT"]) == [1, 3, 2]
        assert c.thread() == ((1,), (2,), (3,))
        # store
        res = c.add_flags([2], [b"$Work"])
        assert b"$Work" in res[2]
        assert c.search(["KEYWORD", "$Work"]) == [2]
        c.remove_flags([1], [b"\\Flagged"])
        assert c.get_flags([1])[1] == (b"\\Seen",)
        c.set_flags([3], [b"\\Answered", b"\\Draft"])
        assert set(c.get_flags([3])[3]) == {b"\\Answered", b"\\Draft"}
        # copy / move
        c.create_folder("Other")
        c.copy([1, 2], "Other")
        c.move([3], "Other")
        assert c.folder_status("Other", ["MESSAGES"])[b"MESSAGES"] == 3
        assert c.search() == [1, 2]
        # expunge
        c.set_flags([1], [b"\\Deleted"])
        c.expunge()
        assert c.search() == [2]  # UIDs
        st = c.folder_status("Life", ["MESSAGES", "UIDNEXT", "UNSEEN", "SIZE", "HIGHESTMODSEQ"])
        assert st[b"MESSAGES"] == 1 and st[b"UIDNEXT"] == 4
        c.unselect_folder()
        # rename and delete
        c.rename_folder("Other", "Renamed")
        names = [f[2] for f in c.list_folders()]
        assert "Renamed" in names and "Other" not in names
        c.delete_folder("Renamed")
        with pytest.raises(IMAPClientError, match="NONEXISTENT"):
            c.select_folder("Renamed")
        c.subscribe_folder("Life")
        assert [f[2] for f in c.list_sub_folders()] == ["Life"]
    finally:
        c.logout()


def test_uidplus_and_condstore(server: Any) -> None:
    raw = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    raw.login("a@example.test", "pw-a")
    raw.create("Plus")
    typ, data = raw.append("Plus", None, None, simple("p1"))
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    raw.enable("CONDSTORE")
    typ, data = raw.select("Plus")
    assert typ == "OK"
    assert raw.untagged_responses.get("OK") or True
    typ, data = raw.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    assert b"MODSEQ" in data[0]
    typ, data = raw.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE 1)")
    assert b"MODSEQ" in data[0]
    typ, data = raw.uid("STORE", "1", "(UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")
    assert typ == "OK"
    typ, data = raw.uid("COPY", "1", "INBOX")
    assert typ == "OK"
    raw.logout()


def test_list_extended_namespace_id(server: Any) -> None:
    c = client(server)
    try:
        c.create_folder("Ext")
        c.subscribe_folder("Ext")
        ns = c.namespace()
        assert ns.personal[0][0] == ""
        assert ns.other[0][0] == "~"
        ident = c.id_({"name": "pytest"})
        assert b"Unigate" in repr(ident).encode()
        assert c.enable("IMAP4rev2") == [b"IMAP4rev2"]
        typ, data = c._imap._simple_command(  # LIST-STATUS through the raw transport
            "LIST", '""', '"Ext"', "RETURN", "(SUBSCRIBED STATUS (MESSAGES UIDNEXT SIZE))"
        )
        assert typ == "OK"
        lines = c._imap.untagged_responses.pop("LIST", [])
        status = c._imap.untagged_responses.pop("STATUS", [])
        assert any(b"\\Subscribed" in line for line in lines)
        assert status and b"MESSAGES 0" in status[0] and b"SIZE 0" in status[0]
    finally:
        c.logout()


def test_acl_between_two_accounts(server: Any) -> None:
    a = client(server)
    b = client(server, "b@example.test", "pw-b")
    try:
        a.create_folder("Shared")
        a.select_folder("Shared")
        a.append("Shared", simple("for bob"))
        # bob sees nothing yet
        with pytest.raises(IMAPClientError, match="NONEXISTENT"):
            b.select_folder("~a@example.test/Shared")
        a.setacl("Shared", "b@example.test", "lr")
        acl = dict(a.getacl("Shared"))
        assert acl[b"b@example.test"] == b"lr"
        assert acl[b"a@example.test"] == b"lrswipcda"  # the owner's implicit rights
        info = b.select_folder("~a@example.test/Shared", readonly=True)
        assert info[b"EXISTS"] == 1
        assert b.search(["SUBJECT", "bob"]) == [1]
        typ, data = b._imap._simple_command("MYRIGHTS", '"~a@example.test/Shared"')
        assert typ == "OK"
        assert b"lr" in b._imap.untagged_responses.pop("MYRIGHTS")[0]
        # read-only: no store, no append
        b.unselect_folder()
        with pytest.raises(IMAPClientError, match="NOPERM"):
            b.append("~a@example.test/Shared", simple("nope"))
        with pytest.raises(IMAPClientError, match="NOPERM"):
            b.setacl("~a@example.test/Shared", "b@example.test", "lrswi")
        # grant insert: the append works
        a.setacl("Shared", "b@example.test", "+i")
        b.append("~a@example.test/Shared", simple("from bob"))
        assert a.folder_status("Shared", ["MESSAGES"])[b"MESSAGES"] == 2
        typ, _ = a._imap._simple_command("DELETEACL", "Shared", "b@example.test")
        assert typ == "OK"
        with pytest.raises(IMAPClientError):
            b.select_folder("~a@example.test/Shared")
    finally:
        a.logout()
        b.logout()


def test_quota(tmp_path: Any) -> None:
    with imap_server(tmp_path) as running:
        running.server.objects.update_account_settings("a@example.test", {"MaxAccountSize": "2K"})
        c = client(running)
        try:
            roots = c.get_quota_root("INBOX")
            assert roots[0].quota_roots == [""]
            quota = roots[1][0]
            assert quota.resource == "STORAGE" and quota.limit == 2
            c.append("INBOX", b"Subject: small\r\n\r\n" + b"x" * 100 + b"\r\n")
            with pytest.raises(IMAPClientError, match="OVERQUOTA"):
                c.append("INBOX", b"Subject: big\r\n\r\n" + b"x" * 4000 + b"\r\n")
        finally:
            c.logout()


def test_special_use_and_status_deleted(server: Any) -> None:
    c = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    c.login("b@example.test", "pw-b")
    assert c.create("Trash")[0] == "OK"
    assert c.create("Plain")[0] == "OK"
    typ, data = c.list('""', "*")
    assert typ == "OK"
    trash = [line for line in data if line.endswith(b"Trash")]
    assert trash and b"\\Trash" in trash[0]
    typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')  # type: ignore[attr-defined]
    assert typ == "OK"
    lines = c.untagged_responses.pop("LIST")
    assert len(lines) == 1 and lines[0].endswith(b"Trash")
    c.append("Plain", "(\\Deleted)", None, simple("gone"))
    c.append("Plain", None, None, simple("kept"))
    typ, data = c.status("Plain", "(MESSAGES DELETED SIZE UNSEEN)")
    assert typ == "OK"
    assert b"MESSAGES 2" in data[0] and b"DELETED 1" in data[0] and b"UNSEEN 2" in data[0]
    c.logout()


def test_select_reports_the_first_unseen_to_rev1_clients(server: Any) -> None:
    """IMAP4rev1 SELECT: ``[UNSEEN n]`` is the first message without \\Seen (none when
    every message is seen), the keywords in use are in FLAGS, EXISTS counts them."""
    c = imaplib.IMAP4("127.0.0.1", server.port("imap"))
    c.login("b@example.test", "pw-b")
    assert c.create("Unseen")[0] == "OK"
    for flags in ("(\\Seen)", "(\\Seen $Work)", None, "(\\Seen)"):
        c.append("Unseen", flags, None, simple("u"))
    typ, data = c.select("Unseen")
    assert (typ, data) == ("OK", [b"4"])
    assert c.response("UNSEEN") == ("UNSEEN", [b"3"])
    assert b"$Work" in c.response("FLAGS")[1][0]
    c.store("3", "+FLAGS", "(\\Seen)")
    c.close()
    c.select("Unseen")
    assert c.response("UNSEEN") == ("UNSEEN", [None])
    c.logout()
