"""Server replies: ``+OK``/``-ERR`` lines, multi-line responses, and SASL challenges.

RFC 1939 replies are one status line, optionally followed by a multi-line body that
:meth:`Reply.encode` byte-stuffs and terminates with ``.CRLF``. RFC 2449 (RESP-CODES)
and RFC 3206 put a bracketed response code right after the status indicator:
``-ERR [IN-USE] ...``, ``-ERR [AUTH] ...``, ``-ERR [SYS/TEMP] ...``. A SASL challenge
(RFC 5034) is ``+ `` followed by base64.

Builders: :func:`ok`, :func:`err`, :func:`listing` (lines of text), :func:`content`
(message bytes) and :class:`Challenge`.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .content import dot_stuff
from .errors import LocalProtocolError

__all__ = ["Challenge", "Reply", "ResponseCode", "content", "err", "listing", "ok"]


class ResponseCode(enum.StrEnum):
    """Extended response codes (RFC 2449 section 8, RFC 3206)."""

    IN_USE = "IN-USE"  # the maildrop is locked by another session
    LOGIN_DELAY = "LOGIN-DELAY"  # logged in too recently
    SYS_TEMP = "SYS/TEMP"  # a temporary system problem: try again later
    SYS_PERM = "SYS/PERM"  # a permanent system problem: do not retry blindly
    AUTH = "AUTH"  # the credentials are wrong


def _check_text(text: str) -> None:
    if "\r" in text or "\n" in text:
        raise LocalProtocolError("reply text must not contain CR or LF")


@dataclass(frozen=True, slots=True)
class Reply:
    """A ``+OK`` (``ok=True``) or ``-ERR`` reply; ``body`` makes it multi-line (only with +OK).

    ``body`` is raw content: line ends are normalised to CRLF and leading dots doubled
    when encoded; an empty body sends just the terminating ``.CRLF``.
    """

    ok: bool
    text: str = ""
    code: ResponseCode | None = None
    body: bytes | None = None

    def __post_init__(self) -> None:
        _check_text(self.text)
        if self.body is not None and not self.ok:
            raise LocalProtocolError("only +OK replies can be multi-line")

    @property
    def multiline(self) -> bool:
        return self.body is not None

    def status_line(self) -> bytes:
        """The first line, CRLF included."""
        parts = ["+OK" if self.ok else "-ERR"]
        if self.code is not None:
            parts.append(f"[{self.code}]")
        if self.text:
            parts.append(self.text)
        return " ".join(parts).encode("utf-8") + b"\r\n"

    def encode(self) -> bytes:
        """The bytes on the wire."""
        head = self.status_line()
        if self.body is None:
            return head
        return head + dot_stuff(self.body) + b".\r\n"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A SASL server challenge (``+ base64``) answering AUTH or a previous response."""

    data: bytes = b""

    def encode(self) -> bytes:
        return b"+ " + base64.b64encode(self.data) + b"\r\n"


def ok(text: str = "", code: ResponseCode | None = None) -> Reply:
    """A single-line ``+OK``."""
    return Reply(True, text, code)


def err(text: str, code: ResponseCode | None = None) -> Reply:
    """A ``-ERR`` with an optional RFC 2449/3206 response code."""
    return Reply(False, text, code)


def listing(text: str, lines: Iterable[str]) -> Reply:
    """A multi-line ``+OK`` whose body is the given text lines (CAPA, LIST, UIDL, AUTH)."""
    items = list(lines)
    for line in items:
        _check_text(line)
    body = "".join(f"{line}\r\n" for line in items).encode("utf-8")
    return Reply(True, text, None, body)


def content(text: str, data: bytes) -> Reply:
    """A multi-line ``+OK`` carrying message bytes (RETR, TOP)."""
    return Reply(True, text, None, data)
