"""Hook implementations of the local plugin: the LOCAL and GROUP delivery modules."""

from __future__ import annotations

from typing import Any

from unigate_hookspecs import hookimpl
from unigate_hookspecs.delivery import DeliveryModule
from unigate_local.delivery import GroupDelivery, LocalDelivery


@hookimpl
def unigate_delivery_modules(server: Any) -> list[DeliveryModule]:
    return [LocalDelivery(server), GroupDelivery(server)]
