"""The SMTP transaction hooks the smtp plugin publishes (through ``unigate_addhooks``).

Each is a judging hook: it returns a :class:`unigate_hookspecs.Verdict` (or None for
no opinion); the session calls it with ``server.judge(...)`` and maps a REJECT to a 5xx,
a DEFER to a 4xx and a DISCONNECT to 421, using the verdict's code and status when set.
"""

from __future__ import annotations

from typing import Any

from unigate_hookspecs import hookspec


@hookspec
def smtp_helo(server: Any, session: Any, helo: str) -> Any:
    """Judge a HELO/EHLO/LHLO name ``helo`` (``session`` is the SmtpSession: peer, mode...)."""


@hookspec
def smtp_mail(server: Any, session: Any, sender: str) -> Any:
    """Judge the MAIL FROM reverse-path (``""`` is the null sender)."""


@hookspec
def smtp_rcpt(server: Any, session: Any, recipient: str, route: Any) -> Any:
    """Judge one RCPT TO after the Router accepted it (``route`` is the Route)."""


@hookspec
def smtp_data(server: Any, session: Any, envelope: Any, message: bytes) -> Any:
    """Judge a complete message before it is queued (a REJECT is never acknowledged)."""
