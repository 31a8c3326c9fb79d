"""Strict parser of the text data format (manual "Data Formats", 24962-25270).

A hand-written recursive-descent scanner over the ``str`` with an index: each token
is matched by one precompiled regular expression at the current offset, so the
per-character work happens inside the regex engine, not in Python.

Choices where the manual is loose (see digest 06 §2.1):

* atoms follow the permissive grammar (letters, digits, ``. - _ @`` and any
  non-ASCII character); only quoted strings concatenate (``"ab" "cd"`` = ``"abcd"``,
  multi-line text only);
* quoted strings hold no raw control characters (C0, DEL): use escapes.  Escapes are
  ``\\" \\\\ \\r \\n \\t``, ``\\e`` (read as LF), ``\\nnn`` (three *decimal* digits, one
  byte; a run of them is decoded as UTF-8) and ``\\u'hex'`` (a code point);
* NUL, in any spelling, is refused; so are surrogate code points;
* datablocks may be empty (``[]``) and hold whitespace (never comments) anywhere;
  the base64 must be strictly valid, padding included;
* numbers are int64, range-checked; time stamps accept years 0001..9999;
* ``#(...)`` objects are output-only and refused; duplicate dictionary keys are an
  error; document type declarations in XML objects are refused;
* nesting deeper than ``MAX_DEPTH`` arrays/dictionaries is refused.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from datetime import UTC, datetime

from .errors import DataFormatError
from .values import INT64_MAX, INT64_MIN, IPAddress, Timestamp, Value
from .xmlobj import parse_xml, scan_xml

__all__ = ["loads", "loads_line", "MAX_DEPTH"]

#: Maximum nesting of arrays and dictionaries.
MAX_DEPTH = 128

# Whitespace: multi-line text allows SP HT CR LF and // and /* */ comments.
_WS_MULTI_RE = r"(?:[ \t\r\n]++|//[^\r\n]*+|/\*.*?\*/)*+"
_WS_SINGLE_RE = r" *+"
_WS_MULTI = re.compile(_WS_MULTI_RE, re.S)
_WS_SINGLE = re.compile(_WS_SINGLE_RE)
# Separators with the whitespace around them, in one match: '=', ';', ',' or ')'.
_EQUALS = {
    ml: re.compile(f"{ws}={ws}", re.S) for ml, ws in ((True, _WS_MULTI_RE), (False, _WS_SINGLE_RE))
}
_SEMICOLON = {
    ml: re.compile(f"{ws};{ws}", re.S) for ml, ws in ((True, _WS_MULTI_RE), (False, _WS_SINGLE_RE))
}
_AFTER_ITEM = {
    ml: re.compile(f"{ws}(?:(,){ws}|\\))", re.S)
    for ml, ws in ((True, _WS_MULTI_RE), (False, _WS_SINGLE_RE))
}

_ATOM = re.compile("[A-Za-z0-9._@\\-\u0080-\ud7ff\ue000-\U0010ffff]++")

# A quoted string's characters: printable, no '"' or '\\', no surrogates.
_BAD = "\\x00-\\x1f\\x7f\\ud800-\\udfff"
_QUOTED_PLAIN = re.compile(f'"([^"\\\\{_BAD}]*+)"')
# An atom, or a quoted string without escapes that no other quoted string continues:
# the common string, matched in one go.  Group 1 is the atom, group 2 the quoted text.
_SIMPLE_STRING = {
    True: re.compile(f'({_ATOM.pattern})|"([^"\\\\{_BAD}]*+)"(?!{_WS_MULTI_RE}")', re.S),
    False: re.compile(f'({_ATOM.pattern})|"([^"\\\\{_BAD}]*+)"'),
}
_QUOTED_BODY = re.compile(f'(?:[^"\\\\{_BAD}]++|\\\\[^{_BAD}])*+')
_ESCAPE = re.compile(r"((?:\\[0-9]{3})+)|\\u'([0-9A-Fa-f]{1,8})'|\\(.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "r": "\r", "n": "\n", "e": "\n", "t": "\t"}

_DATABLOCK_MULTI = re.compile(r"\[([A-Za-z0-9+/=\t\r\n ]*+)\]")
_DATABLOCK_SINGLE = re.compile(r"\[([A-Za-z0-9+/= ]*+)\]")
_DATABLOCK_BODY_MULTI = re.compile(r"[A-Za-z0-9+/=\t\r\n ]*+")
_DATABLOCK_BODY_SINGLE = re.compile(r"[A-Za-z0-9+/= ]*+")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]++")

# What may not follow a '#' token (it would continue the token).
_END = r"(?![0-9A-Za-z_.@:\-])"
_NUMBER = re.compile(r"#(-?)(?:0x([0-9A-Fa-f]++)|0o([0-7]++)|0b([01]++)|([0-9]++))" + _END)
_TIMESTAMP = re.compile(
    r"#T(?:(PAST|FUTURE)|([0-9]{2})-([0-9]{2})-([0-9]{4})(?:_([0-9]{2}):([0-9]{2}):([0-9]{2}))?)"
    + _END
)
_IP = re.compile(r"#I\[([0-9A-Fa-f:.]++)\](?::([0-9]{1,5}))?" + _END)


class _Parser:
    """State of one parse: the text, the whitespace rule and the nesting depth."""

    __slots__ = (
        "text",
        "end",
        "ws",
        "multiline",
        "depth",
        "datablock",
        "datablock_body",
        "equals",
        "semicolon",
        "after_item",
        "simple_string",
    )

    def __init__(self, text: str, multiline: bool) -> None:
        self.text = text
        self.end = len(text)
        self.multiline = multiline
        self.ws = (_WS_MULTI if multiline else _WS_SINGLE).match
        self.datablock = (_DATABLOCK_MULTI if multiline else _DATABLOCK_SINGLE).match
        self.datablock_body = (_DATABLOCK_BODY_MULTI if multiline else _DATABLOCK_BODY_SINGLE).match
        self.equals = _EQUALS[multiline].match
        self.semicolon = _SEMICOLON[multiline].match
        self.after_item = _AFTER_ITEM[multiline].match
        self.simple_string = _SIMPLE_STRING[multiline].match
        self.depth = 0

    def error(self, msg: str, pos: int) -> DataFormatError:
        return DataFormatError(msg, pos, self.text)

    def found(self, pos: int) -> str:
        """Describe what sits at ``pos``, for error messages."""
        if pos >= self.end:
            return "end of text"
        return repr(self.text[pos])

    def document(self) -> Value:
        pos = self.ws(self.text, 0).end()
        value, pos = self.value(pos)
        pos = self.ws(self.text, pos).end()
        if pos != self.end:
            self.unterminated_comment(pos)
            raise self.error(f"expected end of text after the object, found {self.found(pos)}", pos)
        return value

    def unterminated_comment(self, pos: int) -> None:
        if self.multiline and self.text.startswith("/*", pos):
            raise self.error("unterminated /* comment", pos)

    def value(self, pos: int) -> tuple[Value, int]:
        text = self.text
        if pos >= self.end:
            raise self.error("expected an object, found end of text", pos)
        c = text[pos]
        if c == '"':
            return self.quoted(pos)
        if c == "{":
            return self.dictionary(pos)
        if c == "(":
            return self.array(pos)
        if c == "#":
            return self.hashed(pos)
        if c == "[":
            return self.datablock_value(pos)
        if c == "<":
            end = scan_xml(text, pos)
            return parse_xml(text, pos, end), end
        m = _ATOM.match(text, pos)
        if m is not None:
            return m.group(), m.end()
        self.unterminated_comment(pos)
        raise self.error(f"expected an object, found {self.found(pos)}", pos)

    # -- strings -------------------------------------------------------------------

    def quoted(self, pos: int) -> tuple[str, int]:
        """One quoted string, plus (multi-line text) any quoted strings right after it."""
        m = self.simple_string(self.text, pos)
        if m is not None:
            return m.group(2), m.end()
        value, pos = self.one_quoted(pos)
        if not self.multiline:
            return value, pos
        text = self.text
        parts = None
        while True:
            nxt = self.ws(text, pos).end()
            if nxt < self.end and text[nxt] == '"':
                more, pos = self.one_quoted(nxt)
                if parts is None:
                    parts = [value]
                parts.append(more)
            else:
                break
        return (value if parts is None else "".join(parts)), pos

    def one_quoted(self, pos: int) -> tuple[str, int]:
        text = self.text
        m = _QUOTED_PLAIN.match(text, pos)
        if m is not None:
            return m.group(1), m.end()
        body = _QUOTED_BODY.match(text, pos + 1)
        end = body.end()
        if end >= self.end:
            raise self.error("unterminated quoted string", pos)
        c = text[end]
        if c == '"':
            return self.unescape(body.group(), pos + 1), end + 1
        if c == "\\":
            end += 1
            if end >= self.end:
                raise self.error("unterminated quoted string", pos)
            c = text[end]
        if c == "\x00":
            raise self.error("NUL is not allowed in a string", end)
        if "\ud800" <= c <= "\udfff":
            raise self.error("surrogate code point in a string", end)
        raise self.error(
            f"control character U+{ord(c):04X} in a quoted string (use an escape)", end
        )

    def unescape(self, body: str, base: int) -> str:
        out: list[str] = []
        last = 0
        for m in _ESCAPE.finditer(body):
            out.append(body[last : m.start()])
            decimal, hexa, other = m.groups()
            if decimal is not None:
                out.append(self.decimal_run(decimal, base + m.start()))
            elif hexa is not None:
                code = int(hexa, 16)
                if code == 0:
                    raise self.error("NUL is not allowed in a string", base + m.start())
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise self.error(
                        f"\\u'{hexa}' is not a valid Unicode code point", base + m.start()
                    )
                out.append(chr(code))
            else:
                char = _SIMPLE_ESCAPES.get(other)
                if char is None:
                    if other == "u":
                        msg = "malformed \\u'hex' escape"
                    elif other.isdigit():
                        msg = "a \\nnn escape needs three decimal digits"
                    else:
                        msg = f"unknown escape \\{other}"
                    raise self.error(msg, base + m.start())
                out.append(char)
            last = m.end()
        out.append(body[last:])
        return "".join(out)

    def decimal_run(self, run: str, pos: int) -> str:
        """Decode consecutive ``\\nnn`` escapes: each is one byte; the run is UTF-8."""
        codes = [int(run[i + 1 : i + 4]) for i in range(0, len(run), 4)]
        for index, code in enumerate(codes):
            if code == 0:
                raise self.error("NUL is not allowed in a string", pos + 4 * index)
            if code > 255:
                raise self.error(f"\\{code:03d} is not a byte value", pos + 4 * index)
        try:
            return bytes(codes).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error("\\nnn escapes do not form valid UTF-8", pos + 4 * exc.start) from None

    # -- datablocks -----------------------------------------------------------------

    def datablock_value(self, pos: int) -> tuple[bytes, int]:
        m = self.datablock(self.text, pos)
        if m is None:
            end = self.datablock_body(self.text, pos + 1).end()
            if end >= self.end:
                raise self.error("unterminated datablock", pos)
            raise self.error(
                f"expected base64 data or ']' in a datablock, found {self.found(end)}", end
            )
        data = _NOT_BASE64.sub("", m.group(1))
        try:
            return binascii.a2b_base64(data, strict_mode=True), m.end()
        except binascii.Error as exc:
            raise self.error(f"invalid base64 in datablock: {exc}", pos) from None

    # -- '#' objects ----------------------------------------------------------------

    def hashed(self, pos: int) -> tuple[Value, int]:
        text = self.text
        kind = text[pos + 1 : pos + 2]
        if kind == "T":
            return self.timestamp(pos)
        if kind == "I":
            return self.ip_address(pos)
        if kind == "N" and text.startswith("#NULL#", pos):
            return None, pos + 6
        if kind == "(":
            raise self.error("#(...) objects are output-only and cannot be read", pos)
        if kind == "-" or kind.isdigit():
            m = _NUMBER.match(text, pos)
            if m is None:
                raise self.error("invalid number", pos)
            sign, hexa, octal, binary, decimal = m.groups()
            if decimal is not None:
                number = int(decimal)
            elif hexa is not None:
                number = int(hexa, 16)
            elif octal is not None:
                number = int(octal, 8)
            else:
                number = int(binary, 2)
            if sign:
                number = -number
            if not INT64_MIN <= number <= INT64_MAX:
                raise self.error("number out of the 64-bit range", pos)
            return number, m.end()
        raise self.error("expected a number, #T time stamp, #I IP address or #NULL# after '#'", pos)

    def timestamp(self, pos: int) -> tuple[Timestamp, int]:
        m = _TIMESTAMP.match(self.text, pos)
        if m is None:
            raise self.error("invalid time stamp (expected #TDD-MM-YYYY[_hh:mm:ss])", pos)
        special, day, month, year, hour, minute, second = m.groups()
        if special is not None:
            return (Timestamp.PAST if special == "PAST" else Timestamp.FUTURE), m.end()
        try:
            when = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=UTC,
            )
        except ValueError as exc:
            raise self.error(f"invalid time stamp: {exc}", pos) from None
        return Timestamp(when), m.end()

    def ip_address(self, pos: int) -> tuple[IPAddress, int]:
        m = _IP.match(self.text, pos)
        if m is None:
            raise self.error("invalid IP address (expected #I[address] or #I[address]:port)", pos)
        address, port = m.groups()
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise self.error(f"invalid IP address {address!r}", pos + 3) from None
        if port is not None and int(port) > 65535:
            raise self.error(f"port {port} out of range", m.start(2))
        return IPAddress(ip, None if port is None else int(port)), m.end()

    # -- structures -----------------------------------------------------------------

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels", pos)

    def array(self, pos: int) -> tuple[list[Value], int]:
        self.enter(pos)
        text = self.text
        simple = self.simple_string
        after_item = self.after_item
        items: list[Value] = []
        pos = self.ws(text, pos + 1).end()
        if text.startswith(")", pos):
            self.depth -= 1
            return items, pos + 1
        while True:
            m = simple(text, pos)
            if m is not None:
                items.append(m.group(m.lastindex))
                pos = m.end()
            else:
                item, pos = self.value(pos)
                items.append(item)
            m = after_item(text, pos)
            if m is None:
                pos = self.ws(text, pos).end()
                self.unterminated_comment(pos)
                raise self.error(
                    f"expected ',' or ')' after an array element, found {self.found(pos)}", pos
                )
            pos = m.end()
            if m.group(1) is None:
                self.depth -= 1
                return items, pos

    def dictionary(self, pos: int) -> tuple[dict[str, Value], int]:
        self.enter(pos)
        text = self.text
        simple = self.simple_string
        equals = self.equals
        semicolon = self.semicolon
        result: dict[str, Value] = {}
        pos = self.ws(text, pos + 1).end()
        while True:
            key_pos = pos
            m = simple(text, pos)
            if m is not None:
                key = m.group(m.lastindex)
                pos = m.end()
            elif text.startswith("}", pos):
                self.depth -= 1
                return result, pos + 1
            elif text.startswith('"', pos):
                key, pos = self.quoted(pos)
            else:
                self.unterminated_comment(pos)
                raise self.error(f"expected a dictionary key or '}}', found {self.found(pos)}", pos)
            m = equals(text, pos)
            if m is None:
                pos = self.ws(text, pos).end()
                self.unterminated_comment(pos)
                raise self.error(
                    f"expected '=' after dictionary key {key!r}, found {self.found(pos)}", pos
                )
            pos = m.end()
            m = simple(text, pos)
            if m is not None:
                value: Value = m.group(m.lastindex)
                pos = m.end()
            else:
                value, pos = self.value(pos)
            m = semicolon(text, pos)
            if m is None:
                pos = self.ws(text, pos).end()
                self.unterminated_comment(pos)
                raise self.error(
                    f"expected ';' after the value of key {key!r}, found {self.found(pos)}", pos
                )
            if key in result:
                raise self.error(f"duplicate dictionary key {key!r}", key_pos)
            result[key] = value
            pos = m.end()


def loads(text: str) -> Value:
    """Parse one object from multi-line text (SP HT CR LF and comments between tokens).

    Raises DataFormatError, with the position, on anything that is not exactly one
    valid object surrounded by optional whitespace.
    """
    if not isinstance(text, str):
        raise TypeError(f"loads() needs a str, not {type(text).__name__}")
    return _Parser(text, True).document()


def loads_line(text: str) -> Value:
    """Parse one object from single-line text: only SP separates tokens, no comments,
    no string concatenation."""
    if not isinstance(text, str):
        raise TypeError(f"loads_line() needs a str, not {type(text).__name__}")
    return _Parser(text, False).document()
