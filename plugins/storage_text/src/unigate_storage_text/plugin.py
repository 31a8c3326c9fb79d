"""Hook implementations of the storage_text plugin: contributes the ``mbox`` driver."""

from __future__ import annotations

from unigate_hookspecs.markers import hookimpl
from unigate_hookspecs.storage import FormatDriver
from unigate_storage_text.driver import TextDriver


@hookimpl
def unigate_storage_formats() -> list[FormatDriver]:
    """The text mailbox format, extension ``mbox``."""
    return [TextDriver()]
