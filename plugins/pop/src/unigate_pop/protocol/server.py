"""The sans-I/O POP3 server core (RFC 1939, CAPA/RESP-CODES RFC 2449, STLS RFC 2595, AUTH RFC 5034).

Pull loop, as in h11::

    conn = ServerConnection(limits=Limits(), tls_active=False)
    out = conn.send(ok("POP3 server ready <1.2@host>"))   # the greeting
    while True:
        event = conn.next_event()
        if event is NEED_DATA:  conn.receive_data(await sock.receive())   # b"" at EOF
        elif isinstance(event, ConnectionClosed): break
        elif isinstance(event, ProtocolError):  out = conn.send(event.reply)
        else:                   out = conn.send(decide(event))   # exactly one reply
        # write `out`; after +OK to Stls: handshake, then conn.start_tls_done();
        # stop when conn.state is PopState.CLOSED

Every accepted command waits for exactly one ``send()`` (``next_event()`` returns PAUSED
meanwhile), so pipelined commands (RFC 2449 PIPELINING) are answered in order. The core
judges syntax, sequencing (which commands each state allows, PASS only right after an
accepted USER), line length, and counts errors; the application judges everything that
needs the account or the maildrop. No sockets, clock or logging here.
"""

from __future__ import annotations

import base64
import binascii
import re

from .errors import LocalProtocolError
from .events import (
    NEED_DATA,
    PAUSED,
    Apop,
    Auth,
    AuthList,
    AuthResponse,
    Capa,
    ConnectionClosed,
    Dele,
    Event,
    Last,
    List,
    Noop,
    Pass,
    ProtocolError,
    Quit,
    Retr,
    Rset,
    Stat,
    Status,
    Stls,
    Top,
    Uidl,
    Unknown,
    User,
)
from .limits import Limits
from .replies import Challenge, Reply, err
from .state import (
    ALLOWED,
    CHALLENGEABLE,
    EVENT_TRANSITIONS,
    KEYWORDS,
    TRANSITIONS,
    PopState,
    ReplyKind,
    Verb,
)

__all__ = ["ServerConnection"]

_TOO_LONG = object()
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_DIGEST = re.compile(r"[0-9a-fA-F]{32}")
_MAX_NUMBER_DIGITS = 10
_NO_ARGUMENTS = {
    Verb.STLS: Stls,
    Verb.CAPA: Capa,
    Verb.STAT: Stat,
    Verb.NOOP: Noop,
    Verb.RSET: Rset,
    Verb.LAST: Last,
}


