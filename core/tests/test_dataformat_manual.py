"""Every example of the manual's "Data Formats" section (24962-25270) and digest 06 §2.1."""

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

# -- strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MyName", "MyName"),
        ("My2ndName", "My2ndName"),
        ('"My Name with spaces and the . symbol"', "My Name with spaces and the . symbol"),
        ('"a \\"string\\" within string"', 'a "string" within string'),
        ('"Single \\\\ backslash"', "Single \\ backslash"),
        ('"Line1\\eLine2"', "Line1\nLine2"),
        ('"TEXT3\\rTEXT67\\nTEXT78"', "TEXT3\rTEXT67\nTEXT78"),
        (
            '"Line1:\\tField1\\tField2\\eLine2:\\tField1\\tField2"',
            "Line1:\tField1\tField2\nLine2:\tField1\tField2",
        ),
        # \nnn is decimal (the prose), so \012 is 12 = form feed, not VT as the example says.
        (
            '"Using the \\012 (Vertical Tabulation) symbol"',
            "Using the \x0c (Vertical Tabulation) symbol",
        ),
        (
            "\"Using the \\u'2764' (Heavy black heart) symbol\"",
            "Using the \u2764 (Heavy black heart) symbol",
        ),
    ],
)
def test_string_examples(text: str, expected: str) -> None:
    assert loads(text) == expected
    assert loads_line(text) == expected


def test_the_manual_example_lines_hold_several_objects() -> None:
    # Each example line lists separate objects; as one text they are trailing garbage.
    with pytest.raises(DataFormatError, match="expected end of text"):
        loads('MyName My2ndName "My Name with spaces and the . symbol"')


def test_consecutive_quoted_strings_concatenate_in_multiline_text() -> None:
    # The manual's second example line is two quoted strings: in multi-line text they join.
    assert loads('"a \\"string\\" within string" "Single \\\\ backslash"') == (
        'a "string" within stringSingle \\ backslash'
    )
    assert loads('"abc" "def"') == "abcdef"
    assert loads('"abc""def"') == "abcdef"
    assert loads('"abc"\n  // comment\n  "def" /* x */ "ghi"') == "abcdefghi"
    assert loads('{k = "long " \n "value";}') == {"k": "long value"}


def test_no_concatenation_in_single_line_text() -> None:
    with pytest.raises(DataFormatError):
        loads_line('"abc" "def"')


def test_atoms_follow_the_permissive_grammar() -> None:
    # Digest: the CLI sample prints dotted names unquoted (26029).
    assert loads("(mail.servername.com, client1.com, client2.com)") == [
        "mail.servername.com",
        "client1.com",
        "client2.com",
    ]
    assert loads("user_name@example-1.com") == "user_name@example-1.com"
    assert loads("-1") == "-1"  # a numeric *string*, not a number
    assert loads("café") == "café"


def test_numbers_and_strings_stay_distinct() -> None:
    assert loads("#5") == 5
    assert loads('"5"') == "5"
    assert loads("5") == "5"
    assert dumps(5) == "#5"
    assert dumps("5") == "5"
    assert dumps("-1") == '"-1"'


# -- datablocks -------------------------------------------------------------------------


def test_datablock_example() -> None:
    assert loads("[HcqHfHI=]") == bytes([0x1D, 0xCA, 0x87, 0x7C, 0x72])
    assert dumps(bytes([0x1D, 0xCA, 0x87, 0x7C, 0x72])) == "[HcqHfHI=]"


def test_datablock_whitespace_around_and_inside() -> None:
    data = bytes([0x1D, 0xCA, 0x87, 0x7C, 0x72])
    assert loads("  [ Hc qH fH I= ]  ") == data
    assert loads("[HcqH\r\n\tfHI=]") == data
    assert loads_line("[ HcqH fHI= ]") == data
    with pytest.raises(DataFormatError):
        loads_line("[HcqH\tfHI=]")


