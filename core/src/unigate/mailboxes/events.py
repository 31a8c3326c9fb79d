"""Change events a mailbox session receives about changes made by other sessions.

Why: IMAP (EXISTS/EXPUNGE/FETCH untagged responses, IDLE), XMPP push and POP (which
ignores them: its view is frozen) all learn about concurrent changes the same way.
Events are frozen dataclasses; a session queues them until :meth:`MailboxSession.refresh`
applies them to its view.
"""

from __future__ import annotations

from dataclasses import dataclass

from unigate_hookspecs.storage import MessageRecord

__all__ = ["Appended", "Expunged", "FlagsChanged", "MailboxEvent"]


@dataclass(frozen=True, slots=True)
class Appended:
    """New messages, in UID order. After ``refresh`` the view's size is the new EXISTS."""

    records: tuple[MessageRecord, ...]


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    """Messages whose flags (and MODSEQ) changed: their new records."""

    records: tuple[MessageRecord, ...]


@dataclass(frozen=True, slots=True)
class Expunged:
    """Messages removed from the mailbox.

    As queued, ``seqs`` is empty. As returned by ``refresh``/``expunge`` it holds, for
    each UID in ``uids``, the sequence number to announce (``* n EXPUNGE``), in the order
    to announce them: each number is valid after the previous ones were removed.
    """

    uids: tuple[int, ...]
    seqs: tuple[int, ...] = ()


MailboxEvent = Appended | FlagsChanged | Expunged
