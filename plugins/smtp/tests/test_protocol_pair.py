"""Client core and server core talking to each other in memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_smtp.protocol import (
    NEED_DATA,
    PAUSED,
    Auth,
    Body,
    Chunk,
    ClientConnection,
    ClientState,
    Event,
    Extensions,
    Limits,
    MessageData,
    Notify,
    ProtocolError,
    RcptTo,
    Reply,
    ServerConnection,
    ServerReply,
    ServerState,
)
from unigate_smtp.protocol.harness import accept_all


def policy(conn: ServerConnection, event: Event) -> Reply | list[Reply]:
    if isinstance(event, RcptTo) and event.address.startswith("unknown"):
        return Reply(550, "5.1.1", "No such user")
    if isinstance(event, Auth):
        ok = event.initial == b"\0user\0secret"
        return Reply(235, "2.7.0", "OK") if ok else Reply(535, "5.7.8", "Bad credentials")
    return accept_all(conn, event)


class Pair:
    def __init__(self, server: ServerConnection, client: ClientConnection) -> None:
        self.server, self.client = server, client
        self.events: list[Event] = []
        self.client.receive_data(server.send(Reply(220, None, "mx.test ESMTP")))

    def send(self, data: bytes) -> list[ServerReply]:
        """Client bytes to the server; run the server; return the client's parsed replies."""
        self.server.receive_data(data)
        out = bytearray()
        while True:
            event = self.server.next_event()
            if event is NEED_DATA or event is PAUSED:
                break
            assert isinstance(event, Event)
            self.events.append(event)
            if isinstance(event, ProtocolError):
                out += self.server.send(event.reply)
                continue
            replies = policy(self.server, event)
            for reply in [replies] if isinstance(replies, Reply) else replies:
                out += self.server.send(reply)
            if self.server.state is ServerState.CLOSED:
                break
        return self.replies(bytes(out))

    def replies(self, data: bytes = b"") -> list[ServerReply]:
        if data:
            self.client.receive_data(data)
        out = []
        while (event := self.client.next_event()) is not NEED_DATA:
            assert isinstance(event, ServerReply)
            out.append(event)
        return out


def greeted(*, lmtp: bool = False, **server_kw: object) -> Pair:
    server_kw.setdefault("extensions", Extensions(starttls=True, auth=("PLAIN",)))
    pair = Pair(
        ServerConnection(hostname="mx.test", lmtp=lmtp, **server_kw),  # type: ignore[arg-type]
        ClientConnection(lmtp=lmtp),
    )
    [greeting] = pair.replies()
    assert greeting.code == 220 and pair.client.greeting_esmtp
    [ehlo] = pair.send(pair.client.lhlo("c.test") if lmtp else pair.client.ehlo("c.test"))
    assert ehlo.code == 250 and pair.client.supports("PIPELINING")
    return pair


def test_pipelined_transaction_with_tricky_content() -> None:
    pair = greeted()
    c = pair.client
    message = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nlast line without CRLF"
    group = (
        c.mail("s@x.test", size=len(message), body=Body.EIGHT_BIT_MIME)
        + c.rcpt("a@x.test", notify=frozenset({Notify.FAILURE}))
        + c.rcpt("unknown@x.test")
        + c.data()
    )
    replies = pair.send(group)
    assert [(r.command, r.code, r.status) for r in replies] == [
        ("MAIL", 250, "2.0.0"),
        ("RCPT", 250, "2.0.0"),
        ("RCPT", 550, "5.1.1"),
        ("DATA", 354, None),
    ]
    [end] = pair.send(c.message(message) + c.quit())[:1]
    assert end.command == "MESSAGE" and end.code == 250
    assert pair.replies() == []
    received = [e for e in pair.events if isinstance(e, MessageData)]
    assert received == [MessageData(message + b"\r\n")]
    assert c.state is ClientState.CLOSED
    assert pair.server.state is ServerState.CLOSED


def test_quit_reply_reaches_client() -> None:
    pair = greeted()
    [bye] = pair.send(pair.client.quit())
    assert (bye.command, bye.code) == ("QUIT", 221)


def test_chunking_binarymime() -> None:
    pair = greeted()
    c = pair.client
    payload = bytes(range(256)) * 4
    replies = pair.send(
        c.mail("s@x.test", body=Body.BINARY_MIME)
        + c.rcpt("a@x.test")
        + c.bdat(payload[:500])
        + c.bdat(payload[500:], last=True)
    )
    assert [r.code for r in replies] == [250, 250, 250, 250]
    chunks = [e for e in pair.events if isinstance(e, Chunk)]
    assert b"".join(ch.data for ch in chunks) == payload and chunks[-1].last


def test_lmtp_session() -> None:
    pair = greeted(lmtp=True)
    c = pair.client
    pair.send(
        c.mail("s@x.test")
        + c.rcpt("a@x.test")
        + c.rcpt("unknown@x.test")
        + c.rcpt("b@x.test")
        + c.data()
    )
    replies = pair.send(c.message(b"hello"))
    assert [(r.recipient, r.code, r.status) for r in replies] == [
        ("a@x.test", 250, "2.1.5"),
        ("b@x.test", 250, "2.1.5"),
    ]
    assert c.pending_replies == 0 and pair.server.state is ServerState.READY


def test_starttls_then_auth() -> None:
    pair = greeted()
    c = pair.client
    [ready] = pair.send(c.starttls())
    assert ready.code == 220 and c.state is ClientState.TLS
    assert pair.server.state is ServerState.TLS
    pair.server.start_tls_done()
    c.start_tls_done()
    [ehlo] = pair.send(c.ehlo("c.test"))
    assert "STARTTLS" not in c.extensions and c.auth_mechanisms == {"PLAIN"}
    [bad] = pair.send(c.auth("PLAIN", b"\0user\0wrong"))
    assert (bad.code, bad.status) == (535, "5.7.8")
    [good] = pair.send(c.auth("PLAIN", b"\0user\0secret"))
    assert good.code == 235 and c.authenticated and pair.server.authenticated


def test_server_limits_seen_by_client() -> None:
    pair = greeted(limits=Limits(max_message_size=100))
    c = pair.client
    assert c.max_size == 100
    [mail] = pair.send(c.mail("s@x.test", size=1000))
    assert (mail.code, mail.status) == (552, "5.3.4")
    pair.send(c.mail("s@x.test") + c.rcpt("a@x.test") + c.data())
    [end] = pair.send(c.message(b"x" * 200))
    assert (end.code, end.status) == (552, "5.3.4")
    assert pair.server.state is ServerState.READY


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_message_survives_the_round_trip(message: bytes) -> None:
    pair = greeted(limits=Limits(max_text_line=None))
    c = pair.client
    pair.send(c.mail("s@x.test") + c.rcpt("a@x.test") + c.data())
    [end] = pair.send(c.message(message))
    assert end.code == 250
    expected = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert pair.events[-1] == MessageData(expected)
