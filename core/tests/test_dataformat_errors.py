"""Parse errors: DataFormatError says what was expected and where (offset, line, column)."""

from __future__ import annotations

import pickle

import pytest

from unigate.dataformat import MAX_DEPTH, DataFormatError, dumps, loads, loads_line


def error(text: str, *, line: bool = False) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        (loads_line if line else loads)(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "expected an object, found end of text"),
        ("   ", 3, "expected an object, found end of text"),
        ("{a=b}", 4, "expected ';' after the value of key 'a', found '}'"),
        ("{a b;}", 3, "expected '=' after dictionary key 'a', found 'b'"),
        ("{=b;}", 1, "expected a dictionary key or '}', found '='"),
        ("{a=b;", 5, "expected a dictionary key or '}', found end of text"),
        ("(a b)", 3, "expected ',' or ')' after an array element, found 'b'"),
        ("(a,", 3, "expected an object, found end of text"),
        ("a b", 2, "expected end of text after the object, found 'b'"),
        ('"abc', 0, "unterminated quoted string"),
        ('"a\tb"', 2, "control character U+0009 in a quoted string"),
        ('"a\\qb"', 2, "unknown escape \\q"),
        ('"a\\12b"', 2, "a \\nnn escape needs three decimal digits"),
        ('"a\\300"', 2, "\\300 is not a byte value"),
        ('"ab\\195"', 3, "\\nnn escapes do not form valid UTF-8"),
        ("\"a\\u'zz'\"", 2, "malformed \\u'hex' escape"),
        ("\"\\u'110000'\"", 1, "is not a valid Unicode code point"),
        ("\"\\u'd800'\"", 1, "is not a valid Unicode code point"),
        ('"a\x00"', 2, "NUL is not allowed in a string"),
        ('"a\\000"', 2, "NUL is not allowed in a string"),
        ("[abc", 0, "unterminated datablock"),
        ("[ab!c]", 3, "expected base64 data or ']' in a datablock, found '!'"),
        ("[abc]", 0, "invalid base64"),
        ("[QQ==QQ==]", 0, "invalid base64"),
        ("#", 0, "expected a number, #T time stamp, #I IP address or #NULL# after '#'"),
        ("#x", 0, "expected a number"),
        ("#12a", 0, "invalid number"),
        ("#99999999999999999999", 0, "number out of the 64-bit range"),
        ("#T31-02-2020", 0, "invalid time stamp: day is out of range for month"),
        ("#T1-1-2020", 0, "invalid time stamp (expected #TDD-MM-YYYY[_hh:mm:ss])"),
        ("#I[300.1.1.1]", 3, "invalid IP address '300.1.1.1'"),
        ("#I[1.1.1.1]:99999", 12, "port 99999 out of range"),
        ("#(Obj:1234)", 0, "#(...) objects are output-only and cannot be read"),
        ("{a=/* x", 3, "unterminated /* comment"),
        ("(a /* x", 3, "unterminated /* comment"),
        ("a /* x", 2, "unterminated /* comment"),
        ("/ a", 0, "expected an object, found '/'"),
        ("<a>", 0, "unterminated XML object"),
        ("<a><!-- x</a>", 3, "unterminated XML comment"),
        ("<a><![CDATA[ x</a>", 3, "unterminated XML CDATA section"),
        ("<!DOCTYPE x><x/>", 0, "XML declarations (<!DOCTYPE ...>) are not allowed"),
        (")", 0, "expected an object, found ')'"),
    ],
)
def test_error_message_and_position(text: str, position: int, message: str) -> None:
    exc = error(text)
    assert exc.position == position
    assert message in exc.msg
    assert isinstance(exc, ValueError)
    assert f"(line 1, column {position + 1})" in str(exc)


def test_line_and_column_in_multiline_text() -> None:
    exc = error("{\n  a = b\n}")
    assert (exc.line, exc.column, exc.position) == (3, 1, 10)
    exc = error('{\r\n  a = b;\r\n  c = "x\ty";\r\n}')
    assert (exc.line, exc.column) == (3, 9)
    exc = error("(\r\r  ,)")
    assert (exc.line, exc.column) == (3, 3)


def test_single_line_errors() -> None:
    exc = error("{a=b;\t}", line=True)
    assert exc.position == 5
    assert "found '\\t'" in exc.msg
    assert error("(a, // x\n b)", line=True).position == 4


def test_deep_nesting_is_a_format_error_not_a_recursion_error() -> None:
    assert loads("(" * MAX_DEPTH + ")" * MAX_DEPTH) is not None
    exc = error("(" * (MAX_DEPTH + 1) + ")" * (MAX_DEPTH + 1))
    assert exc.position == MAX_DEPTH
    assert "nesting deeper" in exc.msg
    assert "nesting deeper" in error("{a=" * 10000).msg
    nested: list[object] = []
    nested.append(nested)
    with pytest.raises(DataFormatError, match="nesting deeper"):
        dumps(nested)  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match="nesting deeper"):
        dumps(nested, pretty=True)  # type: ignore[arg-type]


def test_error_pickles() -> None:
    exc = error("{a=b}")
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.msg, copy.position, copy.line, copy.column) == (
        exc.msg,
        exc.position,
        exc.line,
        exc.column,
    )
    assert str(copy) == str(exc)


def test_loads_needs_str() -> None:
    with pytest.raises(TypeError):
        loads(b"{}")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loads_line(b"{}")  # type: ignore[arg-type]


def test_surrogates_are_refused() -> None:
    with pytest.raises(DataFormatError):
        loads('"a\ud800"')
    with pytest.raises(DataFormatError):
        loads("a\udc00")
    with pytest.raises(DataFormatError, match="surrogate"):
        dumps("a\ud800")


def test_lone_surrogate_in_xml_is_a_data_format_error() -> None:
    # found by the hypothesis fuzz: the XML parser raised UnicodeEncodeError instead
    with pytest.raises(DataFormatError):
        loads("<a>\ud800</a>")
