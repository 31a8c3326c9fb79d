"""Micro-benchmark of the Queue's group commit (marked slow; run with ``-m slow -s``).

20 concurrent submitters of 10 KB messages for one second, once with one message per
spool file (one fsync of the file and one of the directory per message) and once with
the default group commit. It prints msgs/s and messages per fsync; it asserts only what
is not timing-dependent: group commit needs fewer fsyncs per message.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from unigate.queue import Queue, QueueSettings
from unigate_hookspecs.delivery import Destination, Envelope, Recipient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SUBMITTERS = 20
SECONDS = 1.0
BODY = b"Subject: bench\r\n\r\n" + b"x" * (10 * 1024)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def measure(directory: Path, settings: QueueSettings) -> tuple[float, float]:
    fsyncs = 0

    def counting(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        os.fsync(fd)

    queue = Queue(directory, settings=settings, fsync=counting)
    route = Destination("SMTP", "there.example", "b@there.example")
    envelope = Envelope("a@here.example", (Recipient("b@there.example", route=route),))
    done = 0
    deadline = time.perf_counter() + SECONDS

    async def submitter() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await queue.submit(envelope, BODY)
            done += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(SUBMITTERS):
            tg.start_soon(submitter)
    return done / (time.perf_counter() - start), done / max(fsyncs, 1)


async def test_group_commit_throughput(tmp_path: Path) -> None:
    single_rate, single_ratio = await measure(
        tmp_path / "one", QueueSettings(commit_max_messages=1, commit_parallel=1)
    )
    group_rate, group_ratio = await measure(tmp_path / "group", QueueSettings())
    print(
        f"\none message per commit: {single_rate:.0f} msgs/s ({single_ratio:.1f} msgs/fsync)"
        f"\ngroup commit (default): {group_rate:.0f} msgs/s ({group_ratio:.1f} msgs/fsync)"
    )
    assert single_ratio <= 0.5
    assert group_ratio > 2
