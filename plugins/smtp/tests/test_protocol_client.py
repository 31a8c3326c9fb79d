"""Client core: command bytes, reply parsing, extension and pipelining rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_smtp.protocol import (
    NEED_DATA,
    Body,
    ClientConnection,
    ClientState,
    ConnectionClosed,
    LocalProtocolError,
    Notify,
    RemoteProtocolError,
    Ret,
    ServerReply,
)

EHLO_REPLY = (
    b"250-mx.test hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-STARTTLS\r\n"
    b"250 AUTH PLAIN LOGIN\r\n"
)


def feed(conn: ClientConnection, data: bytes) -> list[ServerReply | ConnectionClosed]:
    conn.receive_data(data)
    out = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)  # type: ignore[arg-type]
        if isinstance(event, ConnectionClosed):
            break
    return out


def ready(ehlo: bytes = EHLO_REPLY, **kw: bool) -> ClientConnection:
    conn = ClientConnection(**kw)
    feed(conn, b"220 mx.test ESMTP ready\r\n")
    conn.lhlo("me.example") if conn.lmtp else conn.ehlo("me.example")
    feed(conn, ehlo)
    assert conn.state is ClientState.READY
    return conn


def test_greeting_and_ehlo() -> None:
    conn = ClientConnection()
    assert feed(conn, b"220-mx.test ESMTP\r\n220 second\r\n") == [
        ServerReply(220, None, ("mx.test ESMTP", "second"), "GREETING")
    ]
    assert conn.greeting_esmtp
    assert conn.ehlo("me.example") == b"EHLO me.example\r\n"
    [reply] = feed(conn, EHLO_REPLY)
    assert reply.command == "EHLO" and reply.lines[0] == "mx.test hello"
    assert conn.supports("pipelining") and conn.max_size == 1000
    assert conn.auth_mechanisms == {"PLAIN", "LOGIN"}
    assert conn.extensions["SIZE"] == "1000"


def test_greeting_without_esmtp_and_helo() -> None:
    conn = ClientConnection()
    feed(conn, b"220 mx.test\r\n")
    assert not conn.greeting_esmtp
    assert conn.helo("me") == b"HELO me\r\n"
    feed(conn, b"250 mx.test\r\n")
    assert conn.extensions == {} and conn.state is ClientState.READY


def test_ehlo_refused_then_helo() -> None:
    conn = ClientConnection()
    feed(conn, b"220 x\r\n")
    conn.ehlo("me")
    assert feed(conn, b"502 5.5.2 no EHLO\r\n")[0].status == "5.5.2"
    assert conn.state is ClientState.CONNECTED
    assert conn.helo("me") == b"HELO me\r\n"


def test_enhanced_status_parsing() -> None:
    conn = ready()
    conn.mail("a@b.example")
    [reply] = feed(conn, b"250 2.1.0 Sender OK\r\n")
    assert (reply.code, reply.status, reply.lines) == (250, "2.1.0", ("Sender OK",))
    conn.rcpt("c@d.example")
    [reply] = feed(conn, b"550-5.1.1 No such user\r\n550-5.1.1 here\r\n550 5.1.1\r\n")
    assert reply.lines == ("No such user", "here", "") and reply.recipient == "c@d.example"
    assert reply.is_permanent
    conn.rcpt("e@d.example")
    [reply] = feed(conn, b"450 4.2.1 mismatched\r\n")
    assert reply.status == "4.2.1"


def test_status_class_must_match_code() -> None:
    conn = ready()
    conn.noop()
    [reply] = feed(conn, b"250 5.0.0 weird\r\n")
    assert reply.status is None and reply.lines == ("5.0.0 weird",)


def test_bare_code_and_lf_only() -> None:
    conn = ready()
    conn.noop()
    assert feed(conn, b"250\n") == [ServerReply(250, None, ("",), "NOOP")]


@pytest.mark.parametrize(
    "data",
    [b"25 x\r\n", b"abc\r\n", b"250-x\r\n251 y\r\n", b"250x\r\n", b"600 x\r\n"],
)
def test_malformed_replies(data: bytes) -> None:
    conn = ready()
    conn.noop()
    with pytest.raises(RemoteProtocolError):
        feed(conn, data)


def test_reply_limits_and_unsolicited() -> None:
    conn = ClientConnection(max_line=100)
    with pytest.raises(RemoteProtocolError):
        feed(conn, b"220 " + b"x" * 200)
    conn = ready()
    with pytest.raises(RemoteProtocolError):
        feed(conn, b"250 what\r\n")
    conn = ready()
    [reply] = feed(conn, b"421 4.4.2 idle timeout\r\n")
    assert reply.command == "" and conn.state is ClientState.CLOSED


def test_eof() -> None:
    conn = ready()
    assert feed(conn, b"") == [ConnectionClosed()]
    assert conn.state is ClientState.CLOSED


def test_mail_and_rcpt_parameters() -> None:
    conn = ready()
    assert (
        conn.mail(
            "a@b.example",
            size=500,
            body=Body.EIGHT_BIT_MIME,
            smtputf8=True,
            ret=Ret.HDRS,
            envid="id+1=",
            auth="<>",
        )
        == b"MAIL FROM:<a@b.example> SIZE=500 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D AUTH=<>\r\n"
    )
    assert (
        conn.rcpt(
            "j\u00f6@x.example",
            notify=frozenset({Notify.DELAY, Notify.SUCCESS}),
            orcpt=("rfc822", "j+x@x.example"),
        )
        == "RCPT TO:<jö@x.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;j+2Bx@x.example\r\n".encode()
    )
    assert conn.rcpt("n@x.example", notify=frozenset()) == b"RCPT TO:<n@x.example> NOTIFY=NEVER\r\n"
    assert conn.data() == b"DATA\r\n"


def test_null_sender_and_size_dropped_without_offer() -> None:
    conn = ready(b"250-mx\r\n250 PIPELINING\r\n")
    assert conn.mail("", size=10) == b"MAIL FROM:<>\r\n"


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"body": Body.EIGHT_BIT_MIME}, "8BITMIME"),
        ({"body": Body.BINARY_MIME}, "BINARYMIME"),
        ({"smtputf8": True}, "SMTPUTF8"),
        ({"ret": Ret.FULL}, "DSN"),
        ({"envid": "x"}, "DSN"),
        ({"auth": "a@b"}, "AUTH"),
    ],
)
def test_parameters_need_offer(kwargs: dict, missing: str) -> None:
    conn = ready(b"250-mx\r\n250 PIPELINING\r\n")
    with pytest.raises(LocalProtocolError, match=missing):
        conn.mail("a@b.example", **kwargs)


def test_local_errors() -> None:
    conn = ready(b"250-mx\r\n250 PIPELINING\r\n")
    with pytest.raises(LocalProtocolError):
        conn.rcpt("a@b.c")  # before MAIL
    with pytest.raises(LocalProtocolError):
        conn.mail("j\u00f6@b.c")  # non-ASCII without SMTPUTF8
    with pytest.raises(LocalProtocolError):
        conn.mail("a@b.c\r\nRCPT TO:<x@y>")  # injection
    conn.mail("a@b.c")
    with pytest.raises(LocalProtocolError):
        conn.rcpt("j\u00f6@b.c")
    with pytest.raises(LocalProtocolError):
        conn.rcpt("x@y.z", notify=frozenset())  # no DSN
    with pytest.raises(LocalProtocolError):
        conn.data()  # no RCPT
    with pytest.raises(LocalProtocolError):
        conn.message(b"x")  # no 354
    with pytest.raises(LocalProtocolError):
        conn.bdat(b"x")  # no CHUNKING
    with pytest.raises(LocalProtocolError):
        conn.starttls()
    with pytest.raises(LocalProtocolError):
        conn.auth("PLAIN")
    with pytest.raises(LocalProtocolError):
        conn.lhlo("x")


def test_no_pipelining_means_one_at_a_time() -> None:
    conn = ready(b"250 mx\r\n")
    conn.mail("a@b.c")
    with pytest.raises(LocalProtocolError, match="PIPELINING"):
        conn.rcpt("d@e.f")
    feed(conn, b"250 ok\r\n")
    assert conn.rcpt("d@e.f") == b"RCPT TO:<d@e.f>\r\n"


def test_pipelining_group_and_sync_points() -> None:
    conn = ready()
    wire = conn.mail("a@b.c") + conn.rcpt("d@e.f") + conn.rcpt("g@e.f") + conn.data()
    assert wire == b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<g@e.f>\r\nDATA\r\n"
    assert conn.pending_replies == 4
    with pytest.raises(LocalProtocolError, match="DATA"):
        conn.noop()
    replies = feed(conn, b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n")
    assert [(r.command, r.code, r.recipient) for r in replies] == [
        ("MAIL", 250, None),
        ("RCPT", 250, "d@e.f"),
        ("RCPT", 550, "g@e.f"),
        ("DATA", 354, None),
    ]
    assert conn.state is ClientState.MESSAGE
    assert conn.message(b"Subject: x\r\n\r\n.hi") == b"Subject: x\r\n\r\n..hi\r\n.\r\n"
    # The message end may be followed by the next transaction in the same group.
    assert conn.mail("z@b.c") == b"MAIL FROM:<z@b.c>\r\n"
    replies = feed(conn, b"250 2.0.0 queued\r\n250 2.1.0 ok\r\n")
    assert [r.command for r in replies] == ["MESSAGE", "MAIL"]


def test_ehlo_is_a_sync_point() -> None:
    conn = ClientConnection()
    feed(conn, b"220 x\r\n")
    conn.ehlo("me")
    with pytest.raises(LocalProtocolError):
        conn.mail("a@b.c")


def test_data_refused() -> None:
    conn = ready()
    conn.mail("a@b.c")
    conn.rcpt("d@e.f")
    conn.data()
    feed(conn, b"250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n")
    assert conn.state is ClientState.READY
    assert conn.rset() == b"RSET\r\n"


def test_bdat_and_binarymime() -> None:
    conn = ready()
    conn.mail("a@b.c", body=Body.BINARY_MIME)
    conn.rcpt("d@e.f")
    with pytest.raises(LocalProtocolError, match="BDAT"):
        conn.data()
    assert conn.bdat(b"\x00\r\n.\r\n") == b"BDAT 6\r\n\x00\r\n.\r\n"
    assert conn.bdat(b"end", last=True) == b"BDAT 3 LAST\r\nend"
    replies = feed(conn, b"250 ok\r\n250 ok\r\n250 2.0.0 6 octets\r\n250 2.0.0 queued\r\n")
    assert [r.command for r in replies] == ["MAIL", "RCPT", "BDAT", "BDAT"]
    assert conn.state is ClientState.READY


def test_bdat_failure_stops_chunking() -> None:
    conn = ready()
    conn.mail("a@b.c")
    conn.rcpt("d@e.f")
    conn.bdat(b"abc")
    feed(conn, b"250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n")
    assert conn.state is ClientState.READY
    with pytest.raises(LocalProtocolError):
        conn.bdat(b"more")


def test_lmtp_per_recipient_replies_labelled() -> None:
    conn = ready(b"250-mx\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n", lmtp=True)
    wire = conn.mail("s@x.y") + conn.rcpt("a@x.y") + conn.rcpt("bad@x.y") + conn.rcpt("b@x.y")
    wire += conn.data()
    feed(conn, b"250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n")
    conn.message(b"hi\r\n")
    replies = feed(conn, b"250 2.1.5 a delivered\r\n452 4.2.2 b over quota\r\n")
    assert [(r.command, r.recipient, r.code) for r in replies] == [
        ("MESSAGE", "a@x.y", 250),
        ("MESSAGE", "b@x.y", 452),
    ]
    assert conn.pending_replies == 0


def test_lmtp_partial_reply_arrival() -> None:
    conn = ready(b"250 mx\r\n", lmtp=True)
    conn.mail("s@x.y")
    feed(conn, b"250 ok\r\n")
    conn.rcpt("a@x.y")
    feed(conn, b"250 ok\r\n")
    conn.rcpt("b@x.y")
    feed(conn, b"250 ok\r\n")
    conn.data()
    feed(conn, b"354 go\r\n")
    conn.message(b"x")
    assert [r.recipient for r in feed(conn, b"250 a\r\n")] == ["a@x.y"]
    assert conn.pending_replies == 1
    assert [r.recipient for r in feed(conn, b"250 b\r\n")] == ["b@x.y"]


def test_starttls_discards_injected_plaintext() -> None:
    conn = ready()
    assert conn.starttls() == b"STARTTLS\r\n"
    feed_result = feed(conn, b"220 2.0.0 go\r\n")
    assert feed_result[0].code == 220 and conn.state is ClientState.TLS
    conn.receive_data(b"250 injected\r\n")
    assert conn.start_tls_done() == len(b"250 injected\r\n")
    assert conn.extensions == {} and conn.state is ClientState.CONNECTED
    assert conn.ehlo("me") == b"EHLO me\r\n"
    feed(conn, b"250-mx\r\n250 AUTH PLAIN\r\n")
    with pytest.raises(LocalProtocolError):
        conn.starttls()


def test_auth_exchange() -> None:
    conn = ready()
    assert conn.auth("login") == b"AUTH LOGIN\r\n"
    [reply] = feed(conn, b"334 VXNlcm5hbWU6\r\n")
    assert reply.challenge() == b"Username:" and conn.state is ClientState.AUTH
    assert conn.auth_response(b"user") == b"dXNlcg==\r\n"
    feed(conn, b"334 UGFzc3dvcmQ6\r\n")
    assert conn.auth_response(None) == b"*\r\n"
    feed(conn, b"501 5.7.0 cancelled\r\n")
    assert not conn.authenticated and conn.state is ClientState.READY
    assert conn.auth("PLAIN", b"\0u\0p") == b"AUTH PLAIN AHUAcA==\r\n"
    feed(conn, b"235 2.7.0 ok\r\n")
    assert conn.authenticated
    conn2 = ready()
    assert conn2.auth("PLAIN", b"") == b"AUTH PLAIN =\r\n"


def test_quit() -> None:
    conn = ready()
    assert conn.quit() == b"QUIT\r\n"
    with pytest.raises(LocalProtocolError):
        conn.noop()
    [reply] = feed(conn, b"221 2.0.0 bye\r\n")
    assert reply.command == "QUIT" and conn.state is ClientState.CLOSED


def test_vrfy_noop_rset() -> None:
    conn = ready()
    assert conn.vrfy("bob") == b"VRFY bob\r\n"
    feed(conn, b"252 2.0.0 maybe\r\n")
    assert conn.noop() == b"NOOP\r\n"
    feed(conn, b"250 ok\r\n")
    conn.mail("a@b.c")
    assert conn.rset() == b"RSET\r\n"


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=150), max_size=10))
def test_reply_parsing_any_chunking(cuts: list[int]) -> None:
    stream = b"220-a\r\n220 b\r\n" + EHLO_REPLY
    points = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    conn = ClientConnection()
    replies = []
    for a, b in zip(points, points[1:], strict=False):
        conn.receive_data(stream[a:b])
        while (event := conn.next_event()) is not NEED_DATA:
            replies.append(event)
            if event.command == "GREETING":  # type: ignore[union-attr]
                conn.ehlo("me")
    assert [r.code for r in replies] == [220, 250]  # type: ignore[union-attr]
    assert conn.supports("AUTH")
