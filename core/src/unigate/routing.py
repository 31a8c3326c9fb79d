"""The routing service: the Router built from the data directory, with the hook plugged in.

The Routing Table lives in ``<data>/Settings/RouterTable`` in the manual's text syntax
(created with the default records on first use); it is re-read when the file changes,
so ``unigate`` commands and editors take effect without a restart (the file is checked
by ``stat`` at most once a second -- a change made by another process shows within a
second; :meth:`RoutingService.set_table` takes effect at once). Addresses go through
the table, then the account database, then the ``unigate_route`` hook.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigate.objects import ObjectStore
from unigate.router import DEFAULT_TABLE, Router, RouterOptions
from unigate_hookspecs.routing import Route, RouteFailure, RouteOp

if TYPE_CHECKING:
    from unigate.server import Server


class RoutingService:
    """Routes addresses for every protocol; rebuilds the Router when the table file changes."""

    def __init__(
        self,
        objects: ObjectStore,
        *,
        server: Server | None = None,
        options: RouterOptions | None = None,
    ) -> None:
        self.objects = objects
        self.server = server
        self.options = options or RouterOptions()
        self._stamp: tuple[int, int] | None = None
        self._router: Router | None = None
        #: when the table file was last checked (monotonic); it is trusted for a second
        self._checked = -1.0

    @property
    def table_path(self) -> Path:
        return self.objects.settings_dir / "RouterTable"

    def table_text(self) -> str:
        try:
            return self.table_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return DEFAULT_TABLE

    def set_table(self, text: str) -> None:
        """Replace the Routing Table (validated first: a bad table raises and nothing changes)."""
        Router(text, self.objects, self.options)
        from unigate.fsutil import atomic_write_text

        self.table_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.table_path, text)
        self._checked = -1.0

    @property
    def router(self) -> Router:
        now = time.monotonic()
        if self._router is not None and now - self._checked < 1.0:
            return self._router
        self._checked = now
        try:
            st = os.stat(self.table_path)
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if self._router is None or stamp != self._stamp:
            self._router = Router(self.table_text(), self.objects, self.options)
            self._stamp = stamp
        return self._router

    async def route(self, address: str, op: RouteOp = RouteOp.MAIL) -> Route | RouteFailure:
        """Route one address: the table, the objects, then the ``unigate_route`` hook."""
        if self.server is None:
            return self.router.route(address, op)
        server = self.server

        async def hook(addr: str, operation: RouteOp) -> Any:
            return await server.call_first(
                "unigate_route", server=server, address=addr, operation=operation
            )

        return await self.router.aroute(address, op, extra=hook)

    def explain(self, address: str, op: RouteOp = RouteOp.MAIL) -> list[str]:
        """The steps the Router takes, for ``unigate route`` (the manual's test facility)."""
        return self.router.explain(address, op)
