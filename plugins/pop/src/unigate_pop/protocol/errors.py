"""Exceptions of the POP3 protocol core, split by who erred (h11 style).

`LocalProtocolError` means *we* misused the core (a reply nobody asked for, a SASL
challenge to a command that is not AUTH, CR/LF inside a reply text). Errors of the *peer*
never escape :meth:`ServerConnection.next_event`: they come out as a
:class:`~unigate_pop.protocol.events.ProtocolError` event whose ``reply`` the session
loop sends as is.
"""

from __future__ import annotations


class POPProtocolError(Exception):
    """Base class of every error raised by the POP3 protocol core."""


class LocalProtocolError(POPProtocolError):
    """The application used the core wrongly; a bug in the caller."""
