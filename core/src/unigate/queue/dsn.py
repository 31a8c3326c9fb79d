"""Delivery Status Notifications (RFC 3464 ``multipart/report``), composed from results.

Pure functions: the Dequeuer part of the Queue decides *when* a report is due and
*which* recipients it covers (RFC 3461 NOTIFY, the Reporting Delay, never a report
about a report); this module only writes the message: a human-readable part, the
``message/delivery-status`` part, and the returned message (whole, or its headers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from unigate_hookspecs.delivery import Envelope, Recipient

Action = Literal["failed", "delayed", "delivered", "relayed", "expanded"]

_DEFAULT_STATUS: dict[str, str] = {
    "failed": "5.0.0",
    "delayed": "4.0.0",
    "delivered": "2.0.0",
    "relayed": "2.0.0",
    "expanded": "2.0.0",
}
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One recipient's line in a report."""

    index: int
    recipient: Recipient
    action: Action
    status: str = ""
    text: str = ""
    remote_mta: str | None = None
    diagnostic: str | None = None
    last_attempt: float | None = None
    will_retry_until: float | None = None


def rfc5322_date(timestamp: float) -> str:
    """A Date: value for ``timestamp`` (UTC)."""
    from email.utils import format_datetime

    return format_datetime(datetime.fromtimestamp(timestamp, UTC))


def split_headers(message: bytes) -> bytes:
    """The header block of a message, with its final line end (no blank line)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        position = message.find(separator)
        if position >= 0:
            return message[: position + len(separator) // 2]
    return message


def _one_line(text: str) -> str:
    return " ".join(text.replace("\r", "\n").split())


def status_of(item: ReportItem) -> str:
    """The item's RFC 3463 status, defaulted by its action when absent or malformed."""
    if _STATUS.match(item.status):
        return item.status
    return _DEFAULT_STATUS[item.action]


def subject_for(items: Sequence[ReportItem]) -> str:
    """The report's Subject: by the gravest action in it."""
    actions = {item.action for item in items}
    if "failed" in actions:
        return "Undeliverable mail"
    if "delayed" in actions:
        return "Delivery delayed"
    return "Delivery report"


def compose_dsn(
    *,
    envelope: Envelope,
    queue_id: str,
    items: Sequence[ReportItem],
    original: bytes,
    return_full: bool,
    reporting_mta: str,
    now: float,
    message_id: str,
    boundary: str,
    to: str,
    utf8: bool = False,
) -> bytes:
    """The bytes of one DSN about ``items`` (recipients of one message).

    With ``utf8`` (the message was sent with SMTPUTF8) the parts are RFC 6533's
    ``message/global-delivery-status`` and ``message/global`` (or
    ``message/global-headers``), which may carry UTF-8 addresses and headers.
    """
    subject = subject_for(items)
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{to}>",
        f"Subject: {subject}",
        f"Date: {rfc5322_date(now)}",
        f"Message-ID: <{message_id}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "",
        "This is a MIME-encapsulated delivery status notification.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        *_human_part(envelope, queue_id, items, reporting_mta),
        "",
        f"--{boundary}",
        f"Content-Type: message/{'global-' if utf8 else ''}delivery-status",
        "",
        *_status_part(envelope, items, reporting_mta),
        "",
        f"--{boundary}",
    ]
    text = "\r\n".join(lines).encode("utf-8") + b"\r\n"
    if return_full:
        returned = original
        part_head = (
            b"Content-Type: message/global\r\n" if utf8 else b"Content-Type: message/rfc822\r\n"
        )
        if not returned.endswith(b"\n"):
            returned += b"\r\n"
    else:
        returned = split_headers(original)
        part_head = (
            b"Content-Type: message/global-headers\r\n"
            if utf8
            else b"Content-Type: text/rfc822-headers\r\n"
        )
    content_disposition = b"Content-Description: Undelivered message\r\n\r\n"
    tail = f"--{boundary}--\r\n".encode()
    return text + part_head + content_disposition + returned + tail


def _human_part(
    envelope: Envelope, queue_id: str, items: Sequence[ReportItem], reporting_mta: str
) -> list[str]:
    arrived = rfc5322_date(envelope.received_at)
    lines = [
        f"This is the mail system at {reporting_mta}.",
        "",
        f"Your message (queue id {queue_id}, received {arrived}) has the following status:",
    ]
    headings = {
        "failed": "It could not be delivered to these recipients (no further attempts):",
        "delayed": "Delivery to these recipients is delayed; the server keeps trying:",
        "delivered": "It was delivered to these recipients:",
        "relayed": "It was relayed to these recipients' servers (no further reports):",
        "expanded": "It was expanded for these recipients:",
    }
    for action, heading in headings.items():
        chosen = [item for item in items if item.action == action]
        if not chosen:
            continue
        lines += ["", heading]
        for item in chosen:
            reason = _one_line(item.text or status_of(item))
            lines.append(f"  <{item.recipient.address}>: {reason}")
            if item.diagnostic:
                where = _one_line(item.remote_mta) if item.remote_mta else "the remote server"
                lines.append(f"    {where} said: {_one_line(item.diagnostic)}")
            if action == "delayed" and item.will_retry_until is not None:
                lines.append(f"    (will retry until {rfc5322_date(item.will_retry_until)})")
    return lines


def _address_type(value: str) -> str:
    return "utf-8" if any(ord(char) > 127 for char in value) else "rfc822"


def _status_part(envelope: Envelope, items: Sequence[ReportItem], reporting_mta: str) -> list[str]:
    lines = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envelope.envid:
        lines.append(f"Original-Envelope-Id: {_one_line(envelope.envid)}")
    lines.append(f"Arrival-Date: {rfc5322_date(envelope.received_at)}")
    for item in items:
        lines.append("")
        if item.recipient.orcpt:
            lines.append(f"Original-Recipient: {_one_line(item.recipient.orcpt)}")
        final = item.recipient.address
        lines.append(f"Final-Recipient: {_address_type(final)}; {final}")
        lines.append(f"Action: {item.action}")
        lines.append(f"Status: {status_of(item)}")
        if item.remote_mta:
            lines.append(f"Remote-MTA: dns; {_one_line(item.remote_mta)}")
        if item.diagnostic:
            lines.append(f"Diagnostic-Code: smtp; {_one_line(item.diagnostic)}")
        elif item.text:
            lines.append(f"X-Unigate-Diagnostic: {_one_line(item.text)}")
        if item.last_attempt is not None:
            lines.append(f"Last-Attempt-Date: {rfc5322_date(item.last_attempt)}")
        if item.will_retry_until is not None:
            lines.append(f"Will-Retry-Until: {rfc5322_date(item.will_retry_until)}")
    return lines
