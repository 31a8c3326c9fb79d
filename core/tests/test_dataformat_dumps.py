"""The canonical serializer: compact and pretty forms, and what it refuses."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from unigate.dataformat import (
    DataFormatError,
    IPAddress,
    Timestamp,
    dumps,
    loads,
    loads_line,
)

SETTINGS = {
    "RealName": "John Smith",
    "Password": "#secret",
    "MaxAccountSize": "100M",
    "Aliases": ["js", "john.smith"],
    "Created": Timestamp(datetime(2009, 10, 22, 15, 24, 45, tzinfo=UTC)),
    "LastLogin": IPAddress(ipaddress.ip_address("10.0.44.55"), 25),
    "Count": 42,
    "Key": b"\x1d\xca\x87|r",
    "Nothing": None,
    "Empty": {},
    "Rules": [[5, "Rule 1", [["From", "in", "*@x.com"]], [["Discard"]]]],
}


def test_compact_form() -> None:
    assert dumps(SETTINGS) == (
        '{RealName="John Smith";Password="#secret";MaxAccountSize=100M;'
        'Aliases=(js,"john.smith");Created=#T22-10-2009_15:24:45;'
        "LastLogin=#I[10.0.44.55]:25;Count=#42;Key=[HcqHfHI=];Nothing=#NULL#;Empty={};"
        'Rules=((#5,"Rule 1",((From,in,"*@x.com")),((Discard))));}'
    )


def test_pretty_form() -> None:
    assert dumps(SETTINGS, pretty=True) == (
        "{\n"
        '  RealName = "John Smith";\n'
        '  Password = "#secret";\n'
        "  MaxAccountSize = 100M;\n"
        '  Aliases = (js, "john.smith");\n'
        "  Created = #T22-10-2009_15:24:45;\n"
        "  LastLogin = #I[10.0.44.55]:25;\n"
        "  Count = #42;\n"
        "  Key = [HcqHfHI=];\n"
        "  Nothing = #NULL#;\n"
        "  Empty = {};\n"
        "  Rules = (\n"
        "    (\n"
        "      #5,\n"
        '      "Rule 1",\n'
        "      (\n"
        '        (From, in, "*@x.com")\n'
        "      ),\n"
        "      (\n"
        "        (Discard)\n"
        "      )\n"
        "    )\n"
        "  );\n"
        "}"
    )


def test_both_forms_read_back() -> None:
    assert loads(dumps(SETTINGS)) == SETTINGS
    assert loads_line(dumps(SETTINGS)) == SETTINGS
    assert loads(dumps(SETTINGS, pretty=True)) == SETTINGS


def test_long_atomic_arrays_break_into_lines() -> None:
    short = ["a" * 10] * 3
    assert dumps(short, pretty=True) == "(aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa)"
    long = ["a" * 10] * 10
    assert dumps(long, pretty=True) == "(\n" + ",\n".join(["  aaaaaaaaaa"] * 10) + "\n)"
    assert dumps([], pretty=True) == "()"
    assert dumps({}, pretty=True) == "{}"


def test_pretty_is_only_whitespace_different() -> None:
    compact = dumps(SETTINGS)
    pretty = dumps(SETTINGS, pretty=True)
    assert dumps(loads(pretty)) == compact


def test_tuples_are_arrays() -> None:
    assert dumps(("a", (1, 2))) == "(a,(#1,#2))"


def test_subclasses_of_builtins() -> None:
    class Name(str):
        pass

    class Count(int):
        pass

    assert dumps([Name("a b"), Count(3), bytearray(b"\x00")]) == '("a b",#3,[AA==])'


@pytest.mark.parametrize("value", [True, 1.5, {1: "a"}, object(), {"a"}])
def test_unsupported_types(value: object) -> None:
    with pytest.raises(TypeError):
        dumps(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "a\x00", ["\ud800"]])
def test_unrepresentable_values(value: object) -> None:
    with pytest.raises(DataFormatError):
        dumps(value)  # type: ignore[arg-type]


def test_xml_is_written_on_one_line_and_without_tail() -> None:
    element = ET.fromstring('<a x="1&#10;2">line1\nline2<b/>tail\r\n</a>')
    element.tail = "ignored"
    text = dumps(element)
    assert "\n" not in text and "\r" not in text
    assert text == '<a x="1&#10;2">line1&#10;line2<b />tail&#10;</a>'
    back = loads_line(text)
    assert back.text == "line1\nline2"
    assert back.attrib == {"x": "1\n2"}
    assert element.tail == "ignored"


def test_xml_that_cannot_be_written() -> None:
    with pytest.raises(DataFormatError):
        dumps(ET.Element("bad name"))
    element = ET.Element("a")
    element.text = "\x01"
    with pytest.raises(DataFormatError):
        dumps(element)


def test_ip_address_type() -> None:
    assert IPAddress("::1").ip == ipaddress.IPv6Address("::1")
    with pytest.raises(ValueError):
        IPAddress("10.0.0.1", 70000)
    with pytest.raises(ValueError):
        IPAddress("fe80::1%eth0")
    with pytest.raises(TypeError):
        IPAddress(42)  # type: ignore[arg-type]
    mapped = IPAddress("::ffff:1.2.3.4", 0)
    assert loads(dumps(mapped)) == mapped  # the text form of mapped IPv6 varies by Python
    assert loads("#I[::ffff:1.2.3.4]:0") == IPAddress("::ffff:1.2.3.4", 0)


def test_value_types_pickle_and_sort() -> None:
    import pickle

    stamps = [Timestamp.FUTURE, Timestamp.from_epoch(5), Timestamp.PAST]
    assert sorted(stamps) == [Timestamp.PAST, Timestamp.from_epoch(5), Timestamp.FUTURE]
    for value in [*stamps, IPAddress("::1", 3), IPAddress("10.0.0.1")]:
        assert pickle.loads(pickle.dumps(value)) == value