def test_empty_datablock() -> None:
    # WRITESTORAGEFILE needs an empty datablock (27953).
    assert loads("[]") == b""
    assert loads("[ ]") == b""
    assert dumps(b"") == "[]"


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#-234657", -234657),
        ("#0x17EF", 0x17EF),
        ("#-0b1000111000", -0b1000111000),
        ("#0o777", 0o777),
        ("#0", 0),
        ("#-0", 0),
        ("#9223372036854775807", 2**63 - 1),
        ("#-9223372036854775808", -(2**63)),
        ("#-0x8000000000000000", -(2**63)),
        ("#0x7fffffffffffffff", 2**63 - 1),
    ],
)
def test_number_examples(text: str, expected: int) -> None:
    assert loads(text) == expected
    assert type(loads(text)) is int


@pytest.mark.parametrize(
    "text",
    [
        "#9223372036854775808",
        "#-9223372036854775809",
        "#0x8000000000000000",
        "#0x",
        "#0b2",
        "#0o8",
        "#1a",
        "#--1",
        "#",
        "#-",
        "#0X1F",
    ],
)
def test_bad_numbers(text: str) -> None:
    with pytest.raises(DataFormatError):
        loads(text)


# -- time stamps ------------------------------------------------------------------------


def test_timestamp_example() -> None:
    ts = loads("#T22-10-2009_15:24:45")
    assert ts == Timestamp(datetime(2009, 10, 22, 15, 24, 45, tzinfo=UTC))
    assert dumps(ts) == "#T22-10-2009_15:24:45"


def test_timestamp_date_only_is_midnight_gmt() -> None:
    ts = loads("#T22-10-2009")
    assert ts == Timestamp(datetime(2009, 10, 22, tzinfo=UTC))
    assert dumps(ts) == "#T22-10-2009_00:00:00"


def test_special_timestamps() -> None:
    assert loads("#TPAST") is Timestamp.PAST
    assert loads("#TFUTURE") is Timestamp.FUTURE
    assert dumps(Timestamp.PAST) == "#TPAST"
    assert dumps(Timestamp.FUTURE) == "#TFUTURE"
    normal = loads("#T01-01-0001")
    assert Timestamp.PAST < normal < Timestamp.FUTURE
    assert normal != Timestamp.PAST


def test_timestamp_years_outside_the_legacy_range() -> None:
    assert dumps(loads("#T01-01-2100_00:00:00")) == "#T01-01-2100_00:00:00"
    assert dumps(loads("#T05-03-0999")) == "#T05-03-0999_00:00:00"


