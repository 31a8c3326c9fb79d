"""The mailbox manager: the kernel service every mail access protocol works through.

Public surface (see :class:`MailboxManager` and :class:`MailboxSession`)::

    mgr = MailboxManager({"mslc": sliced, "mbox": text}, accounts)
    await mgr.create("bob@x.dom", "Work/Projects", user="bob@x.dom")
    async with await mgr.open("bob@x.dom", "INBOX", user="bob@x.dom") as box:
        for rec in box.messages(): ...
        await box.store([uid], ["\\\\Seen"], "add")
        events = box.refresh()          # Appended / FlagsChanged / Expunged
    uid = await mgr.deliver("bob@x.dom", "INBOX", data)

Names, layout and the ACL rules are documented in :mod:`.names`, :mod:`.acl` and
:mod:`.manager`.
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
from .events import Appended, Expunged, FlagsChanged, MailboxEvent
from .flags import InvalidFlag, normalize_flags, parse_flag_name
from .manager import (
    SPECIAL_MAILBOXES,
    CannotDeleteInbox,
    MailboxInfo,
    MailboxManager,
    MailboxStatus,
    QuotaInfo,
)
from .session import MailboxSession, NoSuchMessage, StoreMode

__all__ = [
    "ALL_RIGHTS",
    "GUEST",
    "SPECIAL_MAILBOXES",
    "AccountDirectory",
    "Appended",
    "CannotDeleteInbox",
    "Expunged",
    "FlagsChanged",
    "InvalidFlag",
    "InvalidMailboxName",
    "MailboxError",
    "MailboxEvent",
    "MailboxExists",
    "MailboxHasChildren",
    "MailboxInfo",
    "MailboxLocked",
    "MailboxManager",
    "MailboxSession",
    "MailboxStatus",
    "NoSuchAccount",
    "NoSuchMailbox",
    "NoSuchMessage",
    "NotSelectable",
    "PermissionDenied",
    "QuotaExceeded",
    "QuotaInfo",
    "StoreMode",
    "effective_rights",
    "normalize_flags",
    "parse_flag_name",
]
