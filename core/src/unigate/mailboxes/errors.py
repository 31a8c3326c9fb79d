"""Typed errors of the mailbox manager.

Why: every access protocol (IMAP, POP, local delivery, XIMSS, DAV) maps these to its own
wire reply; a typed error lets each one choose the code without parsing text.
"""

from __future__ import annotations

__all__ = [
    "InvalidMailboxName",
    "MailboxError",
    "MailboxExists",
    "MailboxHasChildren",
    "MailboxLocked",
    "NoSuchAccount",
    "NoSuchMailbox",
    "NotSelectable",
    "PermissionDenied",
    "QuotaExceeded",
]


class MailboxError(Exception):
    """Base class of every mailbox manager error."""


class NoSuchAccount(MailboxError):
    """The account (or the ``~name`` of a foreign mailbox) is unknown."""


class NoSuchMailbox(MailboxError):
    """The mailbox does not exist (or the user may not know that it exists)."""


class MailboxExists(MailboxError):
    """Create or rename target already exists."""


class MailboxHasChildren(MailboxError):
    """A non-selectable name with sub-mailboxes cannot be deleted (unless recursively)."""


class NotSelectable(MailboxError):
    """The name is a directory-only entry (``\\Noselect``): it holds no messages."""


class InvalidMailboxName(MailboxError):
    """The name is malformed (empty component, forbidden character, reserved form...)."""


class MailboxLocked(MailboxError):
    """The mailbox has the Locked attribute: it cannot be deleted or renamed."""


class PermissionDenied(MailboxError):
    """The user lacks the ACL right ``right`` (one of ``lrswipcda``, or ``"c"`` of the account)."""

    def __init__(self, right: str, message: str = "") -> None:
        super().__init__(message or f"access right {right!r} required")
        self.right = right


class QuotaExceeded(MailboxError):
    """The account storage (or mailbox count) limit would be exceeded.

    ``temporary`` is True when the message could fit once messages are removed (the
    manual: delivery is delayed, SMTP answers 4xx) and False when the message alone is
    bigger than the limit, or the mailbox count limit is hit (rejected, 5xx).
    """

    def __init__(self, temporary: bool, message: str = "") -> None:
        super().__init__(message or ("over quota" if temporary else "message exceeds the quota"))
        self.temporary = temporary