@pytest.mark.parametrize(
    "text",
    [
        "#T32-01-2009",
        "#T29-02-2009",
        "#T00-01-2009",
        "#T01-13-2009",
        "#T01-01-2009_24:00:00",
        "#T01-01-2009_23:60:00",
        "#T01-01-2009_23:59:60",
        "#T1-1-2009",
        "#T01-01-09",
        "#T01-01-2009_15:24",
        "#T01-01-0000",
        "#TNOW",
        "#Tpast",
    ],
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(DataFormatError):
        loads(text)


def test_timestamp_type() -> None:
    from datetime import timedelta, timezone

    ts = Timestamp(datetime(2009, 10, 22, 17, 24, 45, 999, tzinfo=timezone(timedelta(hours=2))))
    assert ts.value == datetime(2009, 10, 22, 15, 24, 45, tzinfo=UTC)
    assert Timestamp.from_epoch(0).value == datetime(1970, 1, 1, tzinfo=UTC)
    assert Timestamp.from_epoch(1256225085).epoch == 1256225085
    with pytest.raises(ValueError, match="timezone-aware"):
        Timestamp(datetime(2009, 1, 1))
    assert len({ts, Timestamp(ts.value)}) == 1


# -- IP addresses -----------------------------------------------------------------------


def test_ip_examples() -> None:
    assert loads("#I[10.0.44.55]:25") == IPAddress(ipaddress.ip_address("10.0.44.55"), 25)
    v6 = loads("#I[2001:470:1f01:2565::a:80f]:25")
    assert v6 == IPAddress(ipaddress.ip_address("2001:470:1f01:2565::a:80f"), 25)
    assert dumps(v6) == "#I[2001:470:1f01:2565::a:80f]:25"
    assert loads("#I[10.0.44.55]") == IPAddress("10.0.44.55")
    assert dumps(IPAddress("10.0.44.55")) == "#I[10.0.44.55]"


def test_ipv6_is_written_canonically() -> None:
    assert dumps(loads("#I[2001:0470:1F01:2565:0:0:000a:080F]")) == "#I[2001:470:1f01:2565::a:80f]"


@pytest.mark.parametrize(
    "text",
    [
        "#I[]",
        "#I[10.0.44]",
        "#I[10.0.44.256]",
        "#I[010.0.0.1]",
        "#I[10.0.0.1]:65536",
        "#I[10.0.0.1]:",
        "#I10.0.0.1",
        "#I[fe80::1%eth0]",
        "#I[1:2:3:4:5:6:7:8:9]",
        "#I[10.0.0.1]:25x",
    ],
)
def test_bad_ip_addresses(text: str) -> None:
    with pytest.raises(DataFormatError):
        loads(text)


# -- null and other objects ---------------------------------------------------------------


def test_null() -> None:
    assert loads("#NULL#") is None
    assert dumps(None) == "#NULL#"
    with pytest.raises(DataFormatError):
        loads("#NULL")


def test_other_objects_are_rejected_on_input() -> None:
    with pytest.raises(DataFormatError, match="output-only"):
        loads("#(objectName:1a2b3c)")
    with pytest.raises(DataFormatError, match="output-only"):
        loads("{k = #(Account:7ffe0010);}")


# -- arrays -----------------------------------------------------------------------------


def test_array_examples() -> None:
    assert loads('(Element1 , "Element2" , "Element 3")') == ["Element1", "Element2", "Element 3"]
    nested = ["Element1", ["Sub Element1", "SubElement2"], "Element 3"]
    assert loads('(Element1 , ("Sub Element1", SubElement2) , "Element 3")') == nested
    multi = '(\n  Element1 ,\n  ( "Sub Element1",\n    SubElement2 )\n  ,\n  "Element 3" )'
    assert loads(multi) == nested
    assert loads("()") == []
    assert loads("( )") == []


def test_array_has_no_trailing_comma() -> None:
    with pytest.raises(DataFormatError):
        loads("(a,)")
    with pytest.raises(DataFormatError):
        loads("(,)")


# -- dictionaries -----------------------------------------------------------------------


def test_dictionary_examples() -> None:
    assert loads('{Key1=Element1; Key2 ="Element2" ; "Third Key"="Element 3"; }') == {
        "Key1": "Element1",
        "Key2": "Element2",
        "Third Key": "Element 3",
    }
    expected = {"Key1": ["Elem1", "Elem2"], "Key2": {"Sub1": "XXX 1", "Sub2": "X245"}}
    assert loads('{Key1=(Elem1,Elem2); Key2={Sub1="XXX 1"; Sub2=X245;}; }') == expected
    multi = '{\n  Key1 = (Elem1,Elem2) ;\n  Key2 = { Sub1 = "XXX 1";\n          Sub2=X245; };\n}'
    assert loads(multi) == expected
    assert loads("{}") == {}


def test_dictionary_keys_are_case_sensitive_and_ordered() -> None:
    d = loads("{b=1; B=2; a=3;}")
    assert d == {"b": "1", "B": "2", "a": "3"}
    assert list(d) == ["b", "B", "a"]


def test_empty_key() -> None:
    assert loads('{"" = x;}') == {"": "x"}
    assert dumps({"": "x"}) == '{""=x;}'


def test_every_pair_ends_with_a_semicolon() -> None:
    with pytest.raises(DataFormatError, match="expected ';'"):
        loads("{a=b}")
    with pytest.raises(DataFormatError):
        loads("{a=b;;}")


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(DataFormatError, match="duplicate dictionary key 'a'") as info:
        loads("{a=1; b=2; a=3;}")
    assert info.value.position == 11


# -- whitespace and comments ------------------------------------------------------------


def test_comments_are_whitespace_in_multiline_text() -> None:
    text = """// leading comment
    {
      /* block
         comment */ Key1 = Value1; // trailing
      Key2 /**/=/***/ (a, /* inside */ b) ;
    } // after
    """
    assert loads(text) == {"Key1": "Value1", "Key2": ["a", "b"]}
    assert loads("x // comment without EOL") == "x"


def test_single_line_whitespace_is_space_only() -> None:
    assert loads_line(" { a = b ; } ") == {"a": "b"}
    for text in ("{a=b;\t}", "{a=b;\n}", "{a=b; // c\n}", "{a=b; /* c */}", "\r{}"):
        with pytest.raises(DataFormatError):
            loads_line(text)


def test_multiline_whitespace() -> None:
    assert loads("\t{\r\n a\t=\rb\n;}\r\n") == {"a": "b"}


# -- XML --------------------------------------------------------------------------------


def test_xml_object() -> None:
    element = loads('<vCard modified="x>y"><FN>John</FN><NOTE/></vCard>')
    assert isinstance(element, ET.Element)
    assert element.tag == "vCard"
    assert element.attrib == {"modified": "x>y"}
    assert [child.tag for child in element] == ["FN", "NOTE"]
    assert dumps(element) == '<vCard modified="x&gt;y"><FN>John</FN><NOTE /></vCard>'


def test_xml_inside_structures() -> None:
    value = loads('{card = <a><b>1</b>t</a>; list = (<x/>, <y z="1" />, "s");}')
    assert value["card"].tag == "a"
    assert [e.tag if isinstance(e, ET.Element) else e for e in value["list"]] == ["x", "y", "s"]


def test_xml_with_declaration_comments_and_cdata() -> None:
    element = loads('<?xml version="1.0"?>\n<!-- c --><a><![CDATA[<not a tag>]]><!-- </a> --></a>')
    assert element.tag == "a"
    assert element.text == "<not a tag>"


def test_xml_namespaces() -> None:
    element = loads('<iq xmlns="jabber:client"><query xmlns="urn:x"/></iq>')
    assert element.tag == "{jabber:client}iq"
    assert loads(dumps(element))[0].tag == "{urn:x}query"


@pytest.mark.parametrize(
    "text",
    [
        "<a>",
        "<a></b>",
        '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        "<a>&undefined;</a>",
        "<>",
        "<a b=1/>",
        "</a>",
    ],
)
def test_bad_xml(text: str) -> None:
    with pytest.raises(DataFormatError):
        loads(text)


# -- strings on output -----------------------------------------------------------------


def test_atoms_are_written_only_for_latin_letters_and_digits() -> None:
    assert dumps("abc123") == "abc123"
    for s in ("a.b", "a-b", "a_b", "a@b", "café", "", " ", "a b"):
        assert dumps(s) == f'"{s}"'


def test_string_escapes_on_output() -> None:
    assert dumps('a"b\\c') == '"a\\"b\\\\c"'
    assert dumps("l1\nl2") == '"l1\\el2"'  # LF is written \e
    assert dumps("a\rb\tc") == '"a\\rb\\tc"'
    assert dumps("\x01\x1f\x7f") == '"\\001\\031\\127"'
    assert dumps("\u2764 é") == '"\u2764 é"'  # non-ASCII is written raw


def test_nul_is_refused() -> None:
    with pytest.raises(DataFormatError):
        dumps("a\x00b")
    for text in ('"a\\000b"', "\"\\u'0'\"", '"a\x00"', "a\x00"):
        with pytest.raises(DataFormatError):
            loads(text)
