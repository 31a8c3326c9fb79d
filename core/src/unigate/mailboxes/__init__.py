"""The mailbox manager: the kernel service every mail access protocol works through.

Public surface (see :class:`MailboxManager` and :class:`MailboxSession`)::

    mgr = MailboxManager({"mslc": sliced, "mbox": text}, accounts)
    await mgr.create("bob@x.dom", "Work/Projects", user="bob@x.dom")
    async with await mgr.open("bob@x.dom", "INBOX", user="bob@x.dom") as box:
        for rec in box.messages(): ...
        await box.store([uid], ["\\\\Seen"], "add")
        events = box.refresh()          # Appended / FlagsChanged / Expunged
    uid = await mgr.deliver("bob@x.dom", "INBOX", data)

Changes anywhere in an account (not only in an open mailbox) reach a watch::

    watch = mgr.watch("bob@x.dom", "bob@x.dom", origin=me, limit=1000)
    await watch.wait()
    for event in watch.take(): ...  # MessagesChanged / MailboxCreated / MailboxDeleted /
                                    # MailboxRenamed / SubscriptionChanged
    watch.close()

Names, layout and the ACL rules are documented in :mod:`.names`, :mod:`.acl` and
:mod:`.manager`; watches in :mod:`.watch`.
"""

from .accounts import AccountDirectory
from .acl import ALL_RIGHTS, GUEST, effective_rights
from .errors import (
    InvalidMailboxName,
    MailboxError,
    MailboxExists,
    MailboxHasChildren,
    MailboxLocked,
    NoSuchAccount,
    NoSuchMailbox,
    NotSelectable,
    PermissionDenied,
    QuotaExceeded,
)
from .events import (
    Appended,
    ChangeKind,
    Expunged,
    FlagsChanged,
    MailboxCreated,
    MailboxDeleted,
    MailboxEvent,
    MailboxRenamed,
    MessagesChanged,
    SubscriptionChanged,
    WatchEvent,
)
from .flags import InvalidFlag, normalize_flags, parse_flag_name
from .manager import (
    SPECIAL_MAILBOXES,
    CannotDeleteInbox,
    MailboxInfo,
    MailboxLocation,
    MailboxManager,
    MailboxStatus,
    QuotaInfo,
)
from .session import MailboxSession, NoSuchMessage, StoreMode
from .watch import MailboxWatch

__all__ = [
    "ALL_RIGHTS",
    "GUEST",
    "SPECIAL_MAILBOXES",
    "AccountDirectory",
    "Appended",
    "CannotDeleteInbox",
    "ChangeKind",
    "Expunged",
    "FlagsChanged",
    "InvalidFlag",
    "InvalidMailboxName",
    "MailboxCreated",
    "MailboxDeleted",
    "MailboxError",
    "MailboxEvent",
    "MailboxExists",
    "MailboxHasChildren",
    "MailboxInfo",
    "MailboxLocation",
    "MailboxLocked",
    "MailboxManager",
    "MailboxRenamed",
    "MailboxSession",
    "MailboxStatus",
    "MailboxWatch",
    "MessagesChanged",
    "NoSuchAccount",
    "NoSuchMailbox",
    "NoSuchMessage",
    "NotSelectable",
    "PermissionDenied",
    "QuotaExceeded",
    "QuotaInfo",
    "StoreMode",
    "SubscriptionChanged",
    "WatchEvent",
    "effective_rights",
    "normalize_flags",
    "parse_flag_name",
]
