"""The hello line protocol, sans-I/O: bytes in, reply bytes out.

Lines end with CRLF (a bare LF is accepted). Commands, case-insensitive:

* ``HELLO name`` -> ``+OK <greeting>, name``
* ``NOOP``       -> ``+OK``
* ``QUIT``       -> ``+OK bye`` and the session ends
* anything else  -> ``-ERR unknown command``

A line longer than ``max_line`` bytes is answered ``-ERR line too long`` and skipped,
without buffering it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HelloProtocol:
    greeting: str = "hello"
    max_line: int = 1000
    finished: bool = False
    _buffer: bytearray = field(default_factory=bytearray)
    _skipping: bool = False

    def receive(self, data: bytes) -> bytes:
        """Feed bytes; return the replies to every complete line."""
        out = bytearray()
        self._buffer += data
        while not self.finished:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    del self._buffer[:]
                    if not self._skipping:
                        out += b"-ERR line too long\r\n"
                    self._skipping = True
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._skipping or len(line) > self.max_line:
                if not self._skipping:
                    out += b"-ERR line too long\r\n"
                self._skipping = False
                continue
            out += self._command(line)
        return bytes(out)

    def _command(self, line: bytes) -> bytes:
        verb, _, argument = line.decode("utf-8", "replace").partition(" ")
        verb = verb.upper()
        if verb == "HELLO" and argument.strip():
            return f"+OK {self.greeting}, {argument.strip()}\r\n".encode()
        if verb == "NOOP":
            return b"+OK\r\n"
        if verb == "QUIT":
            self.finished = True
            return b"+OK bye\r\n"
        return b"-ERR unknown command\r\n"
