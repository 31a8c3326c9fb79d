"""Property tests: round trips over generated values, and fuzzing the parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unigate.dataformat import (
    INT64_MAX,
    INT64_MIN,
    DataFormatError,
    IPAddress,
    Timestamp,
    Value,
    dumps,
    loads,
    loads_line,
)

# Strings: anything but NUL and surrogates.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
# Text XML can hold: no C0 controls other than TAB, LF (CR is normalized by XML parsers
# unless escaped, which dumps does), no U+FFFE/U+FFFF.
xml_texts = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(chr(c) for c in range(32) if c not in (9, 10, 13))
        + "\ufffe\uffff",
    ),
    max_size=20,
)
xml_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,8}", fullmatch=True).filter(
    lambda name: not name.lower().startswith("xml")
)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    element = ET.Element(draw(xml_names), draw(st.dictionaries(xml_names, xml_texts, max_size=3)))
    element.text = draw(st.none() | xml_texts)
    if depth < 2:
        for child in draw(st.lists(elements(depth + 1), max_size=3)):
            child.tail = draw(st.none() | xml_texts)
            element.append(child)
    return element


timestamps = st.one_of(
    st.just(Timestamp.PAST),
    st.just(Timestamp.FUTURE),
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    ).map(Timestamp),
)
ip_addresses = st.builds(IPAddress, st.ip_addresses(), st.none() | st.integers(0, 65535))
atomic = st.one_of(
    texts,
    st.from_regex(r"[A-Za-z0-9]+", fullmatch=True),
    st.binary(),
    st.integers(INT64_MIN, INT64_MAX),
    timestamps,
    ip_addresses,
    st.none(),
)
values = st.recursive(
    atomic | elements(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=30,
)


def normal(value: object) -> object:
    """Make Elements comparable (ElementTree has no value equality)."""
    if isinstance(value, ET.Element):
        return (
            "xml",
            value.tag,
            value.attrib,
            value.text or "",
            [(normal(child), child.tail or "") for child in value],
        )
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_compact_round_trip(value: Value) -> None:
    text = dumps(value)
    assert "\n" not in text and "\r" not in text
    assert normal(loads(text)) == normal(value)
    assert normal(loads_line(text)) == normal(value)
    assert dumps(loads(text)) == text  # canonical: a fixed point


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_pretty_round_trip(value: Value) -> None:
    text = dumps(value, pretty=True)
    assert normal(loads(text)) == normal(value)
    assert dumps(loads(text), pretty=True) == text
    assert dumps(loads(text)) == dumps(value)


@given(values)
def test_dict_order_is_kept(value: Value) -> None:
    if isinstance(value, dict):
        assert list(loads(dumps(value))) == list(value)


def _parse_or_format_error(text: str) -> None:
    for parse in (loads, loads_line):
        try:
            parse(text)
        except DataFormatError as exc:
            assert exc.position is not None and 0 <= exc.position <= len(text)
            assert exc.line is not None and exc.column is not None


@settings(max_examples=500)
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _parse_or_format_error(text)


_SYNTAX = (
    list('{}()[]<>#"\\=;,/*!?-_:. \t\r\n')
    + list("aAeTINULxob019fé\u2764'")
    + [
        "#T",
        "#I[",
        "#NULL#",
        "//",
        "/*",
        "*/",
        "\\u'",
        "\\0",
        "</",
        "/>",
        "<a>",
        "</a>",
        "<!--",
        "#(",
        "0x",
        "]:",
        "\x00",
        "\ud800",
    ]
)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_SYNTAX), max_size=40).map("".join))
def test_fuzz_syntax_soup(text: str) -> None:
    _parse_or_format_error(text)


@settings(max_examples=200)
@given(values, st.integers(0, 10_000), st.sampled_from(list('{}()[]#";=,<>/\\ x\n')))
def test_fuzz_mutated_valid_text(value: Value, where: int, char: str) -> None:
    text = dumps(value, pretty=True)
    where %= len(text) + 1
    _parse_or_format_error(text[:where] + char + text[where:])
    _parse_or_format_error(text[:where] + text[where + 1 :])
    _parse_or_format_error(text[:where])
