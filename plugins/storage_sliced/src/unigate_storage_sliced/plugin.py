"""Hook implementations of the storage_sliced plugin: contributes the ``mslc`` driver."""

from __future__ import annotations

from unigate_hookspecs.markers import hookimpl
from unigate_hookspecs.storage import FormatDriver
from unigate_storage_sliced.driver import SlicedDriver


@hookimpl
def unigate_storage_formats() -> list[FormatDriver]:
    """The sliced mailbox format, extension ``mslc``."""
    return [SlicedDriver()]
