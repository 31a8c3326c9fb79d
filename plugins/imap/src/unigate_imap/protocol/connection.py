"""`ServerConnection`: the sans-I/O server side of one IMAP connection (h11 style).

Feed bytes with `receive_data` (``b""`` = EOF) and pull events with
`next_event`: a `Command`, `NEED_DATA`, a `ContinuationRequest` the session must
write (synchronizing literal ``{n}``), a `ParseError` whose ``response`` the
session writes (the connection stays usable), `IdleDone` / `SaslResponse` in
the IDLE / AUTHENTICATE sub-states the session enters explicitly, or
`ConnectionClosed`.  Literals over the limit are answered with ``[TOOBIG]`` and
their bytes are skipped as they arrive, never buffered.  Any exception other
than `LocalProtocolError` (session misuse) escaping `next_event` is a bug.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass

from .commands import Command
from .limits import Limits
from .parser import CommandSyntaxError, parse_command, parse_tag

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "ContinuationRequest",
    "Event",
    "IdleDone",
    "LocalProtocolError",
    "ParseError",
    "ReadState",
    "SaslResponse",
    "ServerConnection",
]


class _Signal(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA = _Signal.NEED_DATA


class LocalProtocolError(Exception):
    """The session used the connection wrongly (a bug on our side, not the client's)."""


@dataclass(frozen=True, slots=True)
class ContinuationRequest:
    """Write ``data`` (``+ Ready``) so the client sends its synchronizing literal."""

    data: bytes = b"+ Ready\r\n"


@dataclass(frozen=True, slots=True)
class ParseError:
    """A command that was rejected; write ``response`` (tagged BAD/NO, or ``* BAD``)."""

    tag: str | None
    response: bytes
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The client ended IDLE; ``valid`` False when it sent something other than ``DONE``."""

    valid: bool = True


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """One AUTHENTICATE continuation line, base64-decoded; ``*`` sets ``cancelled``."""

    data: bytes = b""
    cancelled: bool = False
    malformed: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The client closed its side (EOF)."""


Event = Command | ContinuationRequest | ParseError | IdleDone | SaslResponse | ConnectionClosed


class ReadState(enum.Enum):
    COMMAND = "COMMAND"  # reading commands
    IDLE = "IDLE"  # between "+ idling" and DONE
    SASL = "SASL"  # expecting one AUTHENTICATE response line
    CLOSED = "CLOSED"  # EOF seen and reported


# Session-triggered transitions: method -> {from_state: to_state}
_TRANSITIONS: dict[str, dict[ReadState, ReadState]] = {
    "start_idle": {ReadState.COMMAND: ReadState.IDLE},
    "expect_sasl_response": {ReadState.COMMAND: ReadState.SASL, ReadState.SASL: ReadState.SASL},
    "line:IDLE": {ReadState.IDLE: ReadState.COMMAND},
    "line:SASL": {ReadState.SASL: ReadState.COMMAND},
    "eof": {s: ReadState.CLOSED for s in ReadState},
}

_LITERAL_RE = re.compile(rb"(~?)\{([0-9]{1,20})(\+?)\}\Z")


class ServerConnection:
    """Server half of one IMAP connection; see the module docstring."""

    def __init__(self, limits: Limits | None = None, *, utf8: bool = False) -> None:
        self.limits = limits or Limits()
        #: Mailbox names arrive as UTF-8 (IMAP4rev2 / UTF8=ACCEPT enabled) rather than mUTF-7.
        self.utf8 = utf8
        self.state = ReadState.COMMAND
        self._buf = bytearray()
        self._scan = 0  # CRLF search resumes here
        self._eof = False
        self._parts: list[bytes] = []  # framed pieces of the command being read
        self._size = 0
        self._literal = 0  # literal bytes still to collect into _parts
        self._skip = 0  # literal bytes still to discard
        self._discard = False  # discard through the end of the current command

    # -- input
    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the client; ``b""`` means EOF."""
        if data:
            if self._eof:
                raise LocalProtocolError("data after EOF")
            self._buf += data
        else:
            self._eof = True

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Unprocessed bytes and whether EOF was seen."""
        return bytes(self._buf), self._eof

    def discard_buffered(self) -> int:
        """Drop unread input (after STARTTLS/COMPRESS, against injection); returns its size."""
        n = len(self._buf)
        self._buf.clear()
        self._scan = 0
        return n

    @property
    def between_commands(self) -> bool:
        """True when no command is partly read (no line, literal or skipped bytes pending).

        Unsolicited responses (IMAP NOTIFY) are written only then: never between a
        ``+`` continuation and the literal it asked for.
        """
        return (
            self.state is ReadState.COMMAND
            and not self._parts
            and not self._literal
            and not self._skip
            and not self._discard
        )

    # -- session-driven sub-states
    def _transition(self, trigger: str) -> None:
        try:
            self.state = _TRANSITIONS[trigger][self.state]
        except KeyError:
            raise LocalProtocolError(f"{trigger} not allowed in state {self.state.name}") from None

    def start_idle(self) -> None:
        """Call after sending ``+ idling``; the next line must be DONE."""
        self._transition("start_idle")

    def expect_sasl_response(self) -> None:
        """Call after sending an AUTHENTICATE challenge ``+ ...``."""
        self._transition("expect_sasl_response")

    # -- output
    def next_event(self) -> Event | _Signal:
        while True:
            if self.state is ReadState.CLOSED:
                return ConnectionClosed()
            if self._skip:
                n = min(self._skip, len(self._buf))
                del self._buf[:n]
                self._skip -= n
                if self._skip:
                    return self._need()
            if self._literal:
                if len(self._buf) < self._literal:
                    return self._need()
                self._parts.append(bytes(self._buf[: self._literal]))
                del self._buf[: self._literal]
                self._literal = 0
                self._scan = 0
            idx = self._buf.find(b"\r\n", self._scan)
            if idx < 0:
                if len(self._buf) > self.limits.max_line_length and not self._discard:
                    self._scan = 0
                    return self._reject_line("line too long")
                if self._discard:
                    # keep only a tail that could hold the start of CRLF / a marker
                    keep = self._buf[-32:]
                    self._buf = bytearray(keep)
                self._scan = max(0, len(self._buf) - 1)
                return self._need()
            line = bytes(self._buf[:idx])
            del self._buf[: idx + 2]
            self._scan = 0
            if self._discard:
                self._discard_line(line)
                continue
            event = self._line(line)
            if event is not None:
                return event

    def _need(self) -> _Signal | ConnectionClosed:
        if self._eof:
            self._transition("eof")
            return ConnectionClosed()
        return NEED_DATA

    def _reset(self) -> None:
        self._parts = []
        self._size = 0

    def _tag(self) -> str | None:
        return parse_tag(self._parts[0]) if self._parts else None

    def _reject_line(self, reason: str, line: bytes | None = None) -> ParseError:
        """Refuse the current command and discard the rest of it.

        ``line`` is the complete line that broke a limit: a ``{n+}`` literal it
        announces is skipped; without it the line is still arriving.
        """
        tag = self._tag()
        if tag is None:
            tag = parse_tag(bytes(self._buf[:256]))
        self._reset()
        self._discard = True
        if line is not None:
            self._discard_line(line)
        return ParseError(tag, f"{tag or '*'} BAD {reason}\r\n".encode())

    def _discard_line(self, line: bytes) -> None:
        m = _LITERAL_RE.search(line)
        if m and m.group(3):
            self._skip = int(m.group(2))
        else:
            self._discard = False  # command over (a sync literal is never sent)

    def _line(self, line: bytes) -> Event | None:
        if self.state is ReadState.IDLE:
            self._transition("line:IDLE")
            return IdleDone(line.strip().upper() == b"DONE")
        if self.state is ReadState.SASL:
            self._transition("line:SASL")
            if line.strip() == b"*":
                return SaslResponse(cancelled=True)
            try:
                return SaslResponse(base64.b64decode(line.strip(), validate=True))
            except (binascii.Error, ValueError):
                return SaslResponse(malformed=True)
        if len(line) + 2 > self.limits.max_line_length:
            self._parts.append(line)
            return self._reject_line("line too long", line)
        self._parts.append(line)
        self._size += len(line) + 2
        if self._size > self.limits.max_command_size:
            return self._reject_line("command too long", line)
        m = _LITERAL_RE.search(line)
        if m is None:
            data = b"".join(self._parts)
            self._reset()
            if not data.strip(b" "):
                return None  # empty lines are ignored
            try:
                return parse_command(data, self.limits, utf8=self.utf8)
            except CommandSyntaxError as exc:
                return ParseError(exc.tag, exc.response)
        size = int(m.group(2))
        sync = not m.group(3)
        over_literal = size > self.limits.max_literal_size
        over_command = self._size + size > self.limits.max_command_size
        over_minus = (
            not sync
            and self.limits.max_literal_plus is not None
            and size > self.limits.max_literal_plus
        )
        if over_literal or over_command or over_minus:
            tag = self._tag()
            self._reset()
            if not sync:  # the bytes are coming anyway: skip them, then the rest of the command
                self._skip = size
                self._discard = True
            # RFC 7888: a LITERAL- violation is a BAD; a literal we cannot take is NO [TOOBIG]
            status = "BAD" if over_minus and not (over_literal or over_command) else "NO"
            return ParseError(tag, f"{tag or '*'} {status} [TOOBIG] literal too large\r\n".encode())
        self._parts.append(b"\r\n")
        self._size += size
        self._literal = size
        if sync:
            return ContinuationRequest()
        return None
