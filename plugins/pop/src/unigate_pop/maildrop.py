"""The POP3 view of one open mailbox: frozen numbering, deletion marks, the UPDATE step.

Why: the manual's POP module (lines 18263-18272) does not lock the mailbox. The session
sees the messages that existed when it logged in, numbered 1..n for its whole life;
messages delivered meanwhile wait for the next session. DELE only marks; the marks are
applied when the client ends the session with QUIT (UPDATE state), never when the
connection just drops. RETR sets ``\\Seen`` (an IMAP client notices it), TOP does not.
A message another session removed meanwhile stays numbered (a *zombie*), and reading it
fails.

UIDL ids are ``<uidvalidity>.<uid>``: stable across sessions, and new ids if the mailbox
is recreated. ``$Service`` messages are never in the view, nor ``$Hidden`` ones for users
without the right to see them (the mailbox manager's session applies both rules).
"""

from __future__ import annotations

import contextlib
from typing import Any

from unigate.api import mailboxes

__all__ = ["Maildrop", "NoMessage"]

SEEN = "\\Seen"
DELETED = "\\Deleted"


class NoMessage(Exception):
    """The message number is out of range, or the message was deleted: say ``-ERR text``."""


class Maildrop:
    """A POP3 session's view of a :class:`unigate.api.mailboxes.MailboxSession`."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._records = list(session.messages())
        self._deleted: set[int] = set()
        self.uidvalidity: int = session.uidvalidity
        self.last_accessed = 0

    @classmethod
    async def open(cls, manager: Any, account: str, mailbox: str) -> Maildrop:
        """Open ``mailbox`` in ``account``'s name space as ``account`` (the manager checks the rights)."""
        session = await manager.open(account, mailbox, user=account)
        return cls(session)

    @property
    def mailbox(self) -> str:
        return str(self._session.mailbox)

    @property
    def owner(self) -> str:
        return str(self._session.owner)

    @property
    def may_delete(self) -> bool:
        return "d" in self._session.rights and not self._session.readonly

    # -- the view ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def stat(self) -> tuple[int, int]:
        """(messages, octets) not marked as deleted."""
        live = [r for i, r in enumerate(self._records, 1) if i not in self._deleted]
        return len(live), sum(r.size for r in live)

    def _record(self, number: int) -> Any:
        if not 1 <= number <= len(self._records):
            raise NoMessage(f"no message {number}")
        if number in self._deleted:
            raise NoMessage(f"message {number} is deleted")
        return self._records[number - 1]

    def size(self, number: int) -> int:
        return int(self._record(number).size)

    def unique_id(self, number: int) -> str:
        return f"{self.uidvalidity}.{self._record(number).uid}"

    def numbers(self) -> list[int]:
        """The message numbers not marked as deleted, in order."""
        return [i for i in range(1, len(self._records) + 1) if i not in self._deleted]

    # -- reading ----------------------------------------------------------------------

    async def _read(self, number: int) -> bytes:
        rec = self._record(number)
        try:
            data = await self._session.read(rec.uid)
        except mailboxes.NoSuchMailbox:
            raise NoMessage(f"message {number} was removed by another session") from None
        except mailboxes.PermissionDenied:
            raise NoMessage(f"no right to read message {number}") from None
        self.last_accessed = max(self.last_accessed, number)
        return bytes(data)

    async def retrieve(self, number: int) -> bytes:
        """The whole message; marks it ``\\Seen`` (RETR)."""
        data = await self._read(number)
        rec = self._records[number - 1]
        if SEEN not in rec.flags:
            with contextlib.suppress(mailboxes.MailboxError):  # read-only: reading still works
                await self._session.store([rec.uid], [SEEN], "add")
        return data

    async def read(self, number: int) -> bytes:
        """The whole message, flags untouched (TOP)."""
        return await self._read(number)

    # -- deleting ---------------------------------------------------------------------

    def delete(self, number: int) -> None:
        """Mark for deletion at QUIT; raises :class:`NoMessage` or ``PermissionDenied``."""
        self._record(number)
        if not self.may_delete:
            raise mailboxes.PermissionDenied("d", "no right to delete messages in this mailbox")
        self._deleted.add(number)
        self.last_accessed = max(self.last_accessed, number)

    def reset(self) -> None:
        """RSET: unmark every message."""
        self._deleted.clear()
        self.last_accessed = 0

    async def commit(self) -> int:
        """The UPDATE state: remove the marked messages; returns how many were removed."""
        uids = [self._records[n - 1].uid for n in sorted(self._deleted)]
        if not uids:
            return 0
        await self._session.store(uids, [DELETED], "add")
        gone = await self._session.expunge(uids)
        return len(gone.uids)

    async def close(self) -> None:
        await self._session.close()
