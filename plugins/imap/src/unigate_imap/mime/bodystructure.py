"""BODY and BODYSTRUCTURE (RFC 9051 §7.5.2) from a parsed `Part` tree.

Type, subtype, parameter names and values are reported as received; only the
defaults (``TEXT/PLAIN (CHARSET US-ASCII)``, ``7BIT``) are synthesised.
"""

from __future__ import annotations

from ..protocol.encoder import encode_nstring, encode_string
from .envelope import envelope_of
from .structure import Message, Part

__all__ = ["bodystructure", "body_of"]


def _str(value: str) -> bytes:
    return encode_string(value.encode("utf-8", "surrogateescape"), utf8=False)


def _ns(value: str | None) -> bytes:
    return encode_nstring(
        None if value is None else value.encode("utf-8", "surrogateescape"), utf8=False
    )


def _params(params: list[tuple[str, str]]) -> bytes:
    if not params:
        return b"NIL"
    return b"(" + b" ".join(_str(k) + b" " + _str(v) for k, v in params) + b")"


def _disposition(part: Part) -> bytes:
    if part.disposition is None:
        return b"NIL"
    return b"(" + _str(part.disposition) + b" " + _params(part.disposition_params) + b")"


def _language(part: Part) -> bytes:
    if not part.language:
        return b"NIL"
    if len(part.language) == 1:
        return _str(part.language[0])
    return b"(" + b" ".join(_str(x) for x in part.language) + b")"


def body_of(raw: bytes, part: Part, extensible: bool = True) -> bytes:
    """The body structure of ``part``; ``extensible`` False gives the BODY form."""
    if part.is_multipart:
        if part.children:
            inner = b"".join(body_of(raw, c, extensible) for c in part.children)
        else:  # a multipart without parts is reported as an empty text part
            inner = b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'
        out = inner + b" " + _str(part.subtype)
        if extensible:
            params = [(k, v) for k, v in part.params]
            out += b" " + b" ".join(
                [_params(params), _disposition(part), _language(part), _ns(part.location)]
            )
        return b"(" + out + b")"
    fields = [
        _str(part.type),
        _str(part.subtype),
        _params(part.params),
        _ns(part.id),
        _ns(part.description),
        _str(part.encoding or "7BIT"),
        b"%d" % part.size,
    ]
    if part.message is not None:
        embedded = part.message
        fields.append(envelope_of(raw[embedded.start : embedded.body_start]))
        fields.append(body_of(raw, embedded, extensible))
        fields.append(b"%d" % part.lines)
    elif part.type.upper() == "TEXT":
        fields.append(b"%d" % part.lines)
    if extensible:
        fields += [_ns(part.md5), _disposition(part), _language(part), _ns(part.location)]
    return b"(" + b" ".join(fields) + b")"


def bodystructure(msg: Message | bytes, extensible: bool = True) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY of a whole message."""
    if isinstance(msg, bytes):
        msg = Message(msg)
    return body_of(msg.raw, msg.root, extensible)
