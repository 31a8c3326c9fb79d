"""Wiring of the Queue into a server: delivery modules, the router adapter, the lifecycle.

``create_queue(server)`` returns the server's :class:`QueueService` -- ``async start()``,
``async stop()``, ``async submit(envelope, data) -> str`` and the admin calls of
:class:`unigate.queue.Queue` -- or None when no plugin contributes a delivery module.
The server registers it as ``server.service("queue")``, starts it before listeners bind
and stops it after sessions drain.

The Router answers with :class:`Route`/:class:`RouteFailure`; the Queue records a
:class:`Destination`. :meth:`QueueService.destination` converts one into the other so a
protocol that already routed a recipient (SMTP at RCPT time) hands the decision over
instead of having the Queue route the address a second time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from unigate.queue import ERROR_MODULE, NULL_MODULE, Queue, QueueSettings
from unigate_hookspecs.delivery import DeliveryModule, Destination, Envelope
from unigate_hookspecs.routing import Route, RouteFailure, RouteOp

if TYPE_CHECKING:
    from unigate.server import Server


def queue_settings(server: Any) -> QueueSettings:
    """The kernel's ``[queue]`` section (retry schedule, expiry, reports, limits)."""
    section: QueueSettings = server.settings.queue
    return section


def collect_modules(server: Any) -> dict[str, DeliveryModule]:
    """Every plugin's ``unigate_delivery_modules`` merged by name (a duplicate is an error)."""
    modules: dict[str, DeliveryModule] = {}
    owners: dict[str, str] = {}
    hook = server.pm.hook.unigate_delivery_modules
    for impl in reversed(hook.get_hookimpls()):
        for module in impl.function(server=server) or []:
            if module.name in modules:
                raise ValueError(
                    f"delivery module {module.name!r} offered by both "
                    f"{owners[module.name]!r} and {impl.plugin_name!r}"
                )
            modules[module.name] = module
            owners[module.name] = impl.plugin_name
    return modules


def destination(
    answer: Route | RouteFailure, address: str, modules: dict[str, DeliveryModule]
) -> Destination:
    """The Queue's record of a routing decision.

    A failure becomes an ``ERROR`` destination, ``SYSTEM(NULL)`` the ``NULL`` one. A
    ``LOCAL`` route keeps its routed address (``box#name`` for direct mailbox addressing)
    and has the account as its queue key.
    """
    if isinstance(answer, RouteFailure):
        return Destination(ERROR_MODULE, "", answer.address or address, answer.text or "rejected")
    if answer.module == "SYSTEM":
        if answer.queue == "NULL":
            return Destination(NULL_MODULE, "", answer.address)
        return Destination(ERROR_MODULE, "", answer.address, f"cannot deliver to {answer.queue}")
    handler = modules.get(answer.module)
    if handler is None:
        return Destination(ERROR_MODULE, "", answer.address, f"no delivery module {answer.module}")
    return Destination(answer.module, handler.queue_key(answer), answer.address)


class QueueService:
    """The server's Queue: started in the server's task group, fed by every protocol."""

    def __init__(
        self, server: Any, modules: dict[str, DeliveryModule], settings: QueueSettings
    ) -> None:
        self.server = server
        self.modules = modules
        data_dir = Path(server.data_dir)
        self.queue = Queue(
            data_dir / "Queue",
            router=self.route,
            modules=modules,
            settings=settings,
            bad_files=data_dir / "BadFiles",
        )

    async def route(self, address: str) -> Destination:
        """The Queue's router: the server's Router, its answer converted."""
        answer = await self.server.routing.route(address, RouteOp.MAIL)
        return destination(answer, address, self.modules)

    def destination(self, answer: Route | RouteFailure, address: str = "") -> Destination:
        """Convert a routing decision already made (see the module docstring)."""
        return destination(answer, address, self.modules)

    async def start(self) -> None:
        await self.server.start_service(self.queue.run, name="queue")

    async def stop(self, deadline: float | None = None) -> None:
        with anyio.CancelScope(shield=True):
            await self.queue.stop(deadline)

    async def submit(self, envelope: Envelope, data: bytes) -> str:
        """Spool a message; returns its queue id once data and envelope are fsynced."""
        return await self.queue.submit(envelope, data)

    def __getattr__(self, name: str) -> Any:  # list, show, read, retry, delete, settle, count
        return getattr(self.queue, name)


def create_queue(server: Server) -> QueueService | None:
    """The queue service of ``server``, or None (no delivery modules installed)."""
    modules = collect_modules(server)
    if not modules:
        return None
    return QueueService(server, modules, queue_settings(server))
