"""The ``[smtp]`` settings section: limits, timeouts, relaying and the outgoing host table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SmtpSettings(BaseModel):
    """Validated ``[smtp]`` settings (every field has a default)."""

    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(
        "", description="our name in banners and Received: (main domain if empty)"
    )
    max_message_size: int = Field(10 * 1024 * 1024, ge=1024, description="octets (SIZE)")
    max_recipients: int = Field(100, ge=1, description="RCPTs per transaction")
    max_bad_commands: int = Field(10, ge=1, description="protocol errors before 421")
    command_timeout: float = Field(
        300.0, gt=0, description="waiting for a command (RFC 5321 4.5.3.2.7)"
    )
    data_timeout: float = Field(180.0, gt=0, description="waiting for a data block (4.5.3.2.6)")
    max_connections_per_address: int = Field(0, ge=0, description="0: unlimited")
    max_messages_per_minute: int = Field(0, ge=0, description="per client address; 0: unlimited")
    require_auth_on_submission: bool = True
    relay_for_trusted: bool = Field(True, description="client addresses may relay")
    # sending
    helo_name: str = Field("", description="EHLO name when sending (hostname if empty)")
    hosts: dict[str, str] = Field(
        {}, description='static host table: {"remote.test" = "127.0.0.2:2525"}, no DNS asked'
    )
    default_port: int = Field(25, ge=1, le=65535, description="port of remote SMTP servers")
    connect_timeout: float = Field(30.0, gt=0)
    send_timeout: float = Field(300.0, gt=0, description="per reply when sending")
    starttls: bool = Field(True, description="opportunistic STARTTLS when sending")
    concurrency: int = Field(4, ge=1, description="deliveries at once per remote domain")
    reuse_idle: float = Field(
        10.0, ge=0, description="keep a connection this long for reuse; 0: never"
    )
    dns_timeout: float = Field(10.0, gt=0)
