"""Session states (RFC 9051 §3) and the selected mailbox as the session sees it.

Why: the commands a client may send depend on the state, and every command on the
selected mailbox needs the same things -- sequence number <-> UID translation, the
SEARCHRES saved result, the flags to announce -- kept next to the manager's
:class:`MailboxSession`.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable
from typing import Any

from unigate.api import mailboxes as mb

from ..protocol import STAR, SequenceSet
from .errors import CommandError

__all__ = ["SYSTEM_FLAGS", "Selected", "State"]

#: sets with at most this many members are resolved without walking the view
_SMALL = 64
#: `Selected.own_new` starts over past this many UIDs
_OWN_NEW_LIMIT = 10_000

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Selected:
    """The selected mailbox: the manager's session plus IMAP-only state.

    :param box: the :class:`unigate.api.mailboxes.MailboxSession` (duck-typed here).
    :param name: the name as the client gave it (for responses).
    """

    def __init__(self, box: Any, name: str, readonly: bool) -> None:
        self.box = box
        self.name = name
        self.readonly = readonly
        #: SEARCHRES ``$``: a set of UIDs, or None before any SAVE
        self.saved: list[int] | None = None
        #: keywords announced in FLAGS so far (a new keyword triggers a new FLAGS response)
        self.keywords: set[str] = set()
        #: the message count the client was told (EXISTS)
        self.exists = len(box)
        #: UIDs this session put into the selected mailbox itself (APPEND, COPY, MOVE,
        #: REPLACE): their EXISTS is sent, but no NOTIFY MessageNew FETCH (RFC 5465
        #: §5.2: the client has them already); forgotten once announced
        self.own_new: set[int] = set()

    async def is_named(self, mailboxes: Any, account: str, name: str) -> bool:
        """Does the client's ``name`` lead to the selected mailbox? The manager's
        `resolve_name` decides (INBOX in any case, aliases, ``~account/`` names)."""
        try:
            where = await mailboxes.resolve_name(account, name)
        except mb.MailboxError:
            return False
        return (where.owner, where.name) == (self.box.owner, self.box.mailbox)

    def added_here(self, uids: Iterable[int]) -> None:
        """Remember messages this session added to the selected mailbox (`own_new`)."""
        if len(self.own_new) > _OWN_NEW_LIMIT:  # never announced (NOTIFY without SELECTED)
            self.own_new.clear()
        self.own_new.update(uids)

    # -- numbering -------------------------------------------------------------------
    def uids(self) -> list[int]:
        """The view's UIDs in sequence order."""
        return self.box.uids()

    def resolve_records(self, seqset: SequenceSet, *, uid: bool) -> tuple[list[int], list[Any]]:
        """Sequence numbers and records named by ``seqset``, ascending (see `resolve`).

        Two parallel lists rather than pairs: a ``FETCH 1:*`` of 100,000 messages
        then builds no per-message tuple (objects that outlive a young GC pass and
        bring the next full collection closer). Small sets are looked up one by one
        (``FETCH 17 BODY[]`` must not cost a walk over a 100,000-message view); large
        ones slice the view once.
        """
        box = self.box
        count = len(box)
        seqs: list[int] = []
        out: list[Any] = []
        if not seqset.saved and count:
            if not uid:
                self._check_seqs(seqset, count)
                norm = seqset.normalized(count)
                if sum(b - a + 1 for a, b in norm.ranges) <= _SMALL:
                    for seq in norm.iter(count):
                        rec = box.record(box.uid_of(seq))
                        if rec is not None:
                            seqs.append(seq)
                            out.append(rec)
                    return seqs, out
            else:
                top = box.uid_of(count)
                norm = seqset.normalized(top)
                if sum(b - a + 1 for a, b in norm.ranges) <= _SMALL:
                    for u in norm.iter(top):
                        seq = box.seq_of(u)
                        if seq is not None:
                            rec = box.record(u)
                            if rec is not None:
                                seqs.append(seq)
                                out.append(rec)
                    return seqs, out
        records = box.messages()
        if not seqset.saved and count:
            if not uid:  # already checked above
                spans = [(a - 1, b) for a, b in seqset.normalized(count).ranges]
            else:
                uids = box.uids()
                spans = [
                    (bisect.bisect_left(uids, a), bisect.bisect_right(uids, b))
                    for a, b in seqset.normalized(uids[-1]).ranges
                ]
            if spans == [(0, count)]:
                return list(range(1, count + 1)), records
            for i, j in spans:
                seqs.extend(range(i + 1, j + 1))
                out.extend(records[i:j])
            return seqs, out
        uids = box.uids()
        for u in self._resolve(uids, seqset, uid=uid):
            i = bisect.bisect_left(uids, u)
            seqs.append(i + 1)
            out.append(records[i])
        return seqs, out

    @staticmethod
    def _check_seqs(seqset: SequenceSet, count: int) -> None:
        for a, b in seqset.ranges:
            for n in (a, b):
                if n != STAR and n > count:
                    raise CommandError("Invalid message sequence number", status="BAD")

    def resolve(self, seqset: SequenceSet, *, uid: bool) -> list[int]:
        """UIDs in the view named by ``seqset`` (sequence numbers or UIDs), ascending.

        ``$`` is the saved search result. Numbers outside the view are ignored (UID
        sets) or raise a BAD `CommandError` (sequence numbers beyond EXISTS).
        """
        return self._resolve(self.uids(), seqset, uid=uid)

    def _resolve(self, uids: list[int], seqset: SequenceSet, *, uid: bool) -> list[int]:
        if seqset.saved:
            saved = set(self.saved or ())
            return [u for u in uids if u in saved]
        if not uid:
            count = len(uids)
            self._check_seqs(seqset, count)
            if count == 0:
                if seqset.ranges:
                    raise CommandError("No messages in the mailbox", status="BAD")
                return []
            return [uids[s - 1] for s in seqset.iter(count)]
        if not uids:
            return []
        top = uids[-1]
        out: list[int] = []
        for a, b in seqset.normalized(top).ranges:
            i = bisect.bisect_left(uids, a)
            j = bisect.bisect_right(uids, b)
            out.extend(uids[i:j])
        return out
