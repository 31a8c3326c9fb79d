"""Hook implementations of the imap plugin: the ``imap``/``imaps`` listeners and ``[imap]``.

``imap`` (standard port 143) speaks clear text with STARTTLS; ``imaps`` (993) starts
with TLS. Sessions are :class:`unigate_imap.session.ImapSession`.
"""

from __future__ import annotations

from typing import Any

from unigate_hookspecs import ListenerSpec, TLSMode, hookimpl

from .session import handle_connection
from .session import handlers as _handlers  # noqa: F401 - registers the command handlers
from .settings import ImapSettings

__all__ = ["unigate_listeners", "unigate_settings_model"]


@hookimpl
def unigate_settings_model() -> tuple[str, type[ImapSettings]]:
    return ("imap", ImapSettings)


async def _handle(connection: Any) -> None:
    await handle_connection(connection)


@hookimpl
def unigate_listeners() -> list[ListenerSpec]:
    return [
        ListenerSpec(
            "imap", 143, _handle, tls=TLSMode.STARTTLS, description="IMAP4rev2 (STARTTLS)"
        ),
        ListenerSpec("imaps", 993, _handle, tls=TLSMode.IMPLICIT, description="IMAP4rev2 over TLS"),
    ]
