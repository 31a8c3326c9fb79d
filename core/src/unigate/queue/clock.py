"""Clocks for the Queue: the wall clock, and a fake one that tests move by hand.

The Queue asks its clock for ``now()`` and for how long to really wait before a
scheduled time (``real_delay``); a fake clock never expires by itself but calls its
subscribers when a test advances it, so retries and expiry run in milliseconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What the Queue needs from a clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def real_delay(self, seconds: float) -> float:
        """How long to sleep for ``seconds`` of this clock's time (inf: until woken)."""
        ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the time jumps (a fake clock advanced)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def real_delay(self, seconds: float) -> float:
        return max(0.0, seconds)

    def subscribe(self, callback: Callable[[], None]) -> None:
        return None


class FakeClock:
    """A clock that moves only when told to (for tests)."""

    def __init__(self, start: float = 1_700_000_000.0):
        self._now = start
        self._callbacks: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def real_delay(self, seconds: float) -> float:
        return 0.0 if seconds <= 0 else math.inf

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def advance(self, seconds: float) -> None:
        """Move the time forward and wake the subscribers."""
        self._now += seconds
        for callback in list(self._callbacks):
            callback()
