"""SMTP replies: the `Reply` value and its wire form (RFC 5321 §4.2, RFC 2034).

A reply is a three-digit code, an optional enhanced status code (``x.y.z``, RFC 3463) and
one or more text lines. Serialisation writes ``code-`` on every line but the last and
``code SP`` on the last; when enhanced status codes are in use the status prefixes every
line, as RFC 2034 §4 requires.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import LocalProtocolError

STATUS_RE = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}\Z")


class ReplyClass:
    """What the reply code says (RFC 5321 §4.2.1); shared by the replies a server sends
    (`Reply`) and those a client receives (``ServerReply``)."""

    __slots__ = ()
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The lines joined with LF."""
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def is_intermediate(self) -> bool:
        return 300 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500


@dataclass(frozen=True, slots=True, init=False)
class Reply(ReplyClass):
    """One SMTP reply.

    ``Reply(250, "2.1.0", "Sender OK")`` or ``Reply(250, None, ["host", "PIPELINING"])``.
    `text` may be one string or a sequence of lines; it is stored as the tuple `lines`.
    """

    code: int
    status: str | None
    lines: tuple[str, ...]

    def __init__(
        self, code: int, status: str | None = None, text: str | Sequence[str] = ""
    ) -> None:
        if not isinstance(code, int) or not 200 <= code <= 599:
            raise LocalProtocolError(f"reply code out of range: {code!r}")
        if status is not None:
            if not STATUS_RE.match(status):
                raise LocalProtocolError(f"bad enhanced status code: {status!r}")
            if int(status[0]) != code // 100:
                raise LocalProtocolError(f"status {status} does not match code {code}")
        lines = (text,) if isinstance(text, str) else tuple(text)
        if not lines:
            lines = ("",)
        for line in lines:
            if "\r" in line or "\n" in line:
                raise LocalProtocolError(f"CR or LF in reply text: {line!r}")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "lines", lines)

    def to_bytes(self, *, enhanced: bool = True) -> bytes:
        """The wire form; `enhanced` says whether to prefix the status code."""
        status = self.status if enhanced and self.status else ""
        last = len(self.lines) - 1
        out = []
        for i, line in enumerate(self.lines):
            body = f"{status} {line}" if status and line else (status or line)
            if i < last:
                out.append(f"{self.code}-{body}\r\n")
            else:
                # An empty SASL challenge keeps its space: "334 " (RFC 4954 §4).
                space = " " if body or self.code == 334 else ""
                out.append(f"{self.code}{space}{body}\r\n")
        return "".join(out).encode("utf-8")
