"""Units of the SMTP cores: replies, paths, parameters, xtext; and a no-crash fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_smtp.protocol import (
    Body,
    Extensions,
    Limits,
    LocalProtocolError,
    MailParams,
    Notify,
    ProtocolError,
    RcptParams,
    Reply,
    Ret,
    ServerConnection,
    ServerState,
    xtext_decode,
    xtext_encode,
)
from unigate_smtp.protocol.address import AddressError, parse_path
from unigate_smtp.protocol.harness import drive
from unigate_smtp.protocol.params import (
    ParamError,
    format_mail_params,
    format_rcpt_params,
    parse_mail_params,
    parse_rcpt_params,
)

# ------------------------------------------------------------------- Reply


def test_reply_wire_forms() -> None:
    assert Reply(250, "2.1.0", "OK").to_bytes() == b"250 2.1.0 OK\r\n"
    assert Reply(250, "2.1.0", "OK").to_bytes(enhanced=False) == b"250 OK\r\n"
    assert Reply(250, None, ["a", "b", "c"]).to_bytes() == b"250-a\r\n250-b\r\n250 c\r\n"
    assert Reply(550, "5.1.1", ("x", "y")).to_bytes() == b"550-5.1.1 x\r\n550 5.1.1 y\r\n"
    assert Reply(250).to_bytes() == b"250\r\n"
    assert Reply(250, "2.0.0").to_bytes() == b"250 2.0.0\r\n"
    assert Reply(334, None, "").to_bytes() == b"334 \r\n"
    assert Reply(250, None, "caf\u00e9").to_bytes() == "250 café\r\n".encode()
    assert Reply(250, None, ["a", ""]).to_bytes() == b"250-a\r\n250\r\n"


def test_reply_properties() -> None:
    reply = Reply(451, "4.3.0", ["a", "b"])
    assert reply.text == "a\nb" and reply.is_transient and not reply.is_positive
    assert Reply(354).is_intermediate and Reply(554).is_permanent


@pytest.mark.parametrize(
    ("code", "status", "text"),
    [
        (199, None, ""),
        (600, None, ""),
        (250, "5.0.0", ""),
        (354, "3.0.0", ""),
        (250, "2.0", ""),
        (250, "2.1000.0", ""),
        (250, None, "a\r\nb"),
        (250, None, ["ok", "x\n"]),
    ],
)
def test_reply_validation(code: int, status: str | None, text: str) -> None:
    with pytest.raises(LocalProtocolError):
        Reply(code, status, text)


# -------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<a@b.example>", "a@b.example"),
        ("<first.last+tag@sub.b.example>", "first.last+tag@sub.b.example"),
        ('<"a b\\"c"@b.example>', '"a b\\"c"@b.example'),
        ("<a@[192.0.2.1]>", "a@[192.0.2.1]"),
        ("<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]"),
        ("<@r.example:a@b.example>", "a@b.example"),
        ("<j\u00f6@m\u00fcnchen.example>", "j\u00f6@m\u00fcnchen.example"),
        ("<a@b>", "a@b"),
    ],
)
def test_valid_paths(text: str, expected: str) -> None:
    assert parse_path(text, null_ok=False, postmaster_ok=False) == (expected, len(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a@b",
        "<a@b",
        "<>",
        "<@b.c>",
        "<a@>",
        "<.a@b.c>",
        "<a.@b.c>",
        "<a b@c.d>",
        "<a@b..c>",
        "<a@b.c-.d>",
        "<a@[]>",
        "<a@[1.2.3.4>",
        '<"a@b.c>',
        '<"a\x01"@b.c>',
        "<postmaster>",
        "<" + "x" * 65 + "@b.c>",
        "<a@" + "b" * 256 + ">",
        "<@r.example a@b.c>",
        "<@:a@b.c>",
    ],
)
def test_invalid_paths(text: str) -> None:
    with pytest.raises(AddressError):
        parse_path(text, null_ok=False, postmaster_ok=False)


def test_null_and_postmaster_paths() -> None:
    assert parse_path("<>", null_ok=True, postmaster_ok=False) == ("", 2)
    assert parse_path("<PostMaster>", null_ok=False, postmaster_ok=True) == ("PostMaster", 12)
    assert parse_path("x<a@b.c> z", 1, null_ok=False, postmaster_ok=False) == ("a@b.c", 8)


# -------------------------------------------------------------------- xtext


def test_xtext_examples() -> None:
    assert xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d"
    assert xtext_decode("a+2Bb+3Dc+20d") == "a+b=c d"
    assert xtext_encode("é") == "+C3+A9"
    for bad in ("a+2", "a+zz", "a b", "a=b", "+2b"):
        with pytest.raises(ValueError):
            xtext_decode(bad)


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127)))
def test_xtext_roundtrip_ascii(value: str) -> None:
    assert xtext_decode(xtext_encode(value)) == value


# --------------------------------------------------------------- parameters

ALL = Extensions(auth=("PLAIN",))


@given(
    st.builds(
        MailParams,
        size=st.none() | st.integers(min_value=0, max_value=10**9),
        body=st.none() | st.sampled_from(Body),
        smtputf8=st.booleans(),
        ret=st.none() | st.sampled_from(Ret),
        envid=st.none() | st.text(alphabet="abcXYZ09+= -", min_size=1, max_size=20),
        auth=st.none() | st.just("<>") | st.just("u+x@b.example"),
    )
)
def test_mail_params_format_parse_roundtrip(params: MailParams) -> None:
    assert parse_mail_params(format_mail_params(params), ALL, max_size=None) == params


@given(
    st.builds(
        RcptParams,
        notify=st.none() | st.frozensets(st.sampled_from(Notify)),
        orcpt=st.none() | st.tuples(st.just("rfc822"), st.text(alphabet="ab@.+= ", min_size=1)),
    )
)
def test_rcpt_params_format_parse_roundtrip(params: RcptParams) -> None:
    assert parse_rcpt_params(format_rcpt_params(params), ALL) == params


def test_param_errors_carry_replies() -> None:
    with pytest.raises(ParamError) as info:
        parse_mail_params(["X-FOO"], ALL, max_size=None)
    assert info.value.reply == Reply(555, "5.5.4", "Unsupported parameter X-FOO")
    with pytest.raises(ParamError) as info:
        parse_mail_params(["ENVID=" + "a" * 101], ALL, max_size=None)
    assert info.value.reply.code == 501
    with pytest.raises(ParamError):
        parse_mail_params(["SIZE=1"], ALL, max_size=0)


def test_limits_validation() -> None:
    with pytest.raises(ValueError):
        Limits(max_command_line=10)
    with pytest.raises(ValueError):
        Limits(max_recipients=0)
    assert Limits(max_message_size=None).max_message_size is None


def test_refused_session_text_for_every_command() -> None:
    conn = ServerConnection(hostname="mx.test")
    _, out = drive(conn, [b"MAIL FROM:<>\r\nDATA\r\n"], greeting=Reply(554, None, "no"))
    assert out == b"554 no\r\n" + b"503 No service here, QUIT only\r\n" * 2


def test_auth_line_too_long_aborts_exchange() -> None:
    conn = ServerConnection(
        hostname="mx.test", extensions=Extensions(auth=("LOGIN",)), limits=Limits(max_auth_line=100)
    )
    events, out = drive(
        conn,
        [b"EHLO c\r\nAUTH LOGIN\r\n" + b"A" * 200 + b"\r\nNOOP\r\n"],
        respond=lambda c, e: (
            Reply(334, None, "VXNlcm5hbWU6")
            if type(e).__name__ == "Auth"
            else Reply(250, "2.0.0", "OK")
            if type(e).__name__ != "Helo"
            else c.ehlo_reply()
        ),
    )
    assert out.endswith(b"334 VXNlcm5hbWU6\r\n500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n")
    assert conn.state is ServerState.READY


# -------------------------------------------------------------------- fuzz

WORDS = [
    b"EHLO c",
    b"HELO c",
    b"LHLO c",
    b"MAIL FROM:<a@b.c>",
    b"MAIL FROM:<> SIZE=5 BODY=BINARYMIME",
    b"RCPT TO:<x@y.z>",
    b"RCPT TO:<x@y.z> NOTIFY=NEVER",
    b"DATA",
    b"BDAT 3",
    b"BDAT 2 LAST",
    b"BDAT x",
    b"RSET",
    b"NOOP",
    b"STARTTLS",
    b"AUTH PLAIN",
    b"AUTH PLAIN AHUAcA==",
    b"*",
    b".",
    b"..",
    b"VRFY x",
    b"QUIT",
    b"\xff\xfe",
    b"x" * 3000,
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS) | st.binary(max_size=20), max_size=30),
    st.sampled_from([b"\r\n", b"\n"]),
    st.booleans(),
)
def test_server_never_raises_on_any_input(words: list[bytes], eol: bytes, lmtp: bool) -> None:
    conn = ServerConnection(
        hostname="mx.test",
        lmtp=lmtp,
        extensions=Extensions(starttls=True, auth=("PLAIN",)),
        limits=Limits(max_message_size=50, max_bad_commands=8),
    )
    stream = eol.join(words) + eol
    events, out = drive(conn, [stream[i : i + 7] for i in range(0, len(stream), 7)], eof=True)
    assert out.endswith(b"\r\n")
    fatal = [e for e in events if isinstance(e, ProtocolError) and e.fatal]
    assert not fatal or conn.state is ServerState.CLOSED
