"""The CLI line protocol core and argument reader, byte for byte, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unigate import dataformat
from unigate.control.arguments import ArgumentError, Arguments
from unigate.control.protocol import Command, ControlProtocol, Login, Quit, State


def test_greeting() -> None:
    assert (
        ControlProtocol.greeting("example.test", "1.2")
        == b"200 Unigate at example.test PWD Server 1.2 ready\r\n"
    )


def test_commands_and_replies() -> None:
    core = ControlProtocol(authenticated=True)
    events = core.receive_data(b"ListDomains\r\ngetVersion x\r\n")
    assert events == [Command("LISTDOMAINS", ""), Command("GETVERSION", "x")]
    core.data(["example.test", "client1.com"])
    core.error(500, "unknown   command")
    core.ok()
    assert core.data_to_send() == (
        b'200 data follow\r\n("example.test","client1.com")\r\n500 unknown command\r\n200 OK\r\n'
    )
    assert core.data_to_send() == b""


def test_partial_lines_bare_lf_and_quit() -> None:
    core = ControlProtocol(authenticated=True)
    assert core.receive_data(b"NO") == []
    assert core.receive_data(b"OP\n  ECHO   {a=b;}  \r\n") == [
        Command("NOOP", ""),
        Command("ECHO", "{a=b;}"),
    ]
    assert core.receive_data(b"quit\r\nNOOP\r\n") == [Quit()]
    assert core.state is State.CLOSED
    assert core.data_to_send() == b"200 Unigate PWD connection closed\r\n"
    assert core.receive_data(b"NOOP\r\n") == []


def test_inline_mode() -> None:
    core = ControlProtocol(authenticated=True)
    assert core.receive_data(b"INLINE\r\nGETVERSION\r\n") == [Command("GETVERSION", "")]
    core.data("1.0 beta")
    assert core.data_to_send() == b'200 OK\r\n201 "1.0 beta"\r\n'


def test_protocol_errors() -> None:
    core = ControlProtocol(authenticated=True)
    assert core.receive_data(b"\r\nUSER postmaster\r\n\xff\r\n") == []
    assert core.data_to_send() == (
        b"500 empty command line\r\n500 already logged in\r\n500 the command line is not UTF-8\r\n"
    )
    with pytest.raises(ValueError):
        core.error(200, "not an error")


def test_login_flow() -> None:
    core = ControlProtocol()
    assert core.state is State.AUTHORIZATION
    assert core.receive_data(b"LISTDOMAINS\r\nPASS x\r\nUSER postmaster\r\n") == []
    assert core.data_to_send() == (
        b"500 please log in first (USER)\r\n500 please log in first (USER)\r\n"
        b"300 please send the PASS\r\n"
    )
    assert core.receive_data(b"PASS secret word\r\n") == [Login("postmaster", "secret word")]
    core.login_result(False)
    assert core.data_to_send() == b"501 incorrect user name or password\r\n"
    assert core.state is State.AUTHORIZATION
    core.receive_data(b"USER postmaster\r\n")
    core.receive_data(b"PASS pw\r\n")
    core.login_result(True)
    assert core.data_to_send() == b"300 please send the PASS\r\n200 login OK\r\n"
    assert core.receive_data(b"NOOP\r\n") == [Command("NOOP", "")]


def test_line_too_long() -> None:
    core = ControlProtocol(authenticated=True, max_line=10)
    assert core.receive_data(b"A" * 11) == [Quit()]
    assert core.state is State.CLOSED
    assert core.data_to_send() == b"500 command line too long\r\n"


def test_arguments() -> None:
    args = Arguments('GETSMTP  queue "a b.com" #5 7 {k=(x,"y )");} (1,[AAA=]) REPORT NONDN')
    assert args.string() == "GETSMTP"
    assert args.keyword("QUEUE") == "QUEUE"
    assert args.keyword("QUEUE") is None
    assert args.string() == "a b.com"
    assert args.number() == 5
    assert args.number() == 7
    assert args.value() == {"k": ["x", "y )"]}
    assert args.value() == ["1", b"\x00\x00"]
    args.expect("report")
    assert args.string() == "NONDN"
    assert args.at_end
    args.end()
    with pytest.raises(ArgumentError, match="missing"):
        args.value("messageID")


@pytest.mark.parametrize(
    "text",
    ['"open', "(a,b", "{a=b;", "[AAA", "(a}", "#zz", "a b"],
)
def test_bad_arguments(text: str) -> None:
    with pytest.raises(ArgumentError):
        args = Arguments(text)
        args.value()
        args.end()


values = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
    | st.binary(max_size=20)
    | st.integers(min_value=dataformat.INT64_MIN, max_value=dataformat.INT64_MAX)
    | st.none(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=5).filter(lambda k: "\x00" not in k), inner)
    ),
    max_leaves=10,
)


@given(st.lists(values, max_size=4))
def test_arguments_read_what_dumps_wrote(items: list[dataformat.Value]) -> None:
    args = Arguments(" ".join(dataformat.dumps(item) for item in items))
    assert [args.value() for _ in items] == items
    assert args.at_end


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=8))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    stream = b'NOOP\r\nINLINE\nECHO {a="b c";}\r\n\r\nUSER x\r\nGETVERSION\r\nQUIT\r\nNOOP\r\n'
    whole = ControlProtocol(authenticated=True)
    expected = whole.receive_data(stream)
    pieces = ControlProtocol(authenticated=True)
    events = []
    start = 0
    for cut in sorted(cuts):
        events += pieces.receive_data(stream[start:cut])
        start = max(start, cut)
    events += pieces.receive_data(stream[start:])
    assert events == expected
    assert pieces.data_to_send() == whole.data_to_send()
