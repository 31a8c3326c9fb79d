"""The I/O worker threads: results, errors, concurrency and cancelled callers."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from unigate import blocking
from unigate.blocking import run_blocking

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_result_error_and_thread() -> None:
    assert await run_blocking(lambda a, b: a + b, 2, 3) == 5
    name = await run_blocking(lambda: threading.current_thread().name)
    assert name.startswith("unigate-io_")

    def fail() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        await run_blocking(fail)


async def test_concurrent_blocking_calls_run_in_parallel_up_to_the_bound() -> None:
    results: list[int] = []

    async def one(i: int) -> None:
        results.append(await run_blocking(lambda: (time.sleep(0.2), i)[1]))

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(one, i)
    assert sorted(results) == list(range(8))
    assert time.monotonic() - started < 1.2  # not 8 x 0.2 s one after another
    assert blocking._workers <= blocking.MAX_WORKERS


async def test_a_cancelled_caller_does_not_stop_the_work() -> None:
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        done.set()

    with anyio.move_on_after(0.05):
        await run_blocking(slow)
    assert not done.is_set()
    await anyio.to_thread.run_sync(done.wait, 5)
    assert await run_blocking(lambda: 1) == 1  # the workers are still fine
