"""Wiring of the mail services into a server: the mailbox manager (and its drivers).

The mailbox manager is a kernel service whose format drivers come from plugins
(``unigate_storage_formats``); it sees the account database through
:class:`MailboxAccounts`, which turns the manual's setting values into the types the
manager wants (sizes in bytes, rights strings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unigate.mailboxes import MailboxManager
from unigate.objects import ObjectStore
from unigate.objects.sizes import parse_size
from unigate.objects.store import split_address

_SIZES = {"MaxAccountSize", "MaxMailboxes"}


class MailboxAccounts:
    """The account database as the mailbox manager's ``AccountDirectory``."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def account_path(self, account: str) -> Path | None:
        return self.objects.account_path(account)

    def setting(self, account: str, key: str) -> object:
        value = self.objects.setting(account, key)
        if key in _SIZES:
            return parse_size(value)
        return value

    def resolve(self, name: str) -> str | None:
        return self.objects.resolve(name)

    def groups_of(self, account: str) -> set[str]:
        _, domain = split_address(account)
        return {f"{group}@{domain}" for group in self.objects.groups_of(account)}

    def is_mailbox_admin(self, user: str, account: str) -> bool:
        return self.objects.is_mailbox_admin(user)

    def account_rights(self, account: str, user: str) -> str:
        acl = self.objects.setting(account, "ACL") or {}
        if isinstance(acl, dict):
            return str(acl.get(user, ""))
        return ""


def mailbox_manager(objects: ObjectStore, plugin_manager: Any) -> MailboxManager | None:
    """A manager over every contributed format driver; None when no plugin offers one."""
    drivers: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for impl in plugin_manager.hook.unigate_storage_formats.get_hookimpls():
        for driver in impl.function() or []:
            if driver.extension in drivers:
                raise ValueError(
                    f"mailbox format .{driver.extension} offered by both "
                    f"{owners[driver.extension]!r} and {impl.plugin_name!r}"
                )
            drivers[driver.extension] = driver
            owners[driver.extension] = impl.plugin_name
    if not drivers:
        return None
    return MailboxManager(drivers, MailboxAccounts(objects))
