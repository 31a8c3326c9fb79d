"""Unit tests of the smtp plugin's helpers: host parsing, reply mapping, trace fields, limits."""

from __future__ import annotations

from unigate_hookspecs import Verdict
from unigate_hookspecs.delivery import DeliveryOutcome
from unigate_smtp.delivery import outcome_of, parse_hostport, quote
from unigate_smtp.policy import (
    SmtpState,
    protocol_name,
    received_header,
    verdict_reply,
)
from unigate_smtp.protocol import Reply, ServerReply
from unigate_smtp.settings import SmtpSettings


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.2:2525", 25) == ("127.0.0.2", 2525)
    assert parse_hostport("mx.remote.test", 25) == ("mx.remote.test", 25)
    assert parse_hostport("[192.0.2.1]", 25) == ("192.0.2.1", 25)
    assert parse_hostport("[IPv6:::1]:2525", 25) == ("::1", 2525)
    assert parse_hostport("[::1]", 587) == ("::1", 587)


def test_outcome_and_quote() -> None:
    ok = ServerReply(250, "2.0.0", ("queued",), "MESSAGE")
    soft = ServerReply(451, None, ("try", "later"), "RCPT")
    hard = ServerReply(550, "5.1.1", ("no such user",), "RCPT")
    assert [outcome_of(r) for r in (ok, soft, hard)] == [
        DeliveryOutcome.RELAYED,
        DeliveryOutcome.TEMPORARY,
        DeliveryOutcome.PERMANENT,
    ]
    assert quote(hard) == "550 5.1.1 no such user"
    assert quote(soft) == "451 try later"


def test_protocol_names_rfc3848() -> None:
    assert protocol_name(lmtp=False, extended=False, tls=False, auth=False) == "SMTP"
    assert protocol_name(lmtp=False, extended=True, tls=True, auth=True) == "ESMTPSA"
    assert protocol_name(lmtp=True, extended=True, tls=False, auth=True) == "LMTPA"


def test_received_header() -> None:
    field = received_header(
        helo="client.test",
        ip="192.0.2.7",
        by="mx.example.test",
        protocol="ESMTPS",
        session_id=42,
        recipient="a@example.test",
        now=0,
    )
    assert field == (
        b"Received: from client.test ([192.0.2.7])\r\n\tby mx.example.test with ESMTPS id 42"
        b"\r\n\tfor <a@example.test>; Thu, 01 Jan 1970 00:00:00 -0000\r\n"
    )
    v6 = received_header(
        helo=None, ip="::1", by="h", protocol="SMTP", session_id=1, recipient=None, now=0
    )
    assert v6.startswith(b"Received: from [IPv6:::1] ([IPv6:::1])\r\n")


def test_verdict_reply() -> None:
    assert verdict_reply(Verdict.proceed()) is None
    assert verdict_reply(Verdict.accept()) is None
    assert verdict_reply(Verdict.reject("go away")) == Reply(550, "5.7.1", "go away")
    assert verdict_reply(Verdict.reject("x", code=554, status="5.7.0")) == Reply(554, "5.7.0", "x")
    assert verdict_reply(Verdict.defer("busy")) == Reply(451, "4.7.1", "busy")
    assert verdict_reply(Verdict.defer("busy", code=550, status="5.0.0")) == Reply(
        451, "4.7.1", "busy"
    )
    assert verdict_reply(Verdict.disconnect("bye")).code == 421


def test_message_rate_window() -> None:
    state = SmtpState(SmtpSettings(max_messages_per_minute=2), "h")
    assert not state.rate_exceeded("1.2.3.4", now=100.0)
    state.count_message("1.2.3.4", now=100.0)
    state.count_message("1.2.3.4", now=110.0)
    assert state.rate_exceeded("1.2.3.4", now=120.0)
    assert not state.rate_exceeded("5.6.7.8", now=120.0)
    assert not state.rate_exceeded("1.2.3.4", now=160.5)
    assert state.messages["1.2.3.4"] and len(state.messages["1.2.3.4"]) == 1


def test_unlimited_rate_keeps_no_state() -> None:
    state = SmtpState(SmtpSettings(), "h")
    state.count_message("1.2.3.4")
    assert state.messages == {} and not state.rate_exceeded("1.2.3.4")
