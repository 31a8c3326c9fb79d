"""The Queue's settings: retry ladder, lifetimes, warnings, reports and limits.

Durations are seconds. The defaults follow the manual (Queue page L11887-12055,
SMTP Retrying panel L13317-13348) where it gives one; where it is silent (the delay
warning time) we chose a conventional value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QueueSettings(BaseModel):
    """Validated Queue settings (the kernel's ``[queue]`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry_floor: float = Field(1800.0, gt=0, description="first retry delay (Retry Every)")
    retry_ceiling: float = Field(10800.0, gt=0, description="largest retry delay (then Every)")
    lifetime: float = Field(3 * 86400.0, gt=0, description="give up after this long (for)")
    empty_return_path_lifetime: float = Field(
        3 * 3600.0, gt=0, description="lifetime of messages with an empty Return-Path"
    )
    delay_warning: float | None = Field(
        4 * 3600.0, description="send a delay warning after this long (None: never)"
    )
    reporting_delay: float = Field(15.0, ge=0, description="DSN batching delay")
    on_failure_return: Literal[
        "body-by-default", "headers-by-default", "always-headers", "always-body"
    ] = "body-by-default"
    return_receipts: Literal["everybody", "authenticated", "nobody"] = Field(
        "everybody", description="who may get positive (SUCCESS) reports"
    )
    copy_failure_reports_to: str | None = None
    reporting_mta: str = Field("localhost", description="our name in DSNs (Reporting-MTA)")
    size_limit: int | None = Field(None, gt=0, description="messages in the queue (None: any)")
    hop_limit: int = Field(20, ge=1, description="most Received: fields accepted")
    commit_max_messages: int = Field(64, ge=1, description="messages per group commit")
    commit_max_bytes: int = Field(16 * 1024 * 1024, ge=1, description="bytes per group commit")
    commit_parallel: int = Field(1, ge=1, description="group commits writing at once")
    max_active: int = Field(200, ge=1, description="deliveries running at once, in total")
    memory_cache_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="bytes of just-submitted messages kept in memory for their delivery",
    )
    deliver_at_submit: bool = Field(
        True,
        description="hand a message to immediate modules (LOCAL) before answering its "
        "submitter: stored durably in the mailbox, it is never spooled",
    )
    drain_deadline: float = Field(30.0, ge=0, description="stop() waits this long for deliveries")
