"""The Routing Table grammar: prefixes, samples, wildcards, escapes, record kinds, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unigate.router import (
    DEFAULT_TABLE,
    RecordKind,
    RelayMode,
    RouteOp,
    RoutingTableError,
    Sample,
    parse_table,
)
from unigate.router.pattern import PatternError, Route


def one(text: str):
    table = parse_table(text)
    assert len(table) == 1
    return table.records[0]


# -- samples (manual "Sample") -------------------------------------------------------------


def test_star_matches_zero_or_more() -> None:
    s = Sample.parse("sta*r")
    assert s.match("star") == ""
    assert s.match("staXXXXXXr") == "XXXXXX"
    assert s.match("sta") is None
    assert s.match("stXr") is None


def test_sized_any() -> None:
    s = Sample.parse("sta(3*)r")
    assert s.match("staXYZr") == "XYZ"
    assert s.match("staXYr") is None
    assert s.match("staWXYZr") is None


def test_at_least_n_digits() -> None:
    s = Sample.parse("sta(4+d)r")
    assert s.match("sta1234r") == "1234"
    assert s.match("sta1234567r") == "1234567"
    assert s.match("sta123r") is None
    assert s.match("sta12a4r") is None


def test_hex_range() -> None:
    s = Sample.parse("sta(3-5h)r")
    assert s.match("staABCr") == "ABC"
    assert s.match("sta12345r") == "12345"
    assert s.match("staabcdr") == "abcd"
    assert s.match("sta12r") is None
    assert s.match("sta123456r") is None
    assert s.match("staXYZr") is None


def test_alphanumeric_type_and_missing_size() -> None:
    assert Sample.parse("x(L)").match("xAb9") == "Ab9"
    assert Sample.parse("x(L)").match("x") is None  # (L) without size: one or more
    assert Sample.parse("x(L)").match("xa-b") is None
    assert Sample.parse("x(*)").match("x") == ""  # (*) is the same as *
    assert Sample.parse("+(d)").match("+74992713154") == "74992713154"


def test_matching_is_case_insensitive_and_keeps_the_case_of_the_value() -> None:
    s = Sample.parse("Dept-*")
    assert s.match("DEPT-Sales") == "Sales"


def test_escapes() -> None:
    # manual: "\\" is a single backslash, "\*" an asterisk
    s = Sample.parse(r"a\*b")
    assert s.wildcard is None
    assert s.match("a*b") == ""
    assert s.match("aXb") is None
    assert Sample.parse(r"a\\b").match("a\\b") == ""
    s = Sample.parse(r"\*(3-4d)")  # the repaired voicemail record
    assert s.match("*123") == "123"
    assert s.match("123") is None
    assert Route.parse(r"x\*y").substitute("Q") == "x*y"
    assert Route.parse(r"a\\*").substitute("Q") == "a\\Q"


@pytest.mark.parametrize(
    "bad",
    ["a*b*", "a(3d)*", "a(3-1d)", "a(3x)", "a(3d", "a(+d)"],
)
def test_bad_samples(bad: str) -> None:
    with pytest.raises(PatternError):
        Sample.parse(bad)


def test_route_allows_one_star_only() -> None:
    with pytest.raises(PatternError):
        Route.parse("*a*")


# -- records ---------------------------------------------------------------------------


def test_prefix_defaults() -> None:
    rec = one("hq.company.com = twisted.company.com")
    assert rec.relay is RelayMode.NORELAY
    assert rec.operations == frozenset()
    assert all(rec.applies_to(op) for op in RouteOp)
    assert rec.kind is RecordKind.DOMAIN


@pytest.mark.parametrize(
    ("prefix", "mode"),
    [
        ("Relay:", RelayMode.RELAY),
        ("R:", RelayMode.RELAY),
        ("NoRelay:", RelayMode.NORELAY),
        ("N:", RelayMode.NORELAY),
        ("RelayAll:", RelayMode.RELAYALL),
        ("Relay: ", RelayMode.RELAY),  # "Relay: friend.com = ..." appears in the manual
    ],
)
def test_relay_prefixes(prefix: str, mode: RelayMode) -> None:
    assert one(f"{prefix}<user> = user@other.host").relay is mode


def test_operation_prefixes_combine() -> None:
    rec = one("NoRelay:Signal:<011*@*> = tele-*@external ; route using an external program")
    assert rec.relay is RelayMode.NORELAY
    assert rec.operations == {RouteOp.SIGNAL}
    assert rec.kind is RecordKind.ALL_LOCAL
    assert rec.comment == "route using an external program"
    rec = one("M:S:<x> = y")
    assert rec.operations == {RouteOp.MAIL, RouteOp.SIGNAL}
    assert not rec.applies_to(RouteOp.ACCESS)
    assert one("A:<x> = y").operations == {RouteOp.ACCESS}


def test_record_kinds() -> None:
    assert one("<sales> = bill").kind is RecordKind.ACCOUNT
    rec = one("<sales@Client.com> = Bill@client.com")
    assert (rec.kind, rec.domain) == (RecordKind.ACCOUNT, "client.com")
    assert one("<abuse@*> = postmaster").kind is RecordKind.ALL_LOCAL
    assert one("localhost =").route.substitute("") == ""


def test_comments_and_blank_lines() -> None:
    table = parse_table(
        "; store messages to sales@maindomain\n"
        "; in the sales Mailbox in the Account public@maindomain\n"
        "<sales> = sales#public\n"
        ";\n"
        "\n"
        '<support@client.com> = "requests#staff"@hq.client.com\n'
    )
    assert [r.line for r in table] == [3, 6]
    assert table.records[1].route.substitute("") == '"requests#staff"@hq.client.com'


def test_equals_inside_route_and_braces() -> None:
    rec = one("<+(20d)@someDomain> = myProgram{num=*}#user@domain")
    assert rec.route.substitute("123") == "myProgram{num=123}#user@domain"


def test_default_table_parses() -> None:
    table = parse_table(DEFAULT_TABLE)
    assert len(table) == 15
    kinds = [r.kind for r in table]
    assert kinds.count(RecordKind.ALL_LOCAL) == 7


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("a = b\n<x = y", 2, "must end with '>'"),
        ("a = b\n\nfoo.com bar.com", 3, "no '='"),
        ("Mail:Relay:<x> = y", 1, "relay prefix must come before"),
        ("Relay:RelayAll:<x> = y", 1, "more than one relay prefix"),
        ("Bogus:<x> = y", 1, "unknown prefix"),
        ("<x*@y*.com> = z", 1, "only before the '@'"),
        ("<x> = a*", 1, "no wildcard"),
        ("<x> =", 1, "empty route"),
        ("= y", 1, "empty sample"),
        ("a@b.com = c", 1, "cannot contain"),
        ("<a*b*@*> = c", 1, "more than one wildcard"),
        ("*.a(3d).com = x", 1, "more than one wildcard"),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(RoutingTableError) as info:
        parse_table(text)
    assert info.value.line == line
    assert reason in str(info.value)
    assert f"line {line}" in str(info.value)


@pytest.mark.parametrize(
    ("printed", "hint"),
    [
        ("<*(3-4d)*> = voicemail#*", "<*(3-4d)@*>"),
        ("<7(2d)*> = pbx{*}#pbx", "<7(2d)@*>"),
        ("<+(8-20d)*> = +*@telnum", "<+(8-20d)@*>"),
        ("<(1-4d)*> = incomplete", "<(1-4d)@*>"),
        ("<+(d)*> = +*@telnum", "<+(d)@*>"),
    ],
)
def test_damaged_manual_records_are_rejected_with_a_hint(printed: str, hint: str) -> None:
    """Digest 02 §9.1: the printed records lost their '@' (two wildcards, which the
    manual's own syntax forbids); we ship the intended '@*' forms and point to them."""
    with pytest.raises(RoutingTableError) as info:
        parse_table(printed)
    assert "more than one wildcard" in str(info.value)
    assert f"did you mean {hint}" in str(info.value)


def test_fast_path_keeps_first_match_order() -> None:
    table = parse_table("*.a.com = wild.com\nx.a.com = exact.com\n<u*> = w\n<user> = exact\n")
    rec, value = table.find("z", "x.a.com", RouteOp.MAIL, False)
    assert rec.line == 1 and value == "x"
    rec, _ = table.find("user", "", RouteOp.MAIL, True)
    assert rec.line == 3
    table = parse_table("x.a.com = exact.com\n*.a.com = wild.com\n")
    assert table.find("z", "x.a.com", RouteOp.MAIL, False)[0].line == 1
    assert table.find("z", "y.a.com", RouteOp.MAIL, False)[0].line == 2


def test_fast_path_skips_records_for_other_operations() -> None:
    table = parse_table("Signal:<x> = a\n<*> = b\nMail:<x> = c\n")
    assert table.find("x", "", RouteOp.MAIL, True)[0].line == 2
    assert table.find("x", "", RouteOp.SIGNAL, True)[0].line == 1


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=6)


@given(st.lists(st.tuples(_label, st.booleans()), min_size=1, max_size=12), _label)
def test_fast_path_equals_linear_scan(specs: list[tuple[str, bool]], probe: str) -> None:
    """The dict index plus the ordered wildcard list give the same first record as a scan."""
    lines = [
        f"{'*' if wild else ''}{label}.com = r{i}.net" for i, (label, wild) in enumerate(specs)
    ]
    table = parse_table("\n".join(lines))
    domain = f"{probe}.com"
    linear = next((r for r in table.records if r.matches("u", domain, False) is not None), None)
    found = table.find("u", domain, RouteOp.MAIL, False)
    assert (found[0] if found else None) == linear
