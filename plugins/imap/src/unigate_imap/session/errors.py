"""Map the mailbox manager's typed errors to IMAP ``NO`` responses with response codes.

Why: every command that touches mailboxes fails the same few ways; one table keeps the
codes consistent (RFC 5530: NONEXISTENT, ALREADYEXISTS, NOPERM, OVERQUOTA, CANNOT ...).
"""

from __future__ import annotations

from unigate.api import mailboxes as mb

from ..protocol import no

__all__ = ["CommandError", "error_response"]


class CommandError(Exception):
    """A handler's refusal: ``status`` NO or BAD with an optional response code."""

    def __init__(self, text: str, code: str | None = None, *, status: str = "NO") -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status


_TABLE: tuple[tuple[type[BaseException], str, str], ...] = (
    (mb.NoSuchAccount, "NONEXISTENT", "No such mailbox"),
    (mb.NoSuchMailbox, "NONEXISTENT", "No such mailbox"),
    (mb.MailboxExists, "ALREADYEXISTS", "Mailbox already exists"),
    (mb.PermissionDenied, "NOPERM", "Permission denied"),
    (mb.QuotaExceeded, "OVERQUOTA", "Quota exceeded"),
    (mb.NotSelectable, "CANNOT", "Mailbox cannot be selected"),
    (mb.InvalidMailboxName, "CANNOT", "Invalid mailbox name"),
    (mb.MailboxLocked, "CANNOT", "Mailbox is locked"),
    (mb.CannotDeleteInbox, "CANNOT", "INBOX cannot be deleted"),
    (mb.InvalidFlag, "CANNOT", "Invalid flag"),
)


def error_response(tag: str, exc: BaseException, *, trycreate: bool = False) -> bytes | None:
    """The tagged NO for a manager error, or None when ``exc`` is not one of them.

    ``trycreate``: a missing destination (APPEND, COPY, MOVE) answers ``[TRYCREATE]``.
    """
    for cls, code, text in _TABLE:
        if isinstance(exc, cls):
            if trycreate and code == "NONEXISTENT":
                code = "TRYCREATE"
            detail = str(exc)
            if isinstance(exc, mb.PermissionDenied):
                detail = f"{text}: {detail}"
            elif isinstance(exc, mb.NoSuchMailbox | mb.NoSuchAccount):
                detail = text
            return no(tag, _clean(detail) or text, code)
    if isinstance(exc, mb.MailboxError):
        return no(tag, _clean(str(exc)) or "Operation failed", "CANNOT")
    return None


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")[:200]
