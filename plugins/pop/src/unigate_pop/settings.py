"""The ``[pop]`` settings section.

RFC 1939 section 3: an inactivity autologout timer must be at least 10 minutes; that is
the default. The line limits feed :class:`unigate_pop.protocol.Limits`; the account
limits (the manual's POP session limit, default 3, and POP Login Limit) feed
:class:`unigate_pop.gate.AccountGate`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PopSettings(BaseModel):
    """The ``[pop]`` section of the settings file."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    idle_timeout: float = Field(
        600.0,
        ge=1.0,
        description="Seconds without a command before the session is closed (no UPDATE)",
    )
    apop: bool = Field(True, description="Put an APOP timestamp in the greeting and accept APOP")
    max_command_line: int = Field(
        255, ge=64, le=8192, description="Longest command line, CRLF included"
    )
    max_auth_line: int = Field(16384, ge=256, le=1048576, description="Longest SASL response line")
    max_errors: int = Field(
        20, ge=1, description="Rejected commands before the connection is closed"
    )
    sessions_per_account: int = Field(
        3, ge=0, description="Concurrent POP sessions one account may have (0 = no limit)"
    )
    login_limit: int = Field(
        0, ge=0, description="POP logins an account may make per login_window (0 = no limit)"
    )
    login_window: float = Field(600.0, gt=0, description="Seconds over which login_limit counts")
