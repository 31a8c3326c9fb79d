"""Server states and the transition tables (h11 `_state.py` rule: all sequencing lives here).

Two tables drive the server core:

* `ALLOWED[state]`: the verbs the client may issue in `state`; any other verb gets the
  sequencing reply of `SEQUENCE_ERRORS` (503 5.5.1 with a hint).
* `TRANSITIONS[(state, verb, kind)]`: the state after the application's reply of `kind`
  (positive 2xx, intermediate 3xx, negative 4xx/5xx) to `verb`. A missing row means the state
  does not change. A 421 reply always leads to CLOSED.
"""

from __future__ import annotations

import enum


class _Member(enum.Enum):
    """An enum whose members hash by identity, in C.

    `Enum.__hash__` is Python code hashing the member's name; the tables below are
    looked up with these members several times per command (about 25 calls per message).
    Members are singletons and compare by identity, so the identity hash is consistent.
    """

    __hash__ = object.__hash__


class ServerState(_Member):
    GREETING = "GREETING"  # the application has not sent the banner yet
    REFUSED = "REFUSED"  # banner was 554: only QUIT is honoured (RFC 5321 §3.1)
    CONNECTED = "CONNECTED"  # banner sent, no (successful) HELO/EHLO/LHLO yet
    READY = "READY"  # greeted, no mail transaction
    MAIL = "MAIL"  # MAIL FROM accepted
    RCPT = "RCPT"  # at least one RCPT TO accepted
    DATA = "DATA"  # 354 sent: reading message content
    CHUNKING = "CHUNKING"  # at least one non-LAST BDAT chunk accepted
    AUTH = "AUTH"  # 334 sent: reading a SASL response line
    TLS = "TLS"  # 220 to STARTTLS sent: waiting for start_tls_done()
    CLOSED = "CLOSED"


class Verb(_Member):
    """What a pending reply answers."""

    GREETING = "GREETING"
    HELO = "HELO"
    STARTTLS = "STARTTLS"
    AUTH = "AUTH"
    AUTH_RESPONSE = "AUTH_RESPONSE"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    MESSAGE = "MESSAGE"  # end of DATA content
    BDAT = "BDAT"
    BDAT_LAST = "BDAT_LAST"
    RSET = "RSET"
    NOOP = "NOOP"
    QUIT = "QUIT"
    VRFY = "VRFY"
    EXPN = "EXPN"
    HELP = "HELP"
    OTHER = "OTHER"
    ERROR = "ERROR"  # a ProtocolError the core produced


class ReplyKind(_Member):
    POSITIVE = 2
    INTERMEDIATE = 3
    NEGATIVE = 4  # 4xx and 5xx

    @classmethod
    def of(cls, code: int) -> ReplyKind:
        first = code // 100
        return cls.POSITIVE if first == 2 else cls.INTERMEDIATE if first == 3 else cls.NEGATIVE


S, V = ServerState, Verb
_ANYTIME = frozenset({V.RSET, V.NOOP, V.QUIT, V.VRFY, V.EXPN, V.HELP, V.OTHER})

ALLOWED: dict[ServerState, frozenset[Verb]] = {
    S.REFUSED: frozenset({V.QUIT}),
    S.CONNECTED: _ANYTIME | {V.HELO},
    S.READY: _ANYTIME | {V.HELO, V.STARTTLS, V.AUTH, V.MAIL},
    S.MAIL: _ANYTIME | {V.HELO, V.RCPT},
    S.RCPT: _ANYTIME | {V.HELO, V.RCPT, V.DATA, V.BDAT, V.BDAT_LAST},
    S.CHUNKING: frozenset({V.RSET, V.NOOP, V.QUIT, V.BDAT, V.BDAT_LAST}),
}

_GREET = "Send HELO/EHLO first"
_NEED_MAIL = "Need MAIL command"
_NEED_RCPT = "Need RCPT command"
SEQUENCE_ERRORS: dict[tuple[ServerState, Verb], str] = {
    **{(S.CONNECTED, v): _GREET for v in (V.MAIL, V.RCPT, V.DATA, V.BDAT, V.BDAT_LAST)},
    (S.CONNECTED, V.STARTTLS): "Send EHLO first",
    (S.CONNECTED, V.AUTH): "Send EHLO first",
    **{(S.READY, v): _NEED_MAIL for v in (V.RCPT, V.DATA, V.BDAT, V.BDAT_LAST)},
    **{(S.MAIL, v): _NEED_RCPT for v in (V.DATA, V.BDAT, V.BDAT_LAST)},
    (S.MAIL, V.MAIL): "Sender already specified",
    (S.RCPT, V.MAIL): "Sender already specified",
    **{(s, V.AUTH): "AUTH not permitted during a mail transaction" for s in (S.MAIL, S.RCPT)},
    **{
        (s, V.STARTTLS): "STARTTLS not permitted during a mail transaction"
        for s in (S.MAIL, S.RCPT)
    },
    (S.CHUNKING, V.DATA): "DATA not permitted during BDAT transfer",
    **{(S.REFUSED, v): "No service here, QUIT only" for v in Verb},
}
DEFAULT_SEQUENCE_ERROR = "Bad sequence of commands"

P, M, N = ReplyKind.POSITIVE, ReplyKind.INTERMEDIATE, ReplyKind.NEGATIVE
_GREETED = (S.READY, S.MAIL, S.RCPT, S.CHUNKING)

TRANSITIONS: dict[tuple[ServerState, Verb, ReplyKind], ServerState] = {
    (S.GREETING, V.GREETING, P): S.CONNECTED,
    (S.GREETING, V.GREETING, N): S.REFUSED,
    **{(s, V.HELO, P): S.READY for s in (S.CONNECTED, *_GREETED)},
    (S.READY, V.STARTTLS, P): S.TLS,
    (S.READY, V.AUTH, M): S.AUTH,
    (S.AUTH, V.AUTH_RESPONSE, M): S.AUTH,
    (S.AUTH, V.AUTH_RESPONSE, P): S.READY,
    (S.AUTH, V.AUTH_RESPONSE, N): S.READY,
    (S.READY, V.MAIL, P): S.MAIL,
    (S.MAIL, V.RCPT, P): S.RCPT,
    (S.RCPT, V.DATA, M): S.DATA,
    (S.DATA, V.MESSAGE, P): S.READY,
    (S.DATA, V.MESSAGE, N): S.READY,
    **{(s, V.BDAT, P): S.CHUNKING for s in (S.RCPT, S.CHUNKING)},
    **{(s, V.BDAT, N): S.READY for s in (S.RCPT, S.CHUNKING)},
    **{(s, V.BDAT_LAST, k): S.READY for s in (S.RCPT, S.CHUNKING) for k in (P, N)},
    **{(s, V.RSET, P): S.READY for s in _GREETED},
    **{(s, V.QUIT, P): S.CLOSED for s in (S.REFUSED, S.CONNECTED, *_GREETED)},
}

# Reply classes each verb may be answered with (anything else is a LocalProtocolError).
EXPECTED_KINDS: dict[Verb, frozenset[ReplyKind]] = {
    V.DATA: frozenset({M, N}),
    V.AUTH: frozenset({P, M, N}),
    V.AUTH_RESPONSE: frozenset({P, M, N}),
}
DEFAULT_KINDS = frozenset({P, N})
