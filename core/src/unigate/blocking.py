"""Blocking file work off the event loop, at less cost per call than ``anyio.to_thread``.

The mail hot path hands a few file operations per message to worker threads (mailbox
appends, spool writes, status appends). ``anyio.to_thread.run_sync`` costs a cancel
scope, a capacity limiter and a ``queue.Queue`` hand-off per call; even the event
loop's ``run_in_executor`` builds a ``concurrent.futures.Future`` with its condition
variable and chains it to an asyncio future. Both were a measurable share of the
server's CPU per message.

Here a call is one tuple put on a C-level ``SimpleQueue``; a worker thread runs it and
hands the result straight to the caller's asyncio future with
``call_soon_threadsafe``. Threads start on demand (when every worker is busy) up to
`MAX_WORKERS` and then live for the life of the process.

Cancellation: the caller's await is cancellable like any other; the work itself runs
to the end regardless. The group commits in the hot path await it in a task of their
own (a mailbox's commit task) or inside a shielded scope (the Queue's), so a commit
that started is always seen through.
Used by the asyncio backend only (the server always runs on asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: enough for the fsyncs of concurrent group commits, queue and mailboxes together
MAX_WORKERS = 16

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]

_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_lock = threading.Lock()
_workers = 0
_idle = 0


def _deliver(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _work() -> None:
    global _idle
    while True:
        with _lock:
            _idle += 1
        loop, future, fn, args = _jobs.get()
        with _lock:
            _idle -= 1
        try:
            result = fn(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            ok, value = False, error
        else:
            ok, value = True, result
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_deliver, future, ok, value)
        del loop, future, fn, args, value


def _ensure_worker() -> None:
    global _workers
    with _lock:
        if _idle >= _jobs.qsize() or _workers >= MAX_WORKERS:
            return
        _workers += 1
        number = _workers
    threading.Thread(target=_work, name=f"unigate-io_{number}", daemon=True).start()


async def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` on the I/O worker threads and return its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _jobs.put((loop, future, fn, args))
    _ensure_worker()
    return await future
