"""Exceptions of the SMTP protocol cores, split by who erred (h11 style).

`LocalProtocolError` means *we* misused the core (sent a reply nobody asked for, built a
command out of sequence). `RemoteProtocolError` means the *peer* broke the protocol; on the
server side it carries the wire `Reply` to answer with and whether the connection must close.
The server core never lets `RemoteProtocolError` escape `next_event()`: it turns it into a
`ProtocolError` event, so the session loop only has to `send(event.reply)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .replies import Reply


class SMTPProtocolError(Exception):
    """Base class of every error raised by the SMTP protocol cores."""


class LocalProtocolError(SMTPProtocolError):
    """The application used the core wrongly; a bug in the caller."""


class RemoteProtocolError(SMTPProtocolError):
    """The peer violated the protocol.

    :param message: human-readable description.
    :param reply: on the server side, the reply to send to the client.
    :param fatal: the connection must be closed after the reply.
    """

    def __init__(self, message: str, *, reply: Reply | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.reply = reply
        self.fatal = fatal
