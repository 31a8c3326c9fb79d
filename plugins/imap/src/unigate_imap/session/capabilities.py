"""The CAPABILITY list a session advertises, by state and connection security.

Why one place: the greeting, CAPABILITY, and the OK after STARTTLS/LOGIN all carry it,
and what is advertised must match what the handlers implement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import ImapSession

__all__ = ["ENABLEABLE", "capabilities"]

#: extensions ENABLE can turn on (RFC 5161)
ENABLEABLE = ("IMAP4REV2", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT")

_AUTHENTICATED = (
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "ACL",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MAILBOX",
    "CONDSTORE",
    "QRESYNC",
    "ESEARCH",
    "SEARCHRES",
    "SORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "BINARY",
    "MULTIAPPEND",
    "STATUS=SIZE",
    "UTF8=ACCEPT",
    "WITHIN",
    "COMPRESS=DEFLATE",
    "REPLACE",
    "OBJECTID",
    "NOTIFY",
)


def capabilities(session: ImapSession) -> list[str]:
    """What this session offers right now."""
    from .state import State

    caps = ["IMAP4rev2", "IMAP4rev1", "ENABLE", "ID", "SASL-IR", "LITERAL+"]
    conn = session.conn
    if session.state is State.NOT_AUTHENTICATED:
        if session.starttls_available:
            caps.append("STARTTLS")
        if not session.cleartext_allowed:
            caps.append("LOGINDISABLED")
        caps += [f"AUTH={m}" for m in session.mechanisms()]
        del conn
        return caps
    caps += list(_AUTHENTICATED)
    caps.append(f"APPENDLIMIT={session.settings.max_literal_size}")
    return caps
