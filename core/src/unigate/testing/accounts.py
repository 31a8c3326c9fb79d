"""An in-memory account directory for tests (implements ``AccountDirectory``).

Why: the mailbox manager's tests and the conformance kit need accounts without the
account database. Accounts are ``name@domain`` strings; each gets ``<root>/<domain>/
<name>.macnt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StaticAccounts"]


@dataclass
class StaticAccounts:
    """Accounts, aliases, groups, settings and admin rights held in dictionaries."""

    root: Path
    accounts: set[str] = field(default_factory=set)
    #: alias "name@domain" -> canonical account
    aliases: dict[str, str] = field(default_factory=dict)
    #: account -> {"group@domain", ...}
    groups: dict[str, set[str]] = field(default_factory=dict)
    #: account -> {setting: value}; "*" holds defaults for every account
    settings: dict[str, dict[str, object]] = field(default_factory=dict)
    #: users with all rights on every mailbox
    admins: set[str] = field(default_factory=set)
    #: (account, user) -> account-level rights ("c" = CreateMailboxes)
    account_acl: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, account: str, **settings: object) -> str:
        account = account.lower()
        self.accounts.add(account)
        if settings:
            self.settings.setdefault(account, {}).update(settings)
        return account

    def account_path(self, account: str) -> Path | None:
        account = account.lower()
        if account not in self.accounts:
            return None
        name, _, domain = account.partition("@")
        path = self.root / domain / f"{name}.macnt"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def setting(self, account: str, key: str) -> object:
        own = self.settings.get(account.lower(), {})
        if key in own:
            return own[key]
        return self.settings.get("*", {}).get(key)

    def resolve(self, name: str) -> str | None:
        name = name.lower()
        if name in self.accounts:
            return name
        return self.aliases.get(name)

    def groups_of(self, account: str) -> set[str]:
        return set(self.groups.get(account.lower(), set()))

    def is_mailbox_admin(self, user: str, account: str) -> bool:
        return user.lower() in self.admins

    def account_rights(self, account: str, user: str) -> str:
        return self.account_acl.get((account.lower(), user.lower()), "")
