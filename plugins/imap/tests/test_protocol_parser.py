"""Command grammar: one test per command family, typed results and exact BAD replies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from unigate_imap.protocol import (
    AllKey,
    AndKey,
    Append,
    Authenticate,
    Capability,
    CommandSyntaxError,
    Compress,
    Copy,
    Create,
    DateKey,
    DeleteAcl,
    Enable,
    Expunge,
    Fetch,
    FetchAtt,
    FlagKey,
    GetQuota,
    GetQuotaRoot,
    Id,
    Limits,
    List,
    Login,
    Lsub,
    ModSeqKey,
    Move,
    MyRights,
    Notify,
    NotifyEventGroup,
    NotKey,
    ObjectIdKey,
    OrKey,
    QResync,
    Rename,
    Replace,
    Search,
    Section,
    Select,
    SeqKey,
    SequenceSet,
    SetAcl,
    SetQuota,
    SizeKey,
    Sort,
    SortCriterion,
    Status,
    Store,
    TextKey,
    Thread,
    WithinKey,
    parse_command,
)

L = Limits()


def p(data: bytes, utf8: bool = False):
    return parse_command(data, L, utf8=utf8)


def bad(data: bytes) -> bytes:
    with pytest.raises(CommandSyntaxError) as info:
        p(data)
    return info.value.response


def test_simple_commands() -> None:
    for word in (
        "CAPABILITY",
        "NOOP",
        "LOGOUT",
        "STARTTLS",
        "NAMESPACE",
        "IDLE",
        "CHECK",
        "CLOSE",
        "UNSELECT",
        "EXPUNGE",
    ):
        cmd = p(b"a1 " + word.lower().encode())
        assert cmd.tag == "a1" and cmd.name == word
    assert p(b"x CAPABILITY") == Capability("x")
    assert bad(b"x CAPABILITY now") == b"x BAD unexpected characters at end of command\r\n"


def test_tag_and_unknown() -> None:
    assert bad(b"a1 FROB") == b"a1 BAD unknown command FROB\r\n"
    assert bad(b"+x NOOP") == b"* BAD missing or invalid tag\r\n"
    assert bad(b"a1") == b"a1 BAD expected SP\r\n"
    assert bad(b"a1 UID NOOP") == b"a1 BAD UID NOOP is not a command\r\n"


def test_login_and_authenticate() -> None:
    assert p(b'a LOGIN bob "p \\"w\\""') == Login("a", "bob", 'p "w"')
    assert p(b"a LOGIN {3}\r\nbob {2}\r\npw") == Login("a", "bob", "pw")
    assert p(b"a AUTHENTICATE plain") == Authenticate("a", "PLAIN", None)
    assert p(b"a AUTHENTICATE PLAIN =") == Authenticate("a", "PLAIN", b"")
    assert p(b"a AUTHENTICATE PLAIN AGJvYgBwdw==") == Authenticate("a", "PLAIN", b"\0bob\0pw")
    assert bad(b"a AUTHENTICATE PLAIN !!") == b"a BAD invalid base64 initial response\r\n"
    assert bad(b"a AUTHENTICATE PLAIN AGJvYgBwdw=x") == (
        b"a BAD invalid base64 initial response\r\n"
    )


def test_enable_select_qresync() -> None:
    assert p(b"a ENABLE CONDSTORE qresync") == Enable("a", ("CONDSTORE", "QRESYNC"))
    assert p(b"a select inbox") == Select("a", "INBOX")
    assert p(b'a EXAMINE "Sent Items" (CONDSTORE)') == Select("a", "Sent Items", True, True)
    cmd = p(b"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 4:6)))")
    assert cmd.qresync == QResync(
        67890007,
        20050715194045000,
        SequenceSet(((41, 41), (43, 211), (214, 541))),
        (SequenceSet(((1, 3),)), SequenceSet(((4, 6),))),
    )
    assert p(b"a SELECT INBOX (QRESYNC (1 2))").qresync == QResync(1, 2)


def test_mailbox_names_mutf7_and_utf8() -> None:
    assert p(b"a CREATE &ZeVnLIqe-").mailbox == "日本語"
    assert p('a CREATE "日本語"'.encode(), utf8=True).mailbox == "日本語"
    assert p(b"a CREATE &ZeVnLIqe-", utf8=True).mailbox == "&ZeVnLIqe-"
    assert p(b"a CREATE Foo (USE (\\Drafts))") == Create("a", "Foo", ("\\Drafts",))
    assert p(b"a RENAME a b") == Rename("a", "a", "b")


def test_list_forms() -> None:
    assert p(b'a LIST "" %') == List("a", "", ("%",))
    assert p(b"a LIST ~/ *]") == List("a", "~/", ("*]",))
    cmd = p(
        b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Drafts" %) '
        b"RETURN (CHILDREN STATUS (MESSAGES UNSEEN) SPECIAL-USE)"
    )
    assert cmd == List(
        "a",
        "",
        ("INBOX", "Drafts", "%"),
        ("SUBSCRIBED", "RECURSIVEMATCH"),
        ("CHILDREN", "STATUS", "SPECIAL-USE"),
        ("MESSAGES", "UNSEEN"),
        True,
    )
    assert p(b'a LSUB "" *') == Lsub("a", "", "*")
    assert p(b"a STATUS inbox (MESSAGES UIDNEXT size)") == Status(
        "a", "INBOX", ("MESSAGES", "UIDNEXT", "SIZE")
    )
    assert bad(b"a STATUS inbox ()") == b"a BAD empty list\r\n"


def test_append_multi_and_binary() -> None:
    cmd = p(
        b'a APPEND saved (\\seen $Junk) " 7-Feb-1994 21:52:25 -0800" {5}\r\nhello'
        b" ~{3}\r\n\x00\x01\x02"
    )
    assert isinstance(cmd, Append)
    first, second = cmd.messages
    assert first.flags == ("\\Seen", "$Junk")
    assert first.date == datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(timedelta(hours=-8)))
    assert first.data == b"hello" and not first.binary
    assert second.data == b"\x00\x01\x02" and second.binary and second.flags == ()
    assert bad(b"a APPEND x {2}\r\n\x00a") == b"a BAD NUL in literal (use literal8)\r\n"
    assert bad(b"a APPEND x") == b"a BAD APPEND needs a message\r\n"
    opts = p(
        b'a APPEND "Drafts" (\\Seen \\Draft) "20-JAN-2010 10:00:00 +0000" '
        b"(REPLACESUID(30675) CHECKOLDEXISTS) {3}\r\nabc"
    )
    assert isinstance(opts, Append)
    assert opts.messages[0].options == (("REPLACESUID", "30675"), ("CHECKOLDEXISTS", None))
    dated = p(b'a APPEND x "20-JAN-2010" {1}\r\nz')
    assert isinstance(dated, Append)
    assert dated.messages[0].date == datetime(2010, 1, 20, tzinfo=UTC)
    assert bad(b'a APPEND x "20-JAN-2010 25:00:00 +0000" {1}\r\nz') == (
        b"a BAD bad date-time '20-JAN-2010 25:00:00 +0000'\r\n"
    )


def test_search_program() -> None:
    cmd = p(
        b'a UID SEARCH RETURN (MIN COUNT SAVE) CHARSET utf-8 OR FROM "J\xc3\xb6rg" '
        b"(TO y NOT SEEN) 1:5 SINCE 1-Feb-2020 UID $ LARGER 10 KEYWORD $Junk "
        b'HEADER X-Spam "" MODSEQ "/flags/\\\\draft" all 620162338 YOUNGER 60 EMAILID M1'
    )
    assert isinstance(cmd, Search) and cmd.uid and cmd.charset == "UTF-8"
    assert cmd.return_options == ("MIN", "COUNT", "SAVE")
    assert cmd.key == AndKey(
        (
            OrKey(TextKey("FROM", "Jörg"), AndKey((TextKey("TO", "y"), NotKey(FlagKey("\\Seen"))))),
            SeqKey(SequenceSet(((1, 5),))),
            DateKey("SINCE", date(2020, 2, 1)),
            SeqKey(SequenceSet(saved=True), uid=True),
            SizeKey(True, 10),
            FlagKey("$Junk"),
            TextKey("HEADER", "", "X-Spam"),
            ModSeqKey(620162338, "/flags/\\draft", "ALL"),
            WithinKey(False, 60),
            ObjectIdKey("EMAILID", "M1"),
        )
    )
    assert p(b"a SEARCH ALL") == Search("a", key=AllKey())
    assert p(b"a SEARCH RETURN () NEW").return_options == ()
    assert p(b'a SEARCH SENTON "3-Mar-2021"').key == DateKey("ON", date(2021, 3, 3), True)
    assert bad(b"a SEARCH CHARSET X-NOPE ALL") == (
        b"a NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n"
    )
    assert bad(b"a SEARCH BEFORE 31-Feb-2020") == b"a BAD bad date '31-Feb-2020'\r\n"
    assert bad(b"a SEARCH FROB") == b"a BAD unknown search key FROB\r\n"
    assert bad(b"a SEARCH NOT") == b"a BAD expected SP\r\n"
    assert bad(b"a SEARCH NOT ") == b"a BAD expected atom\r\n"
    assert bad(b"a SEARCH (SEEN") == b"a BAD expected ')'\r\n"
    assert bad(b"a SEARCH " + b"(" * 40 + b"ALL" + b")" * 40) == (
        b"a BAD parentheses nested too deeply\r\n"
    )


def test_fetch_attributes() -> None:
    cmd = p(
        b"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject from)]<0.100> "
        b"BODY[1.2.MIME] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] BODY[] RFC822.SIZE MODSEQ "
        b"EMAILID BODYSTRUCTURE) (CHANGEDSINCE 12345)"
    )
    assert isinstance(cmd, Fetch)
    assert cmd.sequence_set == SequenceSet(((1, 0),))
    assert cmd.changedsince == 12345
    assert cmd.attributes == (
        FetchAtt("FLAGS"),
        FetchAtt("BODY", Section((), "HEADER.FIELDS", ("SUBJECT", "FROM")), (0, 100), True),
        FetchAtt("BODY", Section((1, 2), "MIME")),
        FetchAtt("BINARY", Section((1,)), (5, 10), True),
        FetchAtt("BINARY.SIZE", Section((2,))),
        FetchAtt("BODY", Section()),
        FetchAtt("RFC822.SIZE"),
        FetchAtt("MODSEQ"),
        FetchAtt("EMAILID"),
        FetchAtt("BODYSTRUCTURE"),
    )
    assert cmd.attributes[1].response_name() == b"BODY[HEADER.FIELDS (SUBJECT FROM)]<0>"
    assert cmd.attributes[2].response_name() == b"BODY[1.2.MIME]"
    assert cmd.attributes[3].response_name() == b"BINARY[1]"  # no <origin> for BINARY
    full = p(b"a UID FETCH 1:3 FULL (CHANGEDSINCE 5 VANISHED)")
    assert full.macro == "FULL" and full.vanished and full.uid
    assert [a.name for a in full.attributes] == [
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "UID",
    ]
    assert p(b"a FETCH $ fast").sequence_set.saved
    assert bad(b"a FETCH 1 (VANISHED)") == b"a BAD unknown fetch attribute VANISHED\r\n"
    assert bad(b"a FETCH 1 FLAGS (VANISHED)") == (
        b"a BAD VANISHED needs UID FETCH with CHANGEDSINCE\r\n"
    )
    assert bad(b"a FETCH 1 BODY[0]") == b"a BAD bad section part\r\n"
    assert bad(b"a FETCH 1 BINARY[1.TEXT]") == b"a BAD BINARY section takes part numbers only\r\n"
    assert bad(b"a FETCH 0 FLAGS") == b"a BAD bad sequence number '0'\r\n"


def test_store_copy_move_expunge() -> None:
    assert p(b"a STORE 2:4 +FLAGS.SILENT (\\Deleted \\seen)") == Store(
        "a", False, SequenceSet(((2, 4),)), "+", True, ("\\Deleted", "\\Seen")
    )
    assert p(b"a UID STORE 1 (UNCHANGEDSINCE 12) FLAGS $A $B") == Store(
        "a", True, SequenceSet(((1, 1),)), "", False, ("$A", "$B"), 12
    )
    assert p(b"a UID COPY 1:2 Trash") == Copy("a", True, SequenceSet(((1, 2),)), "Trash")
    assert p(b"a MOVE 5 inbox") == Move("a", False, SequenceSet(((5, 5),)), "INBOX")
    assert p(b"a UID EXPUNGE 3:*") == Expunge("a", SequenceSet(((3, 0),)))


def test_sort_and_thread() -> None:
    assert p(b"a UID SORT (REVERSE DATE subject) UTF-8 SINCE 1-Jan-2020") == Sort(
        "a",
        True,
        (SortCriterion("DATE", True), SortCriterion("SUBJECT")),
        "UTF-8",
        DateKey("SINCE", date(2020, 1, 1)),
    )
    assert p(b"a THREAD REFERENCES US-ASCII ALL") == Thread(
        "a", False, "REFERENCES", "US-ASCII", AllKey()
    )
    assert bad(b"a SORT (REVERSE) UTF-8 ALL") == b"a BAD REVERSE must precede a sort key\r\n"
    assert bad(b"a THREAD FOO UTF-8 ALL") == b"a BAD unknown thread algorithm FOO\r\n"


def test_acl_quota_id_compress() -> None:
    assert p(b"a SETACL INBOX Fred +rwi") == SetAcl("a", "INBOX", "Fred", "+rwi")
    assert p(b"a DELETEACL INBOX Fred") == DeleteAcl("a", "INBOX", "Fred")
    assert p(b"a MYRIGHTS foo") == MyRights("a", "foo")
    assert p(b'a GETQUOTA ""') == GetQuota("a", "")
    assert p(b"a GETQUOTAROOT INBOX") == GetQuotaRoot("a", "INBOX")
    assert p(b'a SETQUOTA "" (STORAGE 512 MESSAGE 10)') == SetQuota(
        "a", "", (("STORAGE", 512), ("MESSAGE", 10))
    )
    assert p(b'a ID ("name" "sodr" "version" NIL)') == Id(
        "a", (("name", "sodr"), ("version", None))
    )
    assert p(b"a ID NIL") == Id("a", None)
    assert p(b"a COMPRESS deflate") == Compress("a", "DEFLATE")


def test_notify_and_replace() -> None:
    cmd = p(
        b"a NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge)) "
        b"(SUBTREE (INBOX Lists) (MailboxName)) (PERSONAL NONE)"
    )
    assert isinstance(cmd, Notify) and cmd.status
    sel, sub, pers = cmd.groups
    assert sel.events == ("MessageNew", "MessageExpunge") and sel.selected
    assert sel.fetch_attributes == (FetchAtt("UID"), FetchAtt("FLAGS"))
    assert sub.mailboxes == ("INBOX", "Lists") and sub.events == ("MailboxName",)
    assert pers.events == () and not pers.selected
    assert p(b"a NOTIFY NONE") == Notify("a", False, None)
    rep = p(b"a UID REPLACE 7 Drafts (\\Draft) {3+}\r\nabc")
    assert isinstance(rep, Replace) and rep.uid and rep.target == 7
    assert rep.message.flags == ("\\Draft",) and rep.message.data == b"abc"


def test_notify_set_forms() -> None:
    """RFC 5465 §8: every filter, NONE events, one-or-more-mailbox, case-insensitive words."""
    cmd = p(
        b"t1 notify set (selected-delayed (messagenew (uid body.peek[header.fields (from)])"
        b" messageexpunge flagchange)) (inboxes (MessageNew MessageExpunge))"
        b' (personal (MailboxName SubscriptionChange)) (subscribed NONE) (subtree "My Box"'
        b" (MessageNew MessageExpunge)) (MAILBOXES (inbox {3+}\r\na b) (MessageExpunge"
        b" MessageNew)) (personal (Frobnicate))"
    )
    assert cmd == Notify(
        "t1",
        False,
        (
            NotifyEventGroup(
                "SELECTED-DELAYED",
                (),
                ("MessageNew", "MessageExpunge", "FlagChange"),
                (
                    FetchAtt("UID"),
                    FetchAtt("BODY", Section((), "HEADER.FIELDS", ("FROM",)), peek=True),
                ),
            ),
            NotifyEventGroup("INBOXES", (), ("MessageNew", "MessageExpunge")),
            NotifyEventGroup("PERSONAL", (), ("MailboxName", "SubscriptionChange")),
            NotifyEventGroup("SUBSCRIBED", (), ()),
            NotifyEventGroup("SUBTREE", ("My Box",), ("MessageNew", "MessageExpunge")),
            NotifyEventGroup("MAILBOXES", ("INBOX", "a b"), ("MessageExpunge", "MessageNew")),
            NotifyEventGroup("PERSONAL", (), ("FROBNICATE",)),  # event-ext: the session's NO
        ),
    )
    assert p(b"t2 NOTIFY SET STATUS (SELECTED NONE)") == Notify(
        "t2", True, (NotifyEventGroup("SELECTED", (), ()),)
    )


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"n1 NOTIFY", b"n1 BAD expected SP\r\n"),
        (b"n2 NOTIFY ALL", b"n2 BAD expected NONE or SET\r\n"),
        (b"n3 NOTIFY SET", b"n3 BAD expected SP\r\n"),
        (b"n4 NOTIFY SET STATUS", b"n4 BAD expected '('\r\n"),
        (b"n5 NOTIFY SET (FOLDERS (MessageNew))", b"n5 BAD unknown NOTIFY filter FOLDERS\r\n"),
        (b"n6 NOTIFY SET (SUBTREE (MessageNew MessageExpunge))", b"n6 BAD expected SP\r\n"),
        (b"n7 NOTIFY SET (MAILBOXES () NONE)", b"n7 BAD expected astring\r\n"),
        (b"n8 NOTIFY SET (PERSONAL ())", b"n8 BAD expected atom\r\n"),
        (b"n9 NOTIFY SET (PERSONAL MessageNew)", b"n9 BAD expected '('\r\n"),
        (b"n10 NOTIFY SET (PERSONAL NONE) ", b"n10 BAD expected '('\r\n"),
        (
            b"n11 NOTIFY NONE (PERSONAL NONE)",
            b"n11 BAD unexpected characters at end of command\r\n",
        ),
        (
            b"n12 NOTIFY SET (SELECTED (MessageNew))",
            b"n12 BAD NOTIFY: MessageNew and MessageExpunge must be given together\r\n",
        ),
        (
            b"n13 NOTIFY SET (PERSONAL (MessageExpunge))",
            b"n13 BAD NOTIFY: MessageNew and MessageExpunge must be given together\r\n",
        ),
        (
            b"n14 NOTIFY SET (PERSONAL (FlagChange))",
            b"n14 BAD NOTIFY: FlagChange needs MessageNew and MessageExpunge\r\n",
        ),
        (
            b"n15 NOTIFY SET (SELECTED (AnnotationChange))",
            b"n15 BAD NOTIFY: AnnotationChange needs MessageNew and MessageExpunge\r\n",
        ),
        (
            b"n16 NOTIFY SET (SELECTED (MessageNew MessageExpunge MailboxName))",
            b"n16 BAD NOTIFY: only message events are allowed for the selected mailbox\r\n",
        ),
        (
            b"n17 NOTIFY SET (SELECTED NONE) (SELECTED-DELAYED NONE)",
            b"n17 BAD NOTIFY: SELECTED or SELECTED-DELAYED may be given once\r\n",
        ),
        (
            b"n18 NOTIFY SET (INBOXES (MessageNew (UID) MessageExpunge))",
            b"n18 BAD NOTIFY: fetch attributes are only allowed for the selected mailbox\r\n",
        ),
        (
            b"n19 NOTIFY SET (SELECTED (MessageNew () MessageExpunge))",
            b"n19 BAD unknown fetch attribute \r\n",
        ),
        (
            b"n20 NOTIFY SET (SELECTED (MessageNew (ALL) MessageExpunge))",
            b"n20 BAD unknown fetch attribute ALL\r\n",
        ),
        (b"n21 NOTIFY SET (PERSONAL NONEX)", b"n21 BAD expected '('\r\n"),
    ],
)
def test_notify_errors_are_exact(line: bytes, reply: bytes) -> None:
    assert bad(line) == reply


def test_token_limit() -> None:
    tight = Limits(max_tokens=10)
    with pytest.raises(CommandSyntaxError) as info:
        parse_command(b"a SEARCH " + b" ".join([b"SEEN"] * 20), tight)
    assert info.value.response == b"a BAD too many tokens in command\r\n"
