"""The CLI line protocol, sans I/O: lines in, events out, replies rendered to bytes.

This is the manual's CLI access over the PWD connection (Command Line Interface,
"CLI Access", 25993-26046; PWD module 21379-21431; digest 06 §2.3):

* the server greets with ``200 <text> ready``;
* a client logs in with ``USER name`` (``300 please send the PASS``) and ``PASS pw``
  (``200 login OK``), unless the transport already authenticated it (the local control
  socket does: see :mod:`unigate.control.service`);
* every other line is a command: a case-insensitive command word, then arguments in
  the text data format, all on one line;
* success without output is ``200 OK``; with output it is ``200 data follow``, then
  the object on its own line, then CRLF. After ``INLINE`` (a switch the common CLI
  client libraries send; not in the manual) output comes as ``201 <object>`` on the
  reply line itself. Failure is ``5xx <text>``: ``500`` for a line the server cannot
  read (unknown command, bad arguments), ``501`` for a command that failed;
* ``QUIT`` answers ``200 ... connection closed`` and ends the session.

Usage (the caller owns the socket)::

    core = ControlProtocol(authenticated=True)
    send(core.greeting("example.test", "1.0"))
    for event in core.receive_data(received):
        if isinstance(event, Command):
            core.data(result)            # or core.ok() / core.error(501, "...")
    send(core.data_to_send())
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from unigate import dataformat

__all__ = [
    "Command",
    "ControlProtocol",
    "Login",
    "Quit",
    "State",
    "MAX_LINE",
    "SYNTAX_ERROR",
    "COMMAND_FAILED",
]

#: The longest command line accepted (settings dictionaries can be long).
MAX_LINE = 1 << 20
#: The reply code for a line the server cannot read (unknown command, bad arguments).
SYNTAX_ERROR = 500
#: The reply code for a command that was understood but failed.
COMMAND_FAILED = 501


class State(enum.Enum):
    """Where a session is: before login, waiting for PASS, logged in, or closed."""

    AUTHORIZATION = "authorization"
    PASSWORD = "password"
    READY = "ready"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Command:
    """A CLI command line: ``name`` upper-cased, ``arguments`` the rest of the line."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Login:
    """``USER``/``PASS`` complete: check them, then call :meth:`ControlProtocol.login_result`."""

    user: str
    password: str


@dataclass(frozen=True, slots=True)
class Quit:
    """The client said ``QUIT`` (the reply is already in the outbox), or the line was too long."""


Event = Command | Login | Quit


class ControlProtocol:
    """One CLI session's protocol state: feed it bytes, answer its events."""

    def __init__(self, *, authenticated: bool = False, max_line: int = MAX_LINE) -> None:
        self.state = State.READY if authenticated else State.AUTHORIZATION
        self.inline = False
        self.max_line = max_line
        self._buffer = b""
        self._outbox: list[bytes] = []
        self._user = ""

    # -- output ------------------------------------------------------------------------------

    @staticmethod
    def greeting(host: str, version: str) -> bytes:
        """The first line the server sends."""
        return f"200 Unigate at {host} PWD Server {version} ready\r\n".encode()

    def data_to_send(self) -> bytes:
        """The bytes to send now (replies queued since the last call)."""
        out = b"".join(self._outbox)
        self._outbox.clear()
        return out

    def _line(self, text: str) -> None:
        self._outbox.append(text.encode("utf-8") + b"\r\n")

    def ok(self) -> None:
        """Answer the oldest unanswered command: success without output."""
        self._line("200 OK")

    def data(self, value: dataformat.Value) -> None:
        """Answer the oldest unanswered command: success with ``value`` as output (one line)."""
        text = dataformat.dumps(value)
        if self.inline:
            self._line(f"201 {text}")
        else:
            self._line("200 data follow")
            self._line(text)

    def error(self, code: int, text: str) -> None:
        """Answer the oldest unanswered command: failure ``code`` (5xx) with ``text`` on one line."""
        if not 500 <= code <= 599:
            raise ValueError(f"an error reply needs a 5xx code, not {code}")
        self._line(f"{code} {' '.join(text.split()) or 'error'}")

    def login_result(self, accepted: bool, text: str = "") -> None:
        """Answer a :class:`Login` event."""
        if accepted:
            self.state = State.READY
            self._line("200 login OK")
        else:
            self.state = State.AUTHORIZATION
            self._line(f"{COMMAND_FAILED} {text or 'incorrect user name or password'}")

    # -- input -------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Buffer ``data``; return the events of the complete lines in it.

        Lines end with LF (a CR before it is dropped). Protocol lines (``USER``, ``INLINE``,
        a line before login...) are answered here, into the outbox; commands become
        events, each to be answered (``ok``/``data``/``error``) before the next reply.
        """
        if self.state is State.CLOSED:
            return []
        self._buffer += data
        events: list[Event] = []
        while self.state is not State.CLOSED:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    self._buffer = b""
                    self._line(f"{SYNTAX_ERROR} command line too long")
                    self.state = State.CLOSED
                    events.append(Quit())
                break
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if len(raw) > self.max_line:
                self._line(f"{SYNTAX_ERROR} command line too long")
                continue
            event = self._line_event(raw.removesuffix(b"\r"))
            if event is not None:
                events.append(event)
        return events

    def _line_event(self, raw: bytes) -> Event | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._line(f"{SYNTAX_ERROR} the command line is not UTF-8")
            return None
        word, _, rest = line.strip(" \t").partition(" ")
        name = word.upper()
        rest = rest.strip(" \t")
        if not name:
            self._line(f"{SYNTAX_ERROR} empty command line")
            return None
        if name == "QUIT":
            self._line("200 Unigate PWD connection closed")
            self.state = State.CLOSED
            return Quit()
        if self.state is State.READY:
            if name in ("USER", "PASS", "AUTH", "APOP"):
                self._line(f"{SYNTAX_ERROR} already logged in")
                return None
            if name == "INLINE":
                self.inline = True
                self._line("200 OK")
                return None
            return Command(name, rest)
        if name == "USER":
            if not rest:
                self._line(f"{SYNTAX_ERROR} USER needs a name")
                return None
            self._user = rest
            self.state = State.PASSWORD
            self._line("300 please send the PASS")
            return None
        if name == "PASS" and self.state is State.PASSWORD:
            self.state = State.AUTHORIZATION
            return Login(self._user, rest)
        self._line(f"{SYNTAX_ERROR} please log in first (USER)")
        return None
