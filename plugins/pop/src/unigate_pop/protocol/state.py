"""Server states and the transition tables (h11 `_state.py` rule: all sequencing lives here).

RFC 1939 section 3: a session starts in AUTHORIZATION, enters TRANSACTION once the
client proved who it is, and goes through UPDATE when it sends QUIT from TRANSACTION.
We add the sub-states the wire needs: GREETING (before the banner), SASL (a ``+``
challenge is out, the next line is a response), STARTTLS (``+OK`` to STLS is out, the
handshake runs) and CLOSED.

* :data:`ALLOWED` -- the verbs a client may issue in a state; any other known verb gets
  "-ERR command not valid in this state".
* :data:`EVENT_TRANSITIONS` -- state changes as soon as a command is accepted.
* :data:`TRANSITIONS` -- ``(state, verb, kind) -> state`` after the application's reply
  of ``kind``; a missing row means the state stays. A fatal error always leads to CLOSED.
"""

from __future__ import annotations

import enum


class PopState(enum.Enum):
    GREETING = "GREETING"
    AUTHORIZATION = "AUTHORIZATION"
    SASL = "SASL"
    STARTTLS = "STARTTLS"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


class Verb(enum.Enum):
    """What a pending reply answers."""

    GREETING = "GREETING"
    USER = "USER"
    PASS = "PASS"
    APOP = "APOP"
    AUTH = "AUTH"
    AUTH_LIST = "AUTH_LIST"  # AUTH without a mechanism: a listing, no login
    AUTH_RESPONSE = "AUTH_RESPONSE"
    STLS = "STLS"
    CAPA = "CAPA"
    STAT = "STAT"
    LIST = "LIST"
    UIDL = "UIDL"
    RETR = "RETR"
    TOP = "TOP"
    DELE = "DELE"
    NOOP = "NOOP"
    RSET = "RSET"
    LAST = "LAST"
    QUIT = "QUIT"
    OTHER = "OTHER"  # an unknown command
    ERROR = "ERROR"  # a ProtocolError the core produced


class ReplyKind(enum.Enum):
    OK = "+OK"
    ERR = "-ERR"
    CHALLENGE = "+"


#: Command keywords the core parses, by verb (AUTH covers the AuthList form too).
KEYWORDS: dict[str, Verb] = {
    v.value: v
    for v in Verb
    if v not in (Verb.GREETING, Verb.AUTH_LIST, Verb.AUTH_RESPONSE, Verb.OTHER, Verb.ERROR)
}

_AUTHORIZATION = frozenset(
    {Verb.USER, Verb.PASS, Verb.APOP, Verb.AUTH, Verb.STLS, Verb.CAPA, Verb.QUIT, Verb.OTHER}
)
_TRANSACTION = frozenset(
    {
        Verb.CAPA,
        Verb.STAT,
        Verb.LIST,
        Verb.UIDL,
        Verb.RETR,
        Verb.TOP,
        Verb.DELE,
        Verb.NOOP,
        Verb.RSET,
        Verb.LAST,
        Verb.QUIT,
        Verb.OTHER,
    }
)

ALLOWED: dict[PopState, frozenset[Verb]] = {
    PopState.AUTHORIZATION: _AUTHORIZATION,
    PopState.TRANSACTION: _TRANSACTION,
}

EVENT_TRANSITIONS: dict[tuple[PopState, Verb], PopState] = {
    (PopState.TRANSACTION, Verb.QUIT): PopState.UPDATE,
}

TRANSITIONS: dict[tuple[PopState, Verb, ReplyKind], PopState] = {
    (PopState.GREETING, Verb.GREETING, ReplyKind.OK): PopState.AUTHORIZATION,
    (PopState.GREETING, Verb.GREETING, ReplyKind.ERR): PopState.CLOSED,
    (PopState.AUTHORIZATION, Verb.PASS, ReplyKind.OK): PopState.TRANSACTION,
    (PopState.AUTHORIZATION, Verb.APOP, ReplyKind.OK): PopState.TRANSACTION,
    (PopState.AUTHORIZATION, Verb.AUTH, ReplyKind.OK): PopState.TRANSACTION,
    (PopState.AUTHORIZATION, Verb.AUTH, ReplyKind.CHALLENGE): PopState.SASL,
    (PopState.SASL, Verb.AUTH_RESPONSE, ReplyKind.OK): PopState.TRANSACTION,
    (PopState.SASL, Verb.AUTH_RESPONSE, ReplyKind.ERR): PopState.AUTHORIZATION,
    (PopState.AUTHORIZATION, Verb.STLS, ReplyKind.OK): PopState.STARTTLS,
    (PopState.AUTHORIZATION, Verb.QUIT, ReplyKind.OK): PopState.CLOSED,
    (PopState.AUTHORIZATION, Verb.QUIT, ReplyKind.ERR): PopState.CLOSED,
    (PopState.UPDATE, Verb.QUIT, ReplyKind.OK): PopState.CLOSED,
    (PopState.UPDATE, Verb.QUIT, ReplyKind.ERR): PopState.CLOSED,
}

#: Verbs whose reply may be a SASL challenge.
CHALLENGEABLE = frozenset({Verb.AUTH, Verb.AUTH_RESPONSE})
