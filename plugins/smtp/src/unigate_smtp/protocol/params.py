"""ESMTP parameters of MAIL and RCPT (RFC 1870, 6152, 3030, 6531, 3461, 4954) and xtext.

Parsing turns ``KEY=value`` words into the frozen `MailParams` / `RcptParams` values the
application sees; `format_mail_params` / `format_rcpt_params` are the client-side inverse.
Which keywords are legal depends on the extensions the server offered, so the parsers take
the `Extensions` in force and raise `ParamError` carrying the RFC reply for the client.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .limits import Extensions
from .replies import Reply

_KEYWORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
_XTEXT_HEX_RE = re.compile(r"\+([0-9A-F]{2})")
MAX_ENVID = 100


class Body(enum.Enum):
    """BODY= values (RFC 6152, RFC 3030)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"
    BINARY_MIME = "BINARYMIME"


class Ret(enum.Enum):
    """RET= values (RFC 3461 §4.3)."""

    FULL = "FULL"
    HDRS = "HDRS"


class Notify(enum.Enum):
    """NOTIFY= conditions (RFC 3461 §4.1); NEVER is the empty set."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


@dataclass(frozen=True, slots=True)
class MailParams:
    """Parameters of MAIL FROM. None = not given."""

    size: int | None = None
    body: Body | None = None
    smtputf8: bool = False
    ret: Ret | None = None
    envid: str | None = None
    auth: str | None = None  # AUTH= mailbox (xtext-decoded); "<>" for the empty identity


@dataclass(frozen=True, slots=True)
class RcptParams:
    """Parameters of RCPT TO. `notify` None = not given, empty = NEVER; `orcpt` = (type, address)."""

    notify: frozenset[Notify] | None = None
    orcpt: tuple[str, str] | None = None


class ParamError(ValueError):
    """A parameter is unknown, repeated or malformed; `reply` is the answer to send."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


def xtext_decode(value: str) -> str:
    """Decode RFC 3461 §4 xtext (``+HH`` escapes)."""
    for c in value:
        if not 33 <= ord(c) <= 126 or c == "=":
            raise ValueError("invalid xtext character")
    if "+" in value:
        if value.count("+") != len(_XTEXT_HEX_RE.findall(value)):
            raise ValueError("invalid xtext escape")
        value = _XTEXT_HEX_RE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def xtext_encode(value: str) -> str:
    """Encode to xtext; non-ASCII is escaped byte by byte as UTF-8."""
    out = []
    for byte in value.encode("utf-8"):
        c = chr(byte)
        out.append(c if 33 <= byte <= 126 and c not in "+=" else f"+{byte:02X}")
    return "".join(out)


def _unitext_decode(value: str) -> str:
    """Decode RFC 6533 utf-8-addr-xtext / unitext (``\\x{HEX}`` and xtext)."""
    value = re.sub(r"\\x\{([0-9A-Fa-f]{1,6})\}", lambda m: chr(int(m.group(1), 16)), value)
    return value if "+" not in value else xtext_decode(value)


def split_params(words: list[str]) -> list[tuple[str, str | None]]:
    """Split ``KEY[=value]`` words, upper-casing keys; rejects duplicates and bad syntax."""
    seen: set[str] = set()
    out: list[tuple[str, str | None]] = []
    for word in words:
        key, eq, value = word.partition("=")
        if not _KEYWORD_RE.match(key) or (eq and not value):
            raise ParamError(Reply(501, "5.5.4", f"Syntax error in parameter {word!r}"))
        key = key.upper()
        if key in seen:
            raise ParamError(Reply(501, "5.5.4", f"Duplicate parameter {key}"))
        seen.add(key)
        out.append((key, value if eq else None))
    return out


def _unsupported(key: str) -> ParamError:
    return ParamError(Reply(555, "5.5.4", f"Unsupported parameter {key}"))


def _bad_value(key: str) -> ParamError:
    return ParamError(Reply(501, "5.5.4", f"Invalid value for {key}"))


