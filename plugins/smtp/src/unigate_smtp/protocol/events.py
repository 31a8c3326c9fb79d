"""Events the server core produces, and the NEED_DATA / PAUSED sentinels.

Every event is a frozen, slotted dataclass: a value the session loop can log, compare and
hand to hooks. Commands the core accepted become command events and wait for exactly one
application `Reply` (LMTP end of data: one per accepted recipient). Errors the core detected
itself become `ProtocolError`, whose `reply` the loop sends as is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .params import MailParams, RcptParams
from .replies import Reply


class Status(enum.Enum):
    """What `next_event()` returns when it has no event."""

    NEED_DATA = "NEED_DATA"  # feed more bytes with receive_data()
    PAUSED = "PAUSED"  # send() the reply to the current command (or finish STARTTLS) first


NEED_DATA = Status.NEED_DATA
PAUSED = Status.PAUSED


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of server events."""


@dataclass(frozen=True, slots=True)
class Helo(Event):
    """HELO (extended=False), EHLO (extended=True) or LHLO (extended=True, lmtp=True)."""

    name: str
    extended: bool
    lmtp: bool = False


@dataclass(frozen=True, slots=True)
class StartTLS(Event):
    """STARTTLS; reply 220, then handshake and call `start_tls_done()`."""


@dataclass(frozen=True, slots=True)
class Auth(Event):
    """AUTH mechanism [initial-response]; `initial` is decoded ("=" gives b"")."""

    mechanism: str
    initial: bytes | None


@dataclass(frozen=True, slots=True)
class AuthResponse(Event):
    """A SASL response line after a 334; `data` None means the client cancelled ("*")."""

    data: bytes | None


@dataclass(frozen=True, slots=True)
class MailFrom(Event):
    """MAIL FROM; `address` is "" for the null reverse-path."""

    address: str
    params: MailParams


@dataclass(frozen=True, slots=True)
class RcptTo(Event):
    address: str
    params: RcptParams


@dataclass(frozen=True, slots=True)
class DataStart(Event):
    """DATA; reply 354 to receive the message, or an error."""


@dataclass(frozen=True, slots=True)
class MessageData(Event):
    """The whole message after dot-unstuffing (terminator removed, final CRLF kept)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Chunk(Event):
    """One BDAT chunk with its exact octets; `last` for BDAT ... LAST."""

    data: bytes
    last: bool


@dataclass(frozen=True, slots=True)
class Rset(Event):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Event):
    arg: str = ""


@dataclass(frozen=True, slots=True)
class Quit(Event):
    pass


@dataclass(frozen=True, slots=True)
class Vrfy(Event):
    arg: str


@dataclass(frozen=True, slots=True)
class Expn(Event):
    arg: str


@dataclass(frozen=True, slots=True)
class Help(Event):
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class OtherCommand(Event):
    """A verb listed in `Extensions.extra_commands` (ETRN, ATRN...), upper-cased."""

    verb: str
    arg: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed (EOF), or the core is CLOSED after QUIT / a fatal error."""


@dataclass(frozen=True, slots=True)
class ProtocolError(Event):
    """The core rejected input itself: send `reply`; close afterwards when `fatal`."""

    reply: Reply
    fatal: bool = False
