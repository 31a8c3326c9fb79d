"""The ``[pop]`` settings section.

RFC 1939 section 3: an inactivity autologout timer must be at least 10 minutes; that is
the default. The line limits feed :class:`unigate_pop.protocol.Limits`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PopSettings(BaseModel):
    """The ``[pop]`` section of the settings file."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    idle_timeout: float = Field(
        600.0, ge=1.0, description="Seconds without a command before the session is closed (no UPDATE)"
    )
    apop: bool = Field(True, description="Put an APOP timestamp in the greeting and accept APOP")
    max_command_line: int = Field(255, ge=64, le=8192, description="Longest command line, CRLF included")
    max_auth_line: int = Field(16384, ge=256, le=1048576, description="Longest SASL response line")
    max_errors: int = Field(20, ge=1, description="Rejected commands before the connection is closed")