def parse_mail_params(words: list[str], ext: Extensions, *, max_size: int | None) -> MailParams:
    """Parse the words after ``MAIL FROM:<path>`` under the offered extensions."""
    size: int | None = None
    body: Body | None = None
    smtputf8 = False
    ret: Ret | None = None
    envid: str | None = None
    auth: str | None = None
    for key, value in split_params(words):
        if key == "SIZE" and ext.size:
            if value is None or not value.isascii() or not value.isdigit() or len(value) > 20:
                raise _bad_value(key)
            size = int(value)
            if max_size is not None and size > max_size:
                raise ParamError(
                    Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
                )
        elif key == "BODY" and (ext.eightbitmime or ext.binarymime):
            try:
                body = Body((value or "").upper())
            except ValueError:
                raise _bad_value(key) from None
            if (body is Body.EIGHT_BIT_MIME and not ext.eightbitmime) or (
                body is Body.BINARY_MIME and not (ext.binarymime and ext.chunking)
            ):
                raise _bad_value(key)
        elif key == "SMTPUTF8" and ext.smtputf8:
            if value is not None:
                raise _bad_value(key)
            smtputf8 = True
        elif key == "RET" and ext.dsn:
            try:
                ret = Ret((value or "").upper())
            except ValueError:
                raise _bad_value(key) from None
        elif key == "ENVID" and ext.dsn:
            try:
                envid = xtext_decode(value or "")
            except ValueError:
                raise _bad_value(key) from None
            if not envid or len(value or "") > MAX_ENVID:
                raise _bad_value(key)
        elif key == "AUTH" and ext.auth:
            if value is None:
                raise _bad_value(key)
            try:
                auth = value if value == "<>" else xtext_decode(value)
            except ValueError:
                raise _bad_value(key) from None
        else:
            raise _unsupported(key)
    return MailParams(size, body, smtputf8, ret, envid, auth)


def parse_rcpt_params(words: list[str], ext: Extensions) -> RcptParams:
    """Parse the words after ``RCPT TO:<path>`` under the offered extensions."""
    notify: frozenset[Notify] | None = None
    orcpt: tuple[str, str] | None = None
    for key, value in split_params(words):
        if key == "NOTIFY" and ext.dsn:
            items = [v.upper() for v in (value or "").split(",")]
            if items == ["NEVER"]:
                notify = frozenset()
            else:
                try:
                    notify = frozenset(Notify(v) for v in items)
                except ValueError:
                    raise _bad_value(key) from None
                if len(notify) != len(items):
                    raise _bad_value(key)
        elif key == "ORCPT" and ext.dsn:
            addr_type, semi, addr = (value or "").partition(";")
            if not semi or not addr_type or not _KEYWORD_RE.match(addr_type) or not addr:
                raise _bad_value(key)
            try:
                decoded = (
                    _unitext_decode(addr) if addr_type.lower() == "utf-8" else xtext_decode(addr)
                )
            except ValueError:
                raise _bad_value(key) from None
            orcpt = (addr_type.lower(), decoded)
        else:
            raise _unsupported(key)
    return RcptParams(notify, orcpt)


def format_mail_params(params: MailParams) -> list[str]:
    """Client side: the wire words for `params` (order: SIZE BODY SMTPUTF8 RET ENVID AUTH)."""
    words: list[str] = []
    if params.size is not None:
        words.append(f"SIZE={params.size}")
    if params.body is not None:
        words.append(f"BODY={params.body.value}")
    if params.smtputf8:
        words.append("SMTPUTF8")
    if params.ret is not None:
        words.append(f"RET={params.ret.value}")
    if params.envid is not None:
        words.append(f"ENVID={xtext_encode(params.envid)}")
    if params.auth is not None:
        words.append("AUTH=<>" if params.auth == "<>" else f"AUTH={xtext_encode(params.auth)}")
    return words


_NOTIFY_ORDER = (Notify.SUCCESS, Notify.FAILURE, Notify.DELAY)


def format_rcpt_params(params: RcptParams) -> list[str]:
    """Client side: the wire words for `params`."""
    words: list[str] = []
    if params.notify is not None:
        if not params.notify:
            words.append("NOTIFY=NEVER")
        else:
            words.append("NOTIFY=" + ",".join(n.value for n in _NOTIFY_ORDER if n in params.notify))
    if params.orcpt is not None:
        addr_type, addr = params.orcpt
        words.append(f"ORCPT={addr_type};{xtext_encode(addr)}")
    return words
