"""MIME structure for IMAP: parse once into offsets, answer ENVELOPE/BODYSTRUCTURE/sections."""

from __future__ import annotations

from .bodystructure import body_of, bodystructure
from .envelope import Address, envelope, envelope_of, parse_addresses
from .fetch import FetchItem, message_item
from .headers import decode_words, get_header, header_fields, parse_content_header, unfold
from .section import (
    SectionError,
    SectionSpec,
    UnknownEncodingError,
    binary,
    binary_size,
    decode_body,
    find_part,
    section,
)
from .structure import Message, MessageStructure, Part, parse_structure

__all__ = [
    "Address",
    "FetchItem",
    "message_item",
    "Message",
    "MessageStructure",
    "Part",
    "SectionError",
    "SectionSpec",
    "UnknownEncodingError",
    "binary",
    "binary_size",
    "body_of",
    "bodystructure",
    "decode_body",
    "decode_words",
    "envelope",
    "envelope_of",
    "find_part",
    "get_header",
    "header_fields",
    "parse_addresses",
    "parse_content_header",
    "parse_structure",
    "section",
    "unfold",
]
