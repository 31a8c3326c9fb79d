"""A blocking client of the control socket, and the Queue admin API on top of it.

:func:`connect` opens ``<data>/run/control.sock`` if a server answers there (None
otherwise: no server runs, or a killed one left its socket behind), and
:class:`ControlClient` sends one command line at a time and reads the reply the
manual's way (``200 OK``, ``200 data follow`` + object, ``201 object``, ``5xx text``).
:class:`RemoteQueue` offers the admin calls of :class:`unigate.queue.Queue`
(``list``/``show``/``retry``/``delete``) over it, so ``unigate queue`` runs the same
code against a live server and a stopped one.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import TracebackType

from unigate import dataformat
from unigate.control.commands import NO_MESSAGE
from unigate.control.queueview import entry_from_value
from unigate.control.service import control_path
from unigate.queue import QueueEntry, UnknownMessage

__all__ = ["ControlClient", "ControlError", "RemoteQueue", "connect"]

#: The longest reply accepted (the server writes every object on one line).
MAX_REPLY = 64 << 20
_FINAL = frozenset({"delivered", "relayed", "failed", "processing"})


class ControlError(Exception):
    """The server answered ``code text`` (a 5xx), or broke the protocol (code 0)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class ControlClient:
    """One CLI session over a connected stream socket (the greeting already read)."""

    def __init__(self, sock: socket.socket, greeting: str) -> None:
        self.sock = sock
        self.greeting = greeting
        self._file = sock.makefile("rb")

    def _readline(self) -> str:
        line = self._file.readline(MAX_REPLY)
        if not line:
            raise ControlError(0, "the server closed the connection")
        return line.decode("utf-8").rstrip("\r\n")

    def execute(self, line: str) -> dataformat.Value | None:
        """Send one command line; its output object, or None for ``200 OK``.

        Raises :class:`ControlError` on a 5xx reply.
        """
        if "\n" in line or "\r" in line:
            raise ValueError("a command is one line")
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        reply = self._readline()
        code, _, text = reply.partition(" ")
        if code == "201":
            return dataformat.loads_line(text)
        if code == "200":
            if text.lower() != "data follow":
                return None
            collected = self._readline()
            while True:  # one object, possibly over several lines
                try:
                    return dataformat.loads(collected)
                except dataformat.DataFormatError:
                    if len(collected) > MAX_REPLY:
                        raise
                    collected += "\n" + self._readline()
        if code.isdigit() and code.startswith("5"):
            raise ControlError(int(code), text)
        raise ControlError(0, f"unexpected reply {reply!r}")

    def call(self, name: str, *arguments: dataformat.Value) -> dataformat.Value | None:
        """``execute`` with each argument written in the data format (keywords are atoms)."""
        return self.execute(" ".join([name, *(dataformat.dumps(a) for a in arguments)]))

    def close(self) -> None:
        """Say QUIT (best effort) and close."""
        try:
            self.sock.sendall(b"QUIT\r\n")
            self._file.readline(1024)
        except OSError:
            pass
        finally:
            self._file.close()
            self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(data_dir: Path, *, timeout: float = 30.0) -> ControlClient | None:
    """A session with the server running on ``data_dir``, or None if none answers."""
    path = control_path(data_dir)
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        client = ControlClient(sock, "")
        greeting = client._readline()
    except (OSError, ControlError):
        sock.close()
        return None
    if not greeting.startswith("200 "):
        sock.close()
        return None
    client.greeting = greeting
    return client


class RemoteQueue:
    """The Queue admin calls of :class:`unigate.queue.Queue`, executed by a running server."""

    def __init__(self, client: ControlClient) -> None:
        self.client = client

    def _on_message(self, message_id: str, name: str, *arguments: str) -> dataformat.Value | None:
        try:
            return self.client.call(name, message_id, *arguments)
        except ControlError as exc:
            if exc.text.startswith(NO_MESSAGE):
                raise UnknownMessage(message_id) from None
            raise

    async def list(self) -> list[QueueEntry]:
        """``LISTQUEUEMESSAGES``."""
        value = self.client.call("LISTQUEUEMESSAGES")
        if not isinstance(value, list):
            raise ControlError(0, "LISTQUEUEMESSAGES did not return an array")
        return [entry_from_value(item) for item in value]

    async def show(self, message_id: str) -> QueueEntry:
        """``GETQUEUEMESSAGEINFO id``."""
        return entry_from_value(self._on_message(message_id, "GETQUEUEMESSAGEINFO"))

    async def retry(self, message_id: str | None = None) -> int:
        """``RELEASEQUEUEMESSAGE id``, or ``RELEASEQUEUEMESSAGES`` for all."""
        if message_id is None:
            value = self.client.call("RELEASEQUEUEMESSAGES")
        else:
            value = self._on_message(message_id, "RELEASEQUEUEMESSAGE")
        if not isinstance(value, int):
            raise ControlError(0, "the release count is not a number")
        return value

    async def delete(self, message_id: str, *, report: bool = False) -> int:
        """``REJECTQUEUEMESSAGE id [REPORT NONDN]``; the count of recipients it could reject.

        The manual's command has no output, so the count is of the recipients that were
        waiting (not final, not being delivered) just before.
        """
        entry = await self.show(message_id)
        waiting = sum(1 for r in entry.recipients if r.state not in _FINAL)
        if report:
            self._on_message(message_id, "REJECTQUEUEMESSAGE")
        else:
            self._on_message(message_id, "REJECTQUEUEMESSAGE", "REPORT", "NONDN")
        return waiting
