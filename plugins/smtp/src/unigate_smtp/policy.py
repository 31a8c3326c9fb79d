"""Per-server SMTP state and the small policy helpers the session uses.

`SmtpState` lives in ``server.state["smtp"]``: connection counts and the message-rate
windows per client address. `received_header` writes the trace field (RFC 5321 §4.4,
RFC 3848 protocol names); `verdict_reply` maps a hook's Verdict onto a Reply.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from unigate_hookspecs import Decision, Verdict
from unigate_smtp.protocol import Reply
from unigate_smtp.settings import SmtpSettings


@dataclass
class SmtpState:
    """What the smtp plugin keeps for one server."""

    settings: SmtpSettings
    hostname: str
    connections: Counter[str] = field(default_factory=Counter)
    messages: dict[str, deque[float]] = field(default_factory=dict)
    #: the SMTP delivery module (its idle connections are closed at shutdown)
    delivery: Any = None

    def rate_exceeded(self, ip: str, now: float | None = None) -> bool:
        """True when ``ip`` already sent the per-minute message limit."""
        limit = self.settings.max_messages_per_minute
        if not limit:
            return False
        now = time.monotonic() if now is None else now
        window = self.messages.get(ip)
        if window is None:
            return False
        while window and window[0] <= now - 60.0:
            window.popleft()
        if not window:
            del self.messages[ip]
            return False
        return len(window) >= limit

    def count_message(self, ip: str, now: float | None = None) -> None:
        if self.settings.max_messages_per_minute:
            self.messages.setdefault(ip, deque()).append(time.monotonic() if now is None else now)


def protocol_name(*, lmtp: bool, extended: bool, tls: bool, auth: bool) -> str:
    """The ``with`` keyword of RFC 3848: ESMTP, ESMTPS, ESMTPSA, LMTPA..."""
    if not extended:
        return "SMTP"
    return ("LMTP" if lmtp else "ESMTP") + ("S" if tls else "") + ("A" if auth else "")


def received_header(
    *,
    helo: str | None,
    ip: str,
    by: str,
    protocol: str,
    session_id: int,
    recipient: str | None,
    now: float | None = None,
) -> bytes:
    """A ``Received:`` field, folded, with CRLF."""
    literal = f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"
    text = (
        f"Received: from {helo or literal} ({literal})\r\n\tby {by} with {protocol} id {session_id}"
    )
    if recipient is not None:
        text += f"\r\n\tfor <{recipient}>"
    return f"{text}; {_date(now)}\r\n".encode()


def _date(now: float | None) -> str:
    """RFC 5322 date of ``now`` (default: the current time)."""
    return _date_of_second(int(time.time() if now is None else now))


@functools.lru_cache(maxsize=4)
def _date_of_second(second: int) -> str:
    """Formatted once per second (``formatdate`` showed in the per-message profile)."""
    return formatdate(second, localtime=False)


def verdict_reply(verdict: Verdict, *, status: str = "5.7.1") -> Reply | None:
    """The reply for a refusing verdict, None for CONTINUE/ACCEPT."""
    text = verdict.text or "rejected by policy"
    if verdict.decision is Decision.REJECT:
        code = verdict.code if verdict.code and 500 <= verdict.code < 600 else 550
        return Reply(code, _status(verdict.status, "5", status), text)
    if verdict.decision is Decision.DEFER:
        code = verdict.code if verdict.code and 400 <= verdict.code < 500 else 451
        return Reply(code, _status(verdict.status, "4", "4" + status[1:]), text)
    if verdict.decision is Decision.DISCONNECT:
        return Reply(421, "4.7.0", text)
    return None


def _status(given: str | None, klass: str, default: str) -> str:
    return given if given and given[:1] == klass else default
