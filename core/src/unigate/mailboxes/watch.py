"""`MailboxWatch`: one subscriber's bounded queue of account-wide mailbox events.

Why: a session that has one mailbox open learns of its changes through its
`MailboxSession`; IMAP NOTIFY (RFC 5465) also wants to hear about the *other*
mailboxes -- new messages, expunges and flag changes anywhere in an account, and
mailboxes created, deleted, renamed, subscribed or unsubscribed. The manager pushes
those events (:mod:`.events`) to every watch of the owner account; the watcher takes
them when it is ready to report them.

Bounded: message events are coalesced (one queued ``MessagesChanged`` per mailbox
and kind until the watcher takes them: it reads the new state anyway), and past
``limit`` queued events the watch *overflows*: it drops what it holds, stops
queueing and wakes the watcher, which must treat the watch as lost (IMAP answers
``* OK [NOTIFICATIONOVERFLOW]``). A watcher that cannot keep up therefore costs a
fixed amount of memory, never an unbounded one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

import anyio

from .events import MessagesChanged, SubscriptionChanged, WatchEvent

if TYPE_CHECKING:
    from .manager import MailboxManager

__all__ = ["MailboxWatch"]


class MailboxWatch:
    """Events of the mailboxes of ``owners``, as seen by ``user``.

    Create with :meth:`MailboxManager.watch`; :meth:`close` when done. Events about
    mailbox names of another account reach the watch only when ``user`` may look
    the name up (the ``l`` right); message events carry no data, so the watcher's
    own STATUS (which needs ``r``) decides what it may report. Events whose
    ``origin`` is this watch's ``origin`` are not queued (a client is not told of
    its own changes).
    """

    def __init__(
        self,
        manager: MailboxManager,
        *,
        account: str,
        user: str,
        owners: Iterable[str],
        origin: object | None,
        limit: int,
    ) -> None:
        self._manager = manager
        #: the account whose name space the watcher works in, and the identity checked
        self.account = account.lower()
        self.user = user.lower()
        self.origin = origin
        self.limit = max(1, limit)
        self.owners: frozenset[str] = frozenset()
        #: set when more than ``limit`` events were waiting; nothing is queued after it
        self.overflowed = False
        self.closed = False
        self._events: deque[WatchEvent] = deque()
        self._queued: set[MessagesChanged] = set()
        self._wake = anyio.Event()
        self.set_owners(owners)

    # -- the watcher's side ---------------------------------------------------------

    def set_owners(self, owners: Iterable[str]) -> None:
        """Watch these accounts from now on (the watch's own account is always watched)."""
        wanted = frozenset({self.account, *(o.lower() for o in owners)})
        self._manager._rewatch(self, self.owners, wanted)
        self.owners = wanted

    @property
    def pending(self) -> bool:
        """True when :meth:`take` has events, or the watch overflowed."""
        return bool(self._events) or self.overflowed

    async def wait(self) -> None:
        """Return when events are waiting, the watch overflowed or was closed."""
        while not self.pending and not self.closed:
            self._wake = anyio.Event()
            await self._wake.wait()

    def take(self) -> list[WatchEvent]:
        """The queued events, oldest first; the queue is empty afterwards."""
        out = list(self._events)
        self._events.clear()
        self._queued.clear()
        return out

    def close(self) -> None:
        """Stop watching (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._manager._rewatch(self, self.owners, frozenset())
        self._events.clear()
        self._queued.clear()
        self._wake.set()

    # -- the manager's side -----------------------------------------------------------

    def _push(self, event: WatchEvent) -> None:
        if self.closed or self.overflowed:
            return
        if self.origin is not None and event.origin is self.origin:
            return
        if isinstance(event, SubscriptionChanged) and event.owner != self.account:
            return  # another account's subscription list is its own business
        if isinstance(event, MessagesChanged):
            if event in self._queued:
                return
            self._queued.add(event)
        if len(self._events) >= self.limit:
            self.overflowed = True
            self._events.clear()
            self._queued.clear()
        else:
            self._events.append(event)
        self._wake.set()
