"""Hook family: rules -- conditions, actions and content filters for automated processing.

Mail passes two rule stages (manual, Automated E-mail Processing Rules): at enqueue
(server-wide rules and external filters) and at local delivery (domain and account
rules). The kernel calls these hooks at both stages; a rules plugin implements the
manual's rule language on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unigate_hookspecs.markers import hookspec


@dataclass(frozen=True, slots=True)
class StoreDecision:
    """What local delivery should do with one message for one account.

    ``mailboxes`` lists where to store (empty = the default INBOX, or the direct-addressed
    mailbox); ``flags`` are added on store; ``discard`` drops the message (counted as
    delivered); ``reject`` refuses it with that text (a failure DSN);
    ``redirect`` lists addresses to resubmit to.
    """

    mailboxes: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()
    discard: bool = False
    reject: str | None = None
    redirect: tuple[str, ...] = field(default_factory=tuple)


@hookspec
def unigate_enqueue_filter(server: Any, envelope: Any, message: bytes) -> Any:
    """Judge a message at enqueue (server-wide rules, anti-virus, anti-spam).

    Called when: a message has been received, before it is acknowledged (synchronous
    filtering: a rejected message is never accepted, so no bounce is generated).

    Params: ``envelope`` -- the :class:`~unigate_hookspecs.delivery.Envelope`;
    ``message`` -- the raw message bytes.

    Return: a :class:`~unigate_hookspecs.verdict.Verdict` or None. The kernel walks
    plugins in the configured order until a final verdict. Async or sync.
    """


@hookspec(firstresult=True)
def unigate_before_store(
    server: Any, account: str, envelope: Any, message: bytes
) -> StoreDecision | None:
    """Apply the account's rules before local delivery stores a message.

    Called when: the LOCAL module is about to store a message for ``account``.

    Params: ``account`` -- canonical account; ``envelope``; ``message`` raw bytes.

    Return: a :class:`StoreDecision`, or None for the default (store in INBOX or the
    direct-addressed mailbox). Stops at first non-None result (firstresult). Async or sync.
    """
