"""Change events a mailbox session receives about changes made by other sessions.

Why: IMAP (EXISTS/EXPUNGE/FETCH untagged responses, IDLE), XMPP push and POP (which
ignores them: its view is frozen) all learn about concurrent changes the same way.
Events are frozen dataclasses; a session queues them until :meth:`MailboxSession.refresh`
applies them to its view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from unigate_hookspecs.storage import MessageRecord

__all__ = [
    "Appended",
    "ChangeKind",
    "Expunged",
    "FlagsChanged",
    "MailboxCreated",
    "MailboxDeleted",
    "MailboxEvent",
    "MailboxRenamed",
    "MessagesChanged",
    "SubscriptionChanged",
    "WatchEvent",
]


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


# -----------------------------------------------------------------------------------
# Account-wide events, delivered to a MailboxWatch (IMAP NOTIFY, push to other devices)
#
# They name a mailbox by its owner account and canonical name (what
# ``MailboxManager.resolve_name`` returns) and say *that* something changed, not what:
# a watcher reads the new state (STATUS, LIST) when it is ready to report it, so a burst
# of changes costs one report. ``origin`` is the ``origin`` object the change was made
# with (``MailboxManager.open(..., origin=...)``, ``create(..., origin=...)``), so a
# watcher can skip its own changes; it takes no part in comparisons.


class ChangeKind(StrEnum):
    """What happened to the messages of a mailbox."""

    NEW = "new"  # messages appended (delivery, APPEND, COPY, MOVE)
    EXPUNGE = "expunge"  # messages removed
    FLAGS = "flags"  # flags (and MODSEQ) of messages changed


@dataclass(frozen=True, slots=True)
class MessagesChanged:
    """The messages of ``owner``'s mailbox ``name`` changed (``kind``)."""

    owner: str
    name: str
    kind: ChangeKind
    origin: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MailboxCreated:
    """A mailbox name appeared -- created, or newly visible to the watcher (ACL change)."""

    owner: str
    name: str
    origin: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MailboxDeleted:
    """A mailbox was deleted (or became invisible to the watcher through an ACL change).

    After a non-recursive delete of a mailbox with sub-mailboxes the name stays as a
    non-selectable one: the watcher finds that out when it lists the name.
    """

    owner: str
    name: str
    origin: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class MailboxRenamed:
    """A mailbox was renamed; one event per name moved (sub-mailboxes move too)."""

    owner: str
    old: str
    new: str
    origin: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    """``owner``'s subscription list gained (``subscribed``) or lost ``name``.

    ``name`` is the subscription as stored: a name in the owner's own name space,
    which may be foreign (``~boss/INBOX``). Only watches of that account receive it.
    """

    owner: str
    name: str
    subscribed: bool
    origin: object | None = field(default=None, compare=False, repr=False)


WatchEvent = (
    MessagesChanged | MailboxCreated | MailboxDeleted | MailboxRenamed | SubscriptionChanged
)
