"""Hook family: signals -- real-time routing, registrations and presence (SIP and XMPP meet here).

Reserved for the real-time plugins (SIP, XMPP). The kernel routes a Signal's target
address with the Router (``Signal:`` records) and then asks these hooks; the value types
will grow here as those plugins land. Specs only gain parameters, never lose them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate_hookspecs.markers import hookspec


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """An account's presence changed (``status`` is the manual's presence word)."""

    account: str
    status: str
    note: str = ""


@hookspec
def unigate_presence_changed(server: Any, change: PresenceChange) -> None:
    """Hear presence changes from any real-time protocol.

    Called when: an account's aggregated presence changes.

    Params: ``server``; ``change`` -- :class:`PresenceChange`.

    Return: None. Async or sync.
    """


@hookspec
def unigate_signal(server: Any, source: str, target: str, method: str) -> Any:
    """Judge a signal (call, message, subscription) before it is routed.

    Called when: a real-time request enters the Signal component.

    Params: ``source``/``target`` addresses; ``method`` (INVITE, MESSAGE, SUBSCRIBE, ...).

    Return: a :class:`~unigate_hookspecs.verdict.Verdict` or None. Async or sync.
    """
