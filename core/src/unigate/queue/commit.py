"""Group commit: many callers, one flush.

A caller hands an item to :meth:`GroupCommit.submit` and waits. If no flush is
running, it becomes the leader: it takes every pending item (up to the batch bound)
and flushes them together -- one fsync for all of them -- while later callers queue
behind it; the next leader takes everything that arrived during the previous flush.
Under load a batch therefore grows to whatever arrived during one fsync, and with a
single caller nothing waits for a timer.

The flush runs shielded from cancellation: once items are taken, every waiting caller
gets its answer even if the leader's own task is cancelled. A caller cancelled before
its item is taken withdraws the item.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False, slots=True)
class _Ticket(Generic[T]):
    item: T
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Batch concurrent submissions into one call of ``flush``.

    ``flush(items)`` returns one result per item, in order. ``weight(item)`` and
    ``max_weight``/``max_items`` bound one batch (the first item is always taken).
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_items: int = 64,
        max_weight: int = 1 << 62,
        weight: Callable[[T], int] = lambda item: 1,
        parallel: int = 1,
    ):
        self._flush = flush
        self._parallel = max(1, parallel)
        self._max_items = max_items
        self._max_weight = max_weight
        self._weight = weight
        self._pending: list[_Ticket[T]] = []
        self._flushing = 0
        self._changed = anyio.Event()
        self.flushes = 0

    @property
    def pending(self) -> int:
        """Items waiting for a flush."""
        return len(self._pending)

    async def submit(self, item: T) -> R:
        """Add ``item`` and return its result once the flush holding it is done."""
        ticket = _Ticket(item)
        self._pending.append(ticket)
        try:
            while not ticket.done:
                if self._flushing >= self._parallel or ticket not in self._pending:
                    await self._changed.wait()
                    continue
                await self._lead()
        except BaseException:
            if ticket in self._pending:
                self._pending.remove(ticket)
            raise
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[no-any-return]

    def _take(self) -> list[_Ticket[T]]:
        batch: list[_Ticket[T]] = []
        weight = 0
        while self._pending and len(batch) < self._max_items:
            next_weight = self._weight(self._pending[0].item)
            if batch and weight + next_weight > self._max_weight:
                break
            batch.append(self._pending.pop(0))
            weight += next_weight
        return batch

    async def _lead(self) -> None:
        self._flushing += 1
        batch: list[_Ticket[T]] = []
        try:
            # let the callers just answered by the previous flush queue up again first
            await anyio.lowlevel.checkpoint()
            batch = self._take()
            if not batch:
                return
            with anyio.CancelScope(shield=True):
                try:
                    results = await self._flush([ticket.item for ticket in batch])
                    self.flushes += 1
                except Exception as error:  # every waiter of the batch gets it
                    for ticket in batch:
                        ticket.error = error
                        ticket.done = True
                else:
                    for ticket, result in zip(batch, results, strict=True):
                        ticket.result = result
                        ticket.done = True
        finally:
            self._flushing -= 1
            changed, self._changed = self._changed, anyio.Event()
            changed.set()
