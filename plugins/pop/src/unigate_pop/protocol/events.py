"""Events the POP3 server core produces, and the NEED_DATA / PAUSED sentinels.

Every event is a frozen, slotted value. A command event waits for exactly one reply
from the application (``next_event()`` returns PAUSED meanwhile); errors the core
judges by itself (syntax, sequence, line length) come out as :class:`ProtocolError`,
whose ``reply`` the loop sends as is. :class:`ConnectionClosed` needs no reply.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .replies import Reply


class Status(enum.Enum):
    """What ``next_event()`` returns when it has no event."""

    NEED_DATA = "NEED_DATA"  # feed more bytes with receive_data()
    PAUSED = "PAUSED"  # send() the reply to the current command, or finish STLS, first


NEED_DATA = Status.NEED_DATA
PAUSED = Status.PAUSED


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of server events."""


@dataclass(frozen=True, slots=True)
class User(Event):
    """USER name: +OK lets PASS follow."""

    name: str


@dataclass(frozen=True, slots=True)
class Pass(Event):
    """PASS after an accepted USER; ``user`` is the name USER gave, ``password`` the rest of the line."""

    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Apop(Event):
    """APOP name digest (``digest`` lower-cased hex MD5 of timestamp + secret)."""

    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class AuthList(Event):
    """AUTH without a mechanism: answer with the list of SASL mechanisms."""


@dataclass(frozen=True, slots=True)
class Auth(Event):
    """AUTH mechanism [initial-response]; ``initial`` is decoded (``=`` gives b"")."""

    mechanism: str
    initial: bytes | None


@dataclass(frozen=True, slots=True)
class AuthResponse(Event):
    """A SASL response line after a challenge.

    ``data`` None: the client cancelled (``*``) or sent something that is not base64
    (``malformed``); either way the exchange is over and the reply must be -ERR.
    """

    data: bytes | None
    malformed: bool = False


@dataclass(frozen=True, slots=True)
class Stls(Event):
    """STLS: +OK, then the TLS handshake, then ``start_tls_done()``."""


@dataclass(frozen=True, slots=True)
class Capa(Event):
    """CAPA: a multi-line capability list."""


@dataclass(frozen=True, slots=True)
class Stat(Event):
    """STAT: ``+OK count octets``."""


@dataclass(frozen=True, slots=True)
class List(Event):
    """LIST [n]: the sizes of all (``number`` None) or one message."""

    number: int | None


@dataclass(frozen=True, slots=True)
class Uidl(Event):
    """UIDL [n]: the unique ids of all (``number`` None) or one message."""

    number: int | None


@dataclass(frozen=True, slots=True)
class Retr(Event):
    number: int


@dataclass(frozen=True, slots=True)
class Top(Event):
    """TOP n lines: the header and the first ``lines`` body lines."""

    number: int
    lines: int


@dataclass(frozen=True, slots=True)
class Dele(Event):
    number: int


@dataclass(frozen=True, slots=True)
class Noop(Event):
    pass


@dataclass(frozen=True, slots=True)
class Rset(Event):
    pass


@dataclass(frozen=True, slots=True)
class Last(Event):
    """LAST (RFC 1460, kept by some old clients): the highest message number accessed."""


@dataclass(frozen=True, slots=True)
class Quit(Event):
    """QUIT; ``update`` is True in the TRANSACTION state: apply the deletions, then reply."""

    update: bool


@dataclass(frozen=True, slots=True)
class Unknown(Event):
    """A command this core does not know (XTND and friends); usually answered with -ERR."""

    keyword: str
    argument: str


@dataclass(frozen=True, slots=True)
class ProtocolError(Event):
    """A command the core rejected by itself; send ``reply`` (the connection closes if ``fatal``)."""

    reply: Reply
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed the connection (or the session is over)."""
