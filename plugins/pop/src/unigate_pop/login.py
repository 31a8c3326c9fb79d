"""Login names and APOP: the parts of logging in that are POP's own.

* The manual's *Accessing Additional Mailboxes* (lines 18294-18316): a login name
  ``mailbox#account`` opens ``mailbox`` (which may be foreign: ``~boss/INBOX#jsmith``)
  with ``account``'s credentials; a plain name opens the INBOX.
* APOP (RFC 1939 section 7): the greeting carries a unique timestamp ``<...@host>``; the
  client proves the password with ``MD5(timestamp + password)``. That needs the clear
  password, so it works only for accounts whose password is stored reversibly.

The kernel's authentication service owns throttling, service checks and vetoes; APOP
goes through ``server.auth.login_apop`` (clear or reversibly stored passwords).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from typing import Any

from unigate.api import LoginOutcome

__all__ = ["INBOX", "apop_digest", "make_timestamp", "split_login", "verify_apop"]

INBOX = "INBOX"


def split_login(name: str) -> tuple[str, str]:
    """``mailbox#account`` -> (mailbox, account login); a name without ``#`` means the INBOX.

    The last ``#`` separates them: account names never contain one, mailbox names may.
    """
    mailbox, sep, login = name.rpartition("#")
    if not sep:
        return INBOX, name
    return (mailbox or INBOX), login


def make_timestamp(host: str, *, now: float | None = None) -> str:
    """A greeting timestamp unique to this session: ``<pid.random.time@host>``."""
    moment = int(time.time() if now is None else now)
    return f"<{os.getpid()}.{secrets.token_hex(6)}.{moment}@{host}>"


def apop_digest(timestamp: str, secret: str) -> str:
    """The lower-case hex MD5 of ``timestamp + secret`` (RFC 1939 section 7)."""
    return hashlib.md5((timestamp + secret).encode("utf-8"), usedforsecurity=False).hexdigest()


async def verify_apop(
    server: Any,
    login: str,
    timestamp: str,
    digest: str,
    *,
    service: str,
    peer_ip: str | None,
    local_ip: str | None,
    secure: bool,
) -> LoginOutcome:
    """Check an APOP login; returns the kernel's :class:`~unigate.api.LoginOutcome`."""
    return await server.auth.login_apop(
        login, timestamp, digest, service=service, peer_ip=peer_ip, local_ip=local_ip, secure=secure
    )
