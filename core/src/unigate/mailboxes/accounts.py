"""What the mailbox manager needs to know about accounts: the ``AccountDirectory`` protocol.

Why: the manager must find an account's directory, read its effective settings and
resolve foreign names and groups, but it must not depend on how the account database
stores them. The account database implements this protocol; tests use
:class:`unigate.testing.accounts.StaticAccounts`.

Account identity is the canonical string ``"name@domain"`` (lower case). Every method
is synchronous and cheap (in memory); the manager calls them from the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["AccountDirectory"]


@runtime_checkable
class AccountDirectory(Protocol):
    """The account database as the mailbox manager sees it."""

    def account_path(self, account: str) -> Path | None:
        """The account's ``<name>.macnt`` directory, or None when the account is unknown."""
        ...

    def setting(self, account: str, key: str) -> object:
        """The account's effective setting ``key`` after defaults, or None when unset.

        Keys read by the manager: ``DefaultMailboxType`` (an extension such as ``"mslc"``),
        ``MaxAccountSize`` (bytes, None = unlimited), ``MaxMailboxes`` (None = unlimited),
        ``DelayNewMailPercent`` (int, default 100) and the special mailbox preferences
        ``TrashBox``, ``SentBox``, ``DraftsBox``, ``JunkBox``, ``HistoryBox``,
        ``CalendarBox``, ``TasksBox``, ``ContactsBox``, ``NotesBox``.
        """
        ...

    def resolve(self, name: str) -> str | None:
        """Route a foreign ``name`` / ``name@domain`` / alias to the canonical account.

        ``name`` without a domain is relative to nothing: the manager passes
        ``name@domain-of-the-user`` first, then the bare name. None = unknown.
        """
        ...

    def groups_of(self, account: str) -> set[str]:
        """The groups the account belongs to, each as ``"group@domain"``."""
        ...

    def is_mailbox_admin(self, user: str, account: str) -> bool:
        """True when ``user`` has all rights on every mailbox of ``account``.

        The manual: a server administrator with All Domains, or an administrator of the
        account's domain holding ``CanViewMailboxes``.
        """
        ...

    def account_rights(self, account: str, user: str) -> str:
        """The account-level rights ``account`` granted ``user`` (its account ACL).

        The manager checks ``"c"`` (CreateMailboxes) for a foreign top-level create.
        """
        ...
