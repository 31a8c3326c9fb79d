"""XML objects inside data format text: finding where one ends, reading and writing it.

An XML object is written as a standard XML document starting with ``<``.  Inside a
larger text (a dictionary value, an array element) nothing marks its end, so
``scan_xml`` walks the markup and stops where the root element closes.  Document
type declarations are refused: they are the door to entity-expansion attacks and
settings never need them.  Elements are written on one line: CR and LF in text
become character references, so they survive a round trip exactly.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

from .errors import DataFormatError

__all__ = ["scan_xml", "parse_xml", "dump_xml"]

# One markup token or a run of character data.  Attribute values may hold '>'.
_XML_TOKEN = re.compile(
    r"""<\?.*?\?>"""  # processing instruction / XML declaration
    r"""|<!--.*?-->"""  # comment
    r"""|<!\[CDATA\[.*?\]\]>"""  # CDATA section
    r"""|<!"""  # declaration: refused
    r"""|</[^<>]*>"""  # end tag
    r"""|<(?:[^<>"']|"[^"]*"|'[^']*')*>"""  # start or empty tag
    r"""|[^<]+""",  # character data
    re.S,
)
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def scan_xml(text: str, pos: int) -> int:
    """Return the offset just past the XML document starting at ``text[pos] == '<'``."""
    depth = 0
    start = pos
    end = len(text)
    match = _XML_TOKEN.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise DataFormatError("unterminated XML markup", pos, text)
        token = m.group()
        if token[0] != "<":
            if depth == 0 and not token.isspace():
                raise DataFormatError("expected an XML element", pos, text)
        elif token == "<!":
            if text.startswith("<!--", pos):
                raise DataFormatError("unterminated XML comment", pos, text)
            if text.startswith("<![CDATA[", pos):
                raise DataFormatError("unterminated XML CDATA section", pos, text)
            raise DataFormatError("XML declarations (<!DOCTYPE ...>) are not allowed", pos, text)
        elif token.startswith("</"):
            depth -= 1
            if depth < 0:
                raise DataFormatError("unexpected XML end tag", pos, text)
            if depth == 0:
                return m.end()
        elif token[1] in "?!":
            if depth == 0 and token.startswith("<![CDATA["):
                raise DataFormatError("expected an XML element", pos, text)
        elif token.endswith("/>"):
            if depth == 0:
                return m.end()
        else:
            depth += 1
        pos = m.end()
    raise DataFormatError("unterminated XML object", start, text)


def parse_xml(text: str, start: int, end: int) -> ET.Element:
    """Parse ``text[start:end]`` (found by ``scan_xml``) into an Element."""
    source = text[start:end]
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no XML parser can take it
        raise DataFormatError(
            "invalid XML: a character that is not Unicode text", start + exc.start, text
        ) from None
    parser = ET.XMLParser()
    try:
        parser.feed(source)
        return parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        # Translate the XML parser's (line, column) into an offset into ``text``.
        offset = start
        for _ in range(line - 1):
            nl = source.find("\n", offset - start)
            if nl < 0:
                break
            offset = start + nl + 1
        reason = str(exc).rsplit(": line ", 1)[0]
        raise DataFormatError(f"invalid XML: {reason}", offset + column, text) from None


def dump_xml(element: ET.Element) -> str:
    """Serialize an Element (its tail excluded) as one line of XML text.

    Raises DataFormatError if the element cannot be written as well-formed XML
    (bad tag names, control characters): the output is re-parsed to make sure.
    """
    if element.tail is not None:
        element = copy.copy(element)
        element.tail = None
    try:
        out = ET.tostring(element, encoding="unicode")
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"cannot serialize XML element: {exc}") from None
    if _BAD_XML_CHARS.search(out):
        raise DataFormatError("XML element holds characters XML cannot represent")
    out = out.replace("\r", "&#13;").replace("\n", "&#10;")
    try:
        ET.fromstring(out)
    except ET.ParseError as exc:
        raise DataFormatError(f"XML element does not serialize to well-formed XML: {exc}") from None
    return out
