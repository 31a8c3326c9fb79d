"""Failed-login throttling per client address and per account.

The manual's "Failed Logins Limit" (manual lines 9700-9712): after N incorrect
login attempts within S seconds the account is disabled for logins, and
re-enabled S seconds later; logins from the address of the last successful
login are not blocked.  The same rule, with its own limits, applies per client
address to slow down password guessing across many accounts.

:class:`LoginThrottle` is pure bookkeeping: every method takes ``now`` (seconds,
any monotonic origin) so tests drive it with a fake clock.  Memory is bounded:
each table keeps at most ``max_keys`` entries, dropping expired ones first and
then the least recently touched.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

__all__ = ["FailedLogin", "LoginThrottle"]

_V = TypeVar("_V")


@dataclass(slots=True)
class _Counter:
    """Recent failure times of one key, and when its block (if any) ends."""

    times: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0

    def expired(self, now: float, window: float) -> bool:
        return self.blocked_until <= now and (not self.times or self.times[-1] <= now - window)


@dataclass(frozen=True, slots=True)
class FailedLogin:
    """The manual's "Last Failed Login": when, and from which address."""

    time: float
    address: str


class _Table:
    """Failure counters for one kind of key (addresses or accounts)."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("throttle limits must be positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.counters: OrderedDict[str, _Counter] = OrderedDict()

    def blocked(self, key: str, now: float) -> float:
        counter = self.counters.get(key)
        if counter is None or counter.blocked_until <= now:
            return 0.0
        return counter.blocked_until - now

    def failure(self, key: str, now: float) -> None:
        counter = self.counters.get(key)
        if counter is None:
            self._make_room(now)
            counter = self.counters[key] = _Counter()
        else:
            self.counters.move_to_end(key)
        if counter.blocked_until > now:
            return  # already blocked: the block runs its course, not extended
        times = counter.times
        while times and times[0] <= now - self.window:
            times.popleft()
        times.append(now)
        if len(times) >= self.limit:
            counter.blocked_until = now + self.window
            times.clear()

    def clear(self, key: str) -> None:
        self.counters.pop(key, None)

    def _make_room(self, now: float) -> None:
        """Free one slot: expired entries first, then an unblocked one, then the oldest."""
        if len(self.counters) < self.max_keys:
            return
        scanned = list(islice(self.counters, max(16, self.max_keys // 8)))
        for key in scanned:
            if self.counters[key].expired(now, self.window):
                del self.counters[key]
        if len(self.counters) < self.max_keys:
            return
        for key in scanned:
            counter = self.counters.get(key)
            if counter is not None and counter.blocked_until <= now:
                del self.counters[key]
                return
        self.counters.popitem(last=False)


class LoginThrottle:
    """Count failed logins and say how long a new attempt must wait.

    ``per_address`` and ``per_account`` are ``(failures, seconds)``: that many
    failures within that many seconds block the key for that many seconds.
    Callers normalise account names (canonical ``user@domain``) themselves.
    """

    def __init__(
        self,
        *,
        per_address: tuple[int, float] = (10, 60.0),
        per_account: tuple[int, float] = (30, 20.0),
        max_keys: int = 100_000,
    ) -> None:
        self._addresses = _Table(*per_address, max_keys)
        self._accounts = _Table(*per_account, max_keys)
        self._max_keys = max_keys
        self._last_good: OrderedDict[str, str] = OrderedDict()
        self._last_failed: OrderedDict[str, FailedLogin] = OrderedDict()

    def blocked(self, address: str, account: str | None, now: float) -> float:
        """Seconds until a login from ``address`` to ``account`` may be tried; 0 if allowed.

        The account's block does not apply to the address of its last successful login.
        """
        wait = self._addresses.blocked(address, now)
        if account is not None and self._last_good.get(account) != address:
            wait = max(wait, self._accounts.blocked(account, now))
        return wait

    def failure(self, address: str, account: str | None, now: float) -> None:
        """Record a failed login (``account`` None when the name was unknown or unparsable)."""
        self._addresses.failure(address, now)
        if account is not None:
            self._accounts.failure(account, now)
            self._remember(self._last_failed, account, FailedLogin(now, address))

    def success(self, address: str, account: str, now: float) -> None:
        """Record a good login: ``address`` becomes exempt from ``account``'s block."""
        self._remember(self._last_good, account, address)

    def last_failed(self, account: str) -> FailedLogin | None:
        """The last failed login of ``account`` still remembered, for the admin pages."""
        return self._last_failed.get(account)

    def clear(self, account: str) -> None:
        """The manual's "Clear" button: forget the account's failures and its block."""
        self._accounts.clear(account)
        self._last_failed.pop(account, None)

    def tracked(self) -> int:
        """How many keys are held in all tables (for tests and monitoring)."""
        return (
            len(self._addresses.counters)
            + len(self._accounts.counters)
            + len(self._last_good)
            + len(self._last_failed)
        )

    def _remember(self, table: OrderedDict[str, _V], key: str, value: _V) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._max_keys:
            table.popitem(last=False)
