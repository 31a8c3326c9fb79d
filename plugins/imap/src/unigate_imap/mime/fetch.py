"""FETCH items that come from the message content, ready for `fetch_response`.

`message_item` answers ENVELOPE, BODY, BODYSTRUCTURE, RFC822*, BODY[...] and
BINARY[...]/BINARY.SIZE for one `FetchAtt`; items held by the mailbox (FLAGS,
UID, INTERNALDATE, MODSEQ, EMAILID…) are the session's job and give None.
"""

from __future__ import annotations

from typing import Protocol

from ..protocol.encoder import encode_literal
from .bodystructure import bodystructure
from .envelope import envelope
from .section import SectionError, SectionSpec, binary, section
from .structure import Message

__all__ = ["FetchItem", "message_item"]


class FetchItem(Protocol):
    """What `message_item` needs (``unigate_imap.protocol.FetchAtt`` satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def section(self) -> SectionSpec | None: ...
    @property
    def partial(self) -> tuple[int, int] | None: ...

    def response_name(self) -> bytes: ...


def _data(value: bytes) -> bytes:
    return b'""' if not value else encode_literal(value)


def message_item(msg: Message, att: FetchItem) -> tuple[bytes, bytes] | None:
    """``(name, encoded value)`` for content items, None for mailbox-held items.

    Raises `UnknownEncodingError` for BINARY on an unknown transfer encoding
    (answer ``NO [UNKNOWN-CTE]``).  A section that does not exist yields NIL.
    """
    name = att.name
    raw = msg.raw
    if name == "ENVELOPE":
        return b"ENVELOPE", envelope(msg)
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE", bodystructure(msg, extensible=True)
    if name == "BODY" and att.section is None:
        return b"BODY", bodystructure(msg, extensible=False)
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE", b"%d" % len(raw)
    if name == "RFC822":
        return b"RFC822", _data(raw)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER", _data(raw[: msg.root.body_start])
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT", _data(raw[msg.root.body_start :])
    if name == "BODY":
        try:
            return att.response_name(), _data(section(msg, att.section, att.partial))
        except SectionError:
            return att.response_name(), b"NIL"
    if name in ("BINARY", "BINARY.SIZE"):
        parts = att.section.parts if att.section is not None else ()
        try:
            data = binary(msg, parts)
        except SectionError as exc:
            if type(exc) is not SectionError:
                raise
            return att.response_name(), b"NIL"
        if name == "BINARY.SIZE":
            return att.response_name(), b"%d" % len(data)
        if att.partial is not None:
            data = data[att.partial[0] : att.partial[0] + att.partial[1]]
        if not data:
            return att.response_name(), b'""'
        return att.response_name(), encode_literal(data, binary=b"\x00" in data)
    return None