class _Reject(Exception):
    """Internal: the current command line is rejected with ``reply``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.reply = err(text)


def _number(token: str, *, zero: bool = False) -> int:
    if not (token.isascii() and token.isdigit()) or len(token) > _MAX_NUMBER_DIGITS:
        raise _Reject(f"invalid number {token[:20]!r}" if token else "a number is required")
    value = int(token)
    if value == 0 and not zero:
        raise _Reject("message numbers start at 1")
    return value


def _decode_base64(text: str) -> bytes:
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise _Reject("invalid base64 data") from None


class ServerConnection:
    """One POP3 server session's protocol state (see the module docstring)."""

    def __init__(self, *, limits: Limits | None = None, tls_active: bool = False) -> None:
        self.limits = limits or Limits()
        self.state = PopState.GREETING
        self.tls_active = tls_active
        self.errors = 0
        self._buffer = bytearray()
        self._start = 0  # consumed bytes at the front of _buffer
        self._scan = 0  # where to resume looking for LF (relative to _buffer)
        self._skipping = False  # inside an over-long line: drop up to the next LF
        self._eof = False
        self._pending: Verb | None = Verb.GREETING
        self._candidate: str | None = None  # the name of a USER waiting for its reply
        self._user: str | None = None  # the name of an accepted USER: PASS may follow
        self._close_after_reply = False

    # -- input ---------------------------------------------------------------------------

    @property
    def user(self) -> str | None:
        """The name of an accepted USER command, while PASS may follow."""
        return self._user

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; ``b""`` means end of stream."""
        if not data:
            self._eof = True
            return
        if self.state in (PopState.STARTTLS, PopState.CLOSED):
            return  # plaintext sent before the handshake is never a command
        self._buffer += data

    def next_event(self) -> Event | Status:
        """The next event, or NEED_DATA, or PAUSED (a reply or the STLS handshake is due)."""
        if self.state is PopState.CLOSED:
            return ConnectionClosed()
        if self._pending is not None or self.state is PopState.STARTTLS:
            return PAUSED
        sasl = self.state is PopState.SASL
        line = self._next_line(self.limits.max_auth_line if sasl else self.limits.max_command_line)
        if line is None:
            if self._eof:
                self.state = PopState.CLOSED
                return ConnectionClosed()
            return NEED_DATA
        if sasl:
            self._pending = Verb.AUTH_RESPONSE
            return self._auth_response(line)
        try:
            return self._command(line)
        except _Reject as reject:
            return self._error(reject.reply)

    def _next_line(self, limit: int) -> bytes | object | None:
        buf = self._buffer
        while self._skipping:
            idx = buf.find(b"\n", self._start)
            if idx < 0:
                self._clear()
                return None
            self._start = idx + 1
            self._scan = self._start
            self._skipping = False
        idx = buf.find(b"\n", max(self._scan, self._start))
        if idx < 0:
            if len(buf) - self._start >= limit:
                self._clear()
                self._skipping = True
                return _TOO_LONG
            self._scan = len(buf)
            return None
        line = bytes(buf[self._start : idx])
        self._start = self._scan = idx + 1
        if self._start > 4096 and self._start * 2 > len(buf):
            del buf[: self._start]
            self._scan -= self._start
            self._start = 0
        if len(line) + 1 > limit:
            return _TOO_LONG
        return line[:-1] if line.endswith(b"\r") else line

    def _clear(self) -> None:
        self._buffer.clear()
        self._start = self._scan = 0

    # -- parsing -------------------------------------------------------------------------

    def _error(self, reply: Reply) -> ProtocolError:
        self.errors += 1
        self._pending = Verb.ERROR
        if self.errors >= self.limits.max_errors:
            self._close_after_reply = True
            return ProtocolError(err("too many errors, closing connection"), fatal=True)
        return ProtocolError(reply)

    def _auth_response(self, line: bytes | object) -> AuthResponse:
        if not isinstance(line, bytes):
            return AuthResponse(None, malformed=True)
        text = line.strip()
        if text == b"*":
            return AuthResponse(None)
        try:
            data = b"" if text == b"=" else base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return AuthResponse(None, malformed=True)
        return AuthResponse(data)

    def _command(self, line: bytes | object) -> Event:
        if not isinstance(line, bytes):
            raise _Reject("command line too long")
        if _CONTROL.search(line):
            raise _Reject("invalid characters in the command line")
        text = line.decode("utf-8", "replace")
        keyword, _, rest = text.partition(" ")
        keyword = keyword.strip().upper()
        if not keyword:
            raise _Reject("empty command")
        verb = KEYWORDS.get(keyword, Verb.OTHER)
        if verb not in ALLOWED.get(self.state, frozenset()):
            raise _Reject(f"{keyword} is not valid in this state")
        user, self._user = self._user, None
        event = self._parse(verb, keyword, rest, user)
        if verb is Verb.OTHER and self.errors + 1 >= self.limits.max_errors:
            return self._error(err(f"unknown command {keyword[:40]}"))
        self._pending = Verb.AUTH_LIST if isinstance(event, AuthList) else verb
        if verb is Verb.OTHER:
            self.errors += 1
        self.state = EVENT_TRANSITIONS.get((self.state, verb), self.state)
        return event

    def _parse(self, verb: Verb, keyword: str, rest: str, user: str | None) -> Event:
        args = rest.split()
        if verb in _NO_ARGUMENTS:
            if args:
                raise _Reject(f"{keyword} takes no arguments")
            if verb is Verb.STLS and self.tls_active:
                raise _Reject("TLS is already active")
            return _NO_ARGUMENTS[verb]()
        if verb is Verb.QUIT:
            if args:
                raise _Reject("QUIT takes no arguments")
            return Quit(update=self.state is PopState.TRANSACTION)
        if verb is Verb.USER:
            if len(args) != 1:
                raise _Reject("USER needs one name")
            self._candidate = args[0]
            return User(args[0])
        if verb is Verb.PASS:
            if user is None:
                raise _Reject("send USER first")
            if not rest:
                raise _Reject("PASS needs a password")
            return Pass(user, rest)
        if verb is Verb.APOP:
            if len(args) != 2 or not _DIGEST.fullmatch(args[1]):
                raise _Reject("APOP needs a name and an MD5 digest")
            return Apop(args[0], args[1].lower())
        if verb is Verb.AUTH:
            return self._auth(args)
        if verb in (Verb.LIST, Verb.UIDL):
            if len(args) > 1:
                raise _Reject(f"{keyword} takes at most one message number")
            number = _number(args[0]) if args else None
            return List(number) if verb is Verb.LIST else Uidl(number)
        if verb in (Verb.RETR, Verb.DELE):
            if len(args) != 1:
                raise _Reject(f"{keyword} needs one message number")
            return Retr(_number(args[0])) if verb is Verb.RETR else Dele(_number(args[0]))
        if verb is Verb.TOP:
            if len(args) != 2:
                raise _Reject("TOP needs a message number and a line count")
            return Top(_number(args[0]), _number(args[1], zero=True))
        return Unknown(keyword[:40], rest[:200])

    def _auth(self, args: list[str]) -> Event:
        if not args:
            return AuthList()
        if len(args) > 2:
            raise _Reject("AUTH takes a mechanism and an optional initial response")
        mechanism = args[0].upper()
        if not _MECHANISM.fullmatch(mechanism):
            raise _Reject("invalid mechanism name")
        initial = _decode_base64(args[1]) if len(args) == 2 else None
        return Auth(mechanism, initial)

    # -- output --------------------------------------------------------------------------

    def send(self, reply: Reply | Challenge) -> bytes:
        """The bytes of the reply to the pending command (or the greeting); moves the state."""
        verb = self._pending
        if verb is None:
            raise LocalProtocolError("no command is waiting for a reply")
        if isinstance(reply, Challenge):
            if verb not in CHALLENGEABLE:
                raise LocalProtocolError("a SASL challenge can only answer AUTH")
            kind = ReplyKind.CHALLENGE
        else:
            kind = ReplyKind.OK if reply.ok else ReplyKind.ERR
        data = reply.encode()
        self._pending = None
        if verb is Verb.USER and kind is ReplyKind.OK:
            self._user = self._candidate
        self._candidate = None
        if self._close_after_reply:
            self.state = PopState.CLOSED
        else:
            self.state = TRANSITIONS.get((self.state, verb, kind), self.state)
        if self.state is PopState.STARTTLS:
            self._clear()  # bytes pipelined behind STLS are plaintext injection
            self._skipping = False
        return data

    def start_tls_done(self) -> None:
        """The TLS handshake after STLS succeeded: forget everything, back to AUTHORIZATION."""
        if self.state is not PopState.STARTTLS:
            raise LocalProtocolError("start_tls_done() without an accepted STLS")
        self._clear()
        self._skipping = False
        self.tls_active = True
        self.state = PopState.AUTHORIZATION
