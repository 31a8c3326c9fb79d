"""Hook implementations of the pop plugin: the ``[pop]`` settings and the ``pop3``/``pop3s`` listeners.

``pop3`` is the clear-text port 110 with STLS; ``pop3s`` is port 995 with implicit TLS
(the manual, lines 18246-18261). The session logic lives in :mod:`unigate_pop.session`,
the protocol core in :mod:`unigate_pop.protocol`.
"""

from __future__ import annotations

from unigate_hookspecs import ListenerSpec, TLSMode, hookimpl

from .session import gate, handle
from .settings import PopSettings


@hookimpl
def unigate_settings_model():
    return ("pop", PopSettings)


@hookimpl
def unigate_startup(server):
    server.state.pop("pop", None)
    gate(server)  # per-server session counts and login times


@hookimpl
def unigate_listeners():
    return [
        ListenerSpec(
            name="pop3",
            default_port=110,
            handler=handle,
            tls=TLSMode.STARTTLS,
            description="POP3 mailbox access (STLS)",
        ),
        ListenerSpec(
            name="pop3s",
            default_port=995,
            handler=handle,
            tls=TLSMode.IMPLICIT,
            description="POP3 mailbox access over implicit TLS",
        ),
    ]
