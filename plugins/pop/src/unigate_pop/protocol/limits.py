"""The bounds the POP3 core enforces, passed to its constructor (h11's `max_incomplete_event_size`).

RFC 2449 section 4: a command line is at most 255 octets including the CRLF. SASL
responses (RFC 5034) are not bounded by that rule, so they get their own, larger bound.
After ``max_errors`` commands the core rejected itself, the peer is talking garbage and
the connection is closed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits of :class:`~unigate_pop.protocol.server.ServerConnection`."""

    max_command_line: int = 255
    max_auth_line: int = 16384
    max_errors: int = 20

    def __post_init__(self) -> None:
        if self.max_command_line < 16 or self.max_auth_line < self.max_command_line:
            raise ValueError("max_command_line must be >= 16 and <= max_auth_line")
        if self.max_errors < 1:
            raise ValueError("max_errors must be positive")
