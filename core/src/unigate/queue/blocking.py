"""Blocking file work off the event loop, at less cost per call than ``anyio.to_thread``.

The mail hot path hands a few file operations per message to worker threads (spool
writes, status appends, mailbox appends). ``anyio.to_thread.run_sync`` costs a cancel
scope, a capacity limiter and a ``queue.Queue`` hand-off (a Python-level condition
variable) per call -- a measurable share of the server's CPU per message. Here the work
goes to a ``concurrent.futures`` pool through the event loop's ``run_in_executor``
(a C-level ``SimpleQueue``), and the result comes back through the loop's self-pipe.

Cancellation: the caller's await is cancellable like any other; the work itself runs
to the end regardless. Every caller in the hot path runs inside a shielded scope (the
group commits), so a commit that started is always seen through.
Used by the asyncio backend only (the server always runs on asyncio).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: enough for the fsyncs of concurrent group commits, queue and mailboxes together
MAX_WORKERS = 16

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="unigate-io")
    return _executor


async def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` on the I/O worker pool and return its result."""
    return await asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)
