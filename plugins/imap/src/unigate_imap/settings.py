"""The ``[imap]`` settings section: limits and timers of the IMAP listeners.

Why a model: the kernel validates the section at start-up (unknown keys are errors)
and every field has a default, so an empty section is a working server.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ImapSettings"]


class ImapSettings(BaseModel):
    """Limits and timers of IMAP sessions (RFC 9051 §5.4 autologout, RFC 2177 IDLE)."""

    model_config = ConfigDict(extra="forbid")

    max_line_length: int = Field(64 * 1024, ge=1024, description="longest command line, bytes")
    max_literal_size: int = Field(
        64 * 1024 * 1024, ge=1024, description="largest literal (APPENDLIMIT), bytes"
    )
    max_command_size: int = Field(
        80 * 1024 * 1024, ge=1024, description="all lines and literals of one command, bytes"
    )
    autologout: float = Field(
        1800.0, gt=0, description="idle seconds before an authenticated session is closed"
    )
    autologout_unauthenticated: float = Field(
        60.0, gt=0, description="idle seconds before a session that has not logged in is closed"
    )
    idle_timeout: float = Field(
        1800.0, gt=0, description="longest IDLE without client traffic, seconds"
    )
    max_bad_commands: int = Field(
        50, ge=1, description="consecutive BAD commands before the session is dropped"
    )
    output_chunk: int = Field(64 * 1024, ge=1024, description="flush responses every N bytes")
    memory_cache_mb: int = Field(
        256, ge=0, description="parsed headers/ENVELOPE/BODYSTRUCTURE kept in memory, MB"
    )
    server_name: str = Field("Unigate", description="the ID response name")
    notify_queue: int = Field(
        1000,
        ge=1,
        description="NOTIFY events waiting for one session before NOTIFICATIONOVERFLOW",
    )
