"""Per-account admission of POP sessions: the manual's session limit and POP Login Limit.

Why: the manual's Access Settings (lines 9820-9834) limit how many POP sessions may
use one account at once (default 3) and how often a POP client may log in ("3 in 10
min": the user should check mail less often). A refused login gets ``-ERR [IN-USE]``
or ``-ERR [LOGIN-DELAY]`` (RFC 2449). One gate per server, kept in
``server.state["pop"]``; time is an argument so the rules are tested without a clock.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

__all__ = ["AccountGate", "Refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a login is refused: ``in_use`` (too many sessions) or else too frequent."""

    in_use: bool
    text: str


@dataclass
class AccountGate:
    """Counts open sessions and recent logins per account.

    ``sessions_per_account`` 0 means no limit; ``logins`` 0 disables the frequency limit
    (``logins`` logins per ``window`` seconds).
    """

    sessions_per_account: int = 3
    logins: int = 0
    window: float = 600.0
    _open: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _recent: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, account: str, now: float) -> Refusal | None:
        """Admit a session of ``account`` (count it) or say why not."""
        if self.sessions_per_account and self._open[account] >= self.sessions_per_account:
            return Refusal(
                True, f"{self._open[account]} POP sessions are already open for this account"
            )
        if self.logins:
            recent = self._recent.setdefault(account, deque())
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.logins:
                return Refusal(False, "too many POP logins; check mail less often")
            recent.append(now)
        self._open[account] += 1
        return None

    def release(self, account: str) -> None:
        """A session admitted for ``account`` ended."""
        if self._open.get(account, 0) > 1:
            self._open[account] -= 1
        else:
            self._open.pop(account, None)

    def open_sessions(self, account: str) -> int:
        return self._open.get(account, 0)
