"""The account database: domains, accounts, aliases, forwarders, groups, domain aliases.

Stored in the manual's base-directory layout (System Administration, Objects, Storage):

```
<data>/Settings/Server.settings          {MainDomainName = ...;}
<data>/Settings/DomainAliases            {alias.domain = real.domain;}
<data>/Settings/AccountDefaults.settings server-wide Default Account Settings
<data>/Settings/DomainDefaults.settings  server-wide Default Domain Settings
<data>/Accounts/                         the Main Domain's directory
<data>/Domains/<domain>/                 each secondary domain's directory
<domain dir>/Settings/Domain.settings    the domain's settings
<domain dir>/Settings/AccountDefaults.settings  the domain's Default Account Settings
<domain dir>/Settings/Aliases.data       {alias = account;} every account alias of the domain
<domain dir>/Settings/Forwarders.data    {name = "address";}
<domain dir>/Settings/Groups.data        {name = {Members = (...); RealName = ...;};}
<domain dir>/Settings/Access.settings    administration rights (server rights in the Main Domain)
<domain dir>/<account>.macnt/            account.settings, account.info, the mailboxes
```

Settings are layered as the manual says: the account's own value, else the domain's
Default Account Settings, else the server's, else the built-in default. "Not set" (the
key is absent) stays distinct from "set to the default value" (the key is present),
and a domain setting whose value is ``default`` takes the server-wide default.

Every method is synchronous and cheap (files are cached and revalidated by stat), so
the ``unigate`` command and the running server share the same store and the server sees
the command's changes at once.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

from unigate.objects.files import FileCache
from unigate.objects.names import NameError_, domain_name, object_name
from unigate.router.objects import ObjectKind, ObjectRef, UnknownAction, UnknownPolicy
from unigate_hookspecs.routing import RouteOp

#: built-in Default Account Settings (used when neither the domain nor the server sets a key)
BUILTIN_ACCOUNT_DEFAULTS: dict[str, Any] = {
    "AccessModes": "All",
    "PasswordEncryption": "U-crpt",
    "RequireAPOP": "NO",
    "DefaultMailboxType": "mslc",
    "MaxAccountSize": "unlimited",
    "MaxMailboxes": "unlimited",
    "RealName": "",
}

#: built-in Default Domain Settings
BUILTIN_DOMAIN_DEFAULTS: dict[str, Any] = {
    "DomainAccessModes": "All",
    "MailToUnknown": "Rejected",
    "SignalToUnknown": "Rejected",
    "AccessToUnknown": "Rejected",
    "IPAddresses": (),
}


class ObjectError(ValueError):
    """An administration request that cannot be done (the message says why)."""


def split_address(address: str) -> tuple[str, str | None]:
    """``name@domain`` or ``name%domain`` -> (name, domain); a bare name -> (name, None)."""
    text = address.strip()
    if "@" in text:
        name, _, domain = text.rpartition("@")
        return (name, domain)
    if "%" in text:
        name, _, domain = text.rpartition("%")
        return (name, domain)
    return (text, None)


class ObjectStore:
    """The manual's objects in the base directory (see the module docstring)."""

    def __init__(self, data_dir: Path, *, main_domain: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.files = FileCache()
        self._main_override = domain_name(main_domain) if main_domain else None

    # -- paths -------------------------------------------------------------------------------

    @property
    def settings_dir(self) -> Path:
        return self.data_dir / "Settings"

    @property
    def main_domain(self) -> str:
        """The Main Domain: from the settings file, else Server.settings, else the host name."""
        if self._main_override:
            return self._main_override
        stored = self.files.read(self.settings_dir / "Server.settings").get("MainDomainName")
        return str(stored) if stored else (socket.getfqdn().lower() or "localhost")

    def set_main_domain(self, name: str) -> None:
        self.files.update(
            self.settings_dir / "Server.settings", {"MainDomainName": domain_name(name)}
        )

    def domain_dir(self, domain: str) -> Path:
        """The directory of a domain (``Accounts/`` for the Main Domain)."""
        domain = domain.lower()
        if domain == self.main_domain:
            return self.data_dir / "Accounts"
        return self.data_dir / "Domains" / domain

    def _domain_file(self, domain: str, name: str) -> Path:
        return self.domain_dir(domain) / "Settings" / name

    # -- domains -----------------------------------------------------------------------------

    def domains(self) -> list[str]:
        """The Main Domain first, then the secondary domains by name."""
        others = []
        folder = self.data_dir / "Domains"
        if folder.is_dir():
            others = sorted(
                p.name
                for p in folder.iterdir()
                if p.is_dir() and not p.name.endswith((".sub", ".mnt"))
            )
        return [self.main_domain, *[d for d in others if d != self.main_domain]]

    def is_local_domain(self, domain: str) -> bool:
        domain = domain.lower()
        return domain == self.main_domain or (self.data_dir / "Domains" / domain).is_dir()

    def canonical_domain(self, name: str) -> str | None:
        """The local domain ``name`` means (following domain aliases), or None."""
        domain = name.strip().lower().rstrip(".")
        if self.is_local_domain(domain):
            return domain
        target = self.files.read(self.settings_dir / "DomainAliases").get(domain)
        if isinstance(target, str) and self.is_local_domain(target):
            return target
        return None

    def add_domain(self, name: str, settings: dict[str, Any] | None = None) -> str:
        domain = domain_name(name)
        if self.canonical_domain(domain):
            raise ObjectError(f"domain {domain} already exists")
        directory = self.domain_dir(domain)
        (directory / "Settings").mkdir(parents=True, exist_ok=True)
        self.files.write(directory / "Settings" / "Domain.settings", dict(settings or {}))
        return domain

    def remove_domain(self, name: str, *, empty_only: bool = True) -> None:
        domain = domain_name(name)
        if domain == self.main_domain:
            raise ObjectError("the Main Domain cannot be removed")
        if not self.is_local_domain(domain):
            raise ObjectError(f"domain {domain} does not exist")
        if empty_only and self.accounts(domain):
            raise ObjectError(f"domain {domain} has accounts (remove them first)")
        shutil.rmtree(self.domain_dir(domain))
        aliases = {k: v for k, v in self.domain_aliases().items() if v != domain}
        self.files.write(self.settings_dir / "DomainAliases", aliases)

    def domain_aliases(self) -> dict[str, str]:
        return dict(self.files.read(self.settings_dir / "DomainAliases"))

    def add_domain_alias(self, alias: str, domain: str) -> None:
        alias, target = domain_name(alias), self.canonical_domain(domain)
        if target is None:
            raise ObjectError(f"domain {domain} does not exist")
        if self.canonical_domain(alias):
            raise ObjectError(f"{alias} is already a domain or domain alias")
        self.files.update(self.settings_dir / "DomainAliases", {alias: target})

    def remove_domain_alias(self, alias: str) -> None:
        alias = domain_name(alias)
        if alias not in self.domain_aliases():
            raise ObjectError(f"{alias} is not a domain alias")
        self.files.update(self.settings_dir / "DomainAliases", {alias: None})

    def domain_settings(self, domain: str) -> dict[str, Any]:
        return dict(self.files.read(self._domain_file(domain, "Domain.settings")))

    def update_domain_settings(self, domain: str, changes: dict[str, Any]) -> None:
        self._require_domain(domain)
        self.files.update(self._domain_file(domain, "Domain.settings"), changes)

    def domain_setting(self, domain: str, key: str) -> Any:
        """Effective domain setting: the domain's, else the server's default (``default`` = inherit)."""
        return self.files.derived(
            ("domain_setting", domain, key), lambda: self._domain_setting(domain, key)
        )

    def _domain_setting(self, domain: str, key: str) -> Any:
        value = self.files.read(self._domain_file(domain, "Domain.settings")).get(key)
        if value is None or value == "default":
            value = self.files.read(self.settings_dir / "DomainDefaults.settings").get(key)
        if value is None or value == "default":
            value = BUILTIN_DOMAIN_DEFAULTS.get(key)
        return value

    def _require_domain(self, domain: str | None) -> str:
        canonical = self.canonical_domain(domain or self.main_domain)
        if canonical is None:
            raise ObjectError(f"domain {domain} does not exist")
        return canonical

    # -- the namespace of a domain ------------------------------------------------------------

    def _address(self, address: str) -> tuple[str, str]:
        name, domain = split_address(address)
        return (name.lower(), self._require_domain(domain))

    def lookup(self, domain: str, name: str) -> ObjectRef | None:
        """What ``name`` is in ``domain`` (accounts first, then aliases, forwarders, groups).

        The answer is the Router's :class:`ObjectRef`: for an alias, ``name`` is the
        account's real name; the store is the Router's ``DomainObjects``.
        """
        canonical = self.canonical_domain(domain)
        if canonical is None:
            return None
        name = name.lower()
        directory = self.domain_dir(canonical)
        if (directory / f"{name}.macnt").is_dir():
            return ObjectRef(ObjectKind.ACCOUNT, name)
        target = self.files.read(directory / "Settings" / "Aliases.data").get(name)
        if isinstance(target, str):
            return ObjectRef(ObjectKind.ALIAS, target)
        forward = self.files.read(directory / "Settings" / "Forwarders.data").get(name)
        if isinstance(forward, str):
            return ObjectRef(ObjectKind.FORWARDER, name, target=forward)
        group = self.files.read(directory / "Settings" / "Groups.data").get(name)
        if isinstance(group, dict):
            members = group.get("Members", ())
            return ObjectRef(ObjectKind.GROUP, name, members=tuple(str(m) for m in members))
        return None

    def unknown_policy(self, domain: str, operation: RouteOp) -> UnknownPolicy:
        """The domain's Mail/Signal/Access to Unknown setting (the manual's internal names)."""
        key = {RouteOp.MAIL: "Mail", RouteOp.SIGNAL: "Signal", RouteOp.ACCESS: "Access"}[operation]
        value = str(self.domain_setting(domain, f"{key}ToUnknown") or "Rejected").lower()
        if value.startswith("discard"):
            return UnknownPolicy(UnknownAction.DISCARD)
        if value.startswith("accept"):
            return UnknownPolicy(UnknownAction.ACCEPT)
        if value.startswith("reroute"):
            address = str(self.domain_setting(domain, f"{key}RerouteAddress") or "")
            return UnknownPolicy(UnknownAction.REROUTE, address) if address else UnknownPolicy()
        return UnknownPolicy(UnknownAction.REJECT)

    def domain_for_ip(self, ip: str) -> str | None:
        """The secondary domain a local IP address is assigned to (IPAddresses), or None."""
        return self._domain_by_ip(ip)

    def _check_free(self, name: str, domain: str) -> None:
        existing = self.lookup(domain, name)
        if existing is not None:
            raise ObjectError(f"{name}@{domain} already exists (a {existing.kind.value})")

    # -- accounts ----------------------------------------------------------------------------

    def accounts(self, domain: str | None = None) -> list[str]:
        """Account names of a domain (the Main Domain by default), sorted."""
        directory = self.domain_dir(self._require_domain(domain))
        if not directory.is_dir():
            return []
        return sorted(
            p.name[: -len(".macnt")] for p in directory.iterdir() if p.name.endswith(".macnt")
        )

    def account_path(self, account: str) -> Path | None:
        """The ``.macnt`` directory of a canonical account, None if there is none."""
        name, domain = split_address(account)
        if domain is None or self.canonical_domain(domain) is None:
            return None
        path = self.domain_dir(self.canonical_domain(domain) or domain) / f"{name.lower()}.macnt"
        return path if path.is_dir() else None

    def add_account(
        self,
        address: str,
        *,
        password: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> str:
        """Create an account; returns its canonical ``name@domain``."""
        raw_name, domain = self._address(address)
        try:
            name = object_name(raw_name)
        except NameError_ as exc:
            raise ObjectError(str(exc)) from None
        self._check_free(name, domain)
        path = self.domain_dir(domain) / f"{name}.macnt"
        path.mkdir(parents=True)
        canonical = f"{name}@{domain}"
        self.files.write(path / "account.settings", dict(settings or {}))
        self.files.write(path / "account.info", {})
        if password is not None:  # after the settings: PasswordEncryption decides the verifiers
            self.set_password(canonical, password)
        return canonical

    def remove_account(self, address: str) -> None:
        name, domain = self._address(address)
        path = self.domain_dir(domain) / f"{name}.macnt"
        if not path.is_dir():
            raise ObjectError(f"account {name}@{domain} does not exist")
        shutil.rmtree(path)
        aliases = self.files.read(self._domain_file(domain, "Aliases.data"))
        self.files.write(
            self._domain_file(domain, "Aliases.data"),
            {k: v for k, v in aliases.items() if v != name},
        )
        self._drop_group_member(domain, f"{name}@{domain}")

    def rename_account(self, old: str, new: str) -> str:
        """Rename (or move to another domain); aliases follow, forwarders do not (the manual)."""
        name, domain = self._address(old)
        new_raw, new_domain = self._address(new)
        new_name = object_name(new_raw)
        source = self.domain_dir(domain) / f"{name}.macnt"
        if not source.is_dir():
            raise ObjectError(f"account {name}@{domain} does not exist")
        self._check_free(new_name, new_domain)
        target = self.domain_dir(new_domain) / f"{new_name}.macnt"
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        aliases = self.files.read(self._domain_file(domain, "Aliases.data"))
        moved = [k for k, v in aliases.items() if v == name]
        self.files.write(
            self._domain_file(domain, "Aliases.data"),
            {k: v for k, v in aliases.items() if v != name},
        )
        if moved:
            self.files.update(
                self._domain_file(new_domain, "Aliases.data"), dict.fromkeys(moved, new_name)
            )
        canonical = f"{new_name}@{new_domain}"
        self._rename_group_member(domain, f"{name}@{domain}", canonical)
        return canonical

    def account_settings(self, account: str) -> dict[str, Any]:
        """The account's explicit settings (keys not set are absent)."""
        path = self.account_path(account)
        if path is None:
            raise ObjectError(f"account {account} does not exist")
        return dict(self.files.read(path / "account.settings"))

    def update_account_settings(self, account: str, changes: dict[str, Any]) -> None:
        """Set keys; a value of None un-sets a key (it then inherits the defaults)."""
        path = self.account_path(account)
        if path is None:
            raise ObjectError(f"account {account} does not exist")
        self.files.update(path / "account.settings", changes)

    def setting(self, account: str, key: str) -> Any:
        """Effective setting: account, domain defaults, server defaults, built-in."""
        return self.files.derived(("setting", account, key), lambda: self._setting(account, key))

    def _setting(self, account: str, key: str) -> Any:
        path = self.account_path(account)
        if path is not None:
            value = self.files.read(path / "account.settings").get(key)
            if value is not None and value != "default":
                return value
        _, domain = split_address(account)
        if domain:
            value = self.files.read(self._domain_file(domain, "AccountDefaults.settings")).get(key)
            if value is not None and value != "default":
                return value
        value = self.files.read(self.settings_dir / "AccountDefaults.settings").get(key)
        if value is not None and value != "default":
            return value
        return BUILTIN_ACCOUNT_DEFAULTS.get(key)

    def update_account_defaults(self, changes: dict[str, Any], domain: str | None = None) -> None:
        """Change the server-wide (domain=None) or a domain's Default Account Settings."""
        if domain is None:
            self.files.update(self.settings_dir / "AccountDefaults.settings", changes)
        else:
            self.files.update(
                self._domain_file(self._require_domain(domain), "AccountDefaults.settings"), changes
            )

    def service_enabled(self, account: str, service: str) -> bool:
        """A service works only if it is enabled for the domain AND the account."""
        _, domain = split_address(account)

        def allows(modes: Any) -> bool:
            if modes in (None, "All", "all"):
                return True
            if modes in ("None", "none"):
                return False
            items = modes if isinstance(modes, list | tuple) else str(modes).split(",")
            return service.lower() in {str(m).strip().lower() for m in items}

        return allows(
            self.domain_setting(domain or self.main_domain, "DomainAccessModes")
        ) and allows(self.setting(account, "AccessModes"))

    def account_info(self, account: str) -> dict[str, Any]:
        path = self.account_path(account)
        return dict(self.files.read(path / "account.info")) if path else {}

    def update_account_info(self, account: str, changes: dict[str, Any]) -> None:
        path = self.account_path(account)
        if path is None:
            raise ObjectError(f"account {account} does not exist")
        self.files.update(path / "account.info", changes)

    # -- passwords ---------------------------------------------------------------------------

    def _login_names(self, account: str) -> list[str]:
        name, domain = split_address(account)
        names = [name or "", account]
        for alias in self.aliases(account):
            names += [alias, f"{alias}@{domain}"]
        return names

    def _verifiers(self, account: str, password: str) -> dict[str, Any]:
        from unigate.passwords import make_verifiers

        _, domain = split_address(account)
        scheme = str(self.setting(account, "PasswordEncryption") or "U-crpt")
        encryption = {"clear": "clear", "A-crpt": "A-crpt"}.get(scheme, "hashed")
        key = self.server_key() if encryption == "A-crpt" else None
        verifiers = make_verifiers(
            password,
            names=self._login_names(account),
            realm=domain or self.main_domain,
            encryption=encryption,
            server_key=key,
        )
        return dict(verifiers)

    def set_password(self, account: str, password: str) -> None:
        path = self.account_path(account)
        if path is None:
            raise ObjectError(f"account {account} does not exist")
        self.files.update(path / "account.settings", self._verifiers(account, password))

    def server_key(self) -> bytes:
        """The server's secret for reversible password storage (made on first use, mode 0600)."""
        import os

        path = self.settings_dir / "ServerKey.bin"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = os.urandom(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
            return key

    # -- aliases, forwarders, groups -----------------------------------------------------------

    def aliases(self, account: str) -> list[str]:
        name, domain = split_address(account)
        if domain is None:
            return []
        table = self.files.read(self._domain_file(domain, "Aliases.data"))
        return sorted(k for k, v in table.items() if v == (name or "").lower())

    def add_alias(self, alias: str, account: str) -> None:
        alias_name, alias_domain = self._address(alias)
        target, domain = self._address(account)
        if alias_domain != domain:
            raise ObjectError("an alias must be in its account's domain")
        found = self.lookup(domain, target)
        if found is None or found.kind is not ObjectKind.ACCOUNT:
            raise ObjectError(f"account {target}@{domain} does not exist")
        name = object_name(alias_name, allow_unicode=True)
        self._check_free(name, domain)
        self.files.update(self._domain_file(domain, "Aliases.data"), {name: target})

    def remove_alias(self, alias: str) -> None:
        name, domain = self._address(alias)
        if name not in self.files.read(self._domain_file(domain, "Aliases.data")):
            raise ObjectError(f"{name}@{domain} is not an alias")
        self.files.update(self._domain_file(domain, "Aliases.data"), {name: None})

    def forwarders(self, domain: str | None = None) -> dict[str, str]:
        return dict(
            self.files.read(self._domain_file(self._require_domain(domain), "Forwarders.data"))
        )

    def add_forwarder(self, address: str, target: str) -> None:
        raw, domain = self._address(address)
        name = object_name(raw, allow_unicode=True)
        self._check_free(name, domain)
        if not target.strip():
            raise ObjectError("a forwarder needs a target address")
        self.files.update(self._domain_file(domain, "Forwarders.data"), {name: target.strip()})

    def remove_forwarder(self, address: str) -> None:
        name, domain = self._address(address)
        if name not in self.forwarders(domain):
            raise ObjectError(f"{name}@{domain} is not a forwarder")
        self.files.update(self._domain_file(domain, "Forwarders.data"), {name: None})

    def groups(self, domain: str | None = None) -> dict[str, dict[str, Any]]:
        return dict(self.files.read(self._domain_file(self._require_domain(domain), "Groups.data")))

    def add_group(
        self, address: str, members: list[str] | None = None, *, real_name: str = ""
    ) -> None:
        raw, domain = self._address(address)
        name = object_name(raw)
        self._check_free(name, domain)
        body: dict[str, Any] = {"Members": [self._member(m, domain) for m in members or []]}
        if real_name:
            body["RealName"] = real_name
        self.files.update(self._domain_file(domain, "Groups.data"), {name: body})

    def set_group_members(self, address: str, members: list[str]) -> None:
        name, domain = self._address(address)
        groups = self.groups(domain)
        if name not in groups:
            raise ObjectError(f"{name}@{domain} is not a group")
        body = dict(groups[name])
        body["Members"] = [self._member(m, domain) for m in members]
        self.files.update(self._domain_file(domain, "Groups.data"), {name: body})

    def remove_group(self, address: str) -> None:
        name, domain = self._address(address)
        if name not in self.groups(domain):
            raise ObjectError(f"{name}@{domain} is not a group")
        self.files.update(self._domain_file(domain, "Groups.data"), {name: None})

    @staticmethod
    def _member(member: str, domain: str) -> str:
        member = member.strip()
        return member if "@" in member else f"{member.lower()}@{domain}"

    def _drop_group_member(self, domain: str, member: str) -> None:
        groups = self.groups(domain)
        for name, body in groups.items():
            if member in body.get("Members", ()):
                self.set_group_members(
                    f"{name}@{domain}", [m for m in body["Members"] if m != member]
                )

    def _rename_group_member(self, domain: str, old: str, new: str) -> None:
        groups = self.groups(domain)
        for name, body in groups.items():
            if old in body.get("Members", ()):
                self.set_group_members(
                    f"{name}@{domain}", [new if m == old else m for m in body["Members"]]
                )

    def groups_of(self, account: str) -> set[str]:
        """Groups (``#name`` in ACLs) whose members include ``account``."""
        _, domain = split_address(account)
        if domain is None or self.canonical_domain(domain) is None:
            return set()
        return {
            name for name, body in self.groups(domain).items() if account in body.get("Members", ())
        }

    # -- access rights ------------------------------------------------------------------------

    def server_rights(self, account: str) -> list[str]:
        """Server access rights of a Main Domain account (``Master``, ``Settings``, ...)."""
        name, domain = split_address(account)
        if domain != self.main_domain:
            return []
        rights = self.files.read(self._domain_file(self.main_domain, "Access.settings")).get(
            name or "", ()
        )
        return [str(r) for r in rights]

    def grant_server_rights(self, account: str, rights: list[str]) -> None:
        name, domain = self._address(account)
        if domain != self.main_domain:
            raise ObjectError("server rights are for Main Domain accounts only")
        self.files.update(self._domain_file(domain, "Access.settings"), {name: list(rights)})

    def is_mailbox_admin(self, user: str) -> bool:
        """All-domains administrators have every mailbox right (the manual's rule)."""
        rights = self.server_rights(user)
        return "Master" in rights or "AllDomains" in rights

    # -- name resolution ------------------------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        """The canonical account a name refers to (``name``, ``name@domain``, ``name%domain``, aliases)."""
        local, domain = split_address(name)
        canonical = self.canonical_domain(domain or self.main_domain)
        ref = self.lookup(canonical, local) if canonical else None
        if ref is None or ref.kind not in (ObjectKind.ACCOUNT, ObjectKind.ALIAS):
            return None
        return f"{ref.name}@{canonical}"

    def resolve_login(self, login: str, *, local_ip: str | None = None) -> str | None:
        """Resolve a login name the manual's way (Account Access, L18050-18200).

        ``%`` means ``@``; a name without a domain takes the domain assigned to the local
        IP address the client connected to, else the Main Domain; domain aliases and
        account aliases resolve; only a local *account* may log in (not a forwarder or
        group). Returns ``name@domain`` or None.
        """
        local, domain = split_address(login)
        if not local:
            return None
        if domain is None and local_ip is not None:
            domain = self._domain_by_ip(local_ip)
        return self.resolve(f"{local}@{domain or self.main_domain}")

    def _domain_by_ip(self, ip: str) -> str | None:
        for domain in self.domains()[1:]:
            addresses = self.domain_setting(domain, "IPAddresses") or ()
            if ip in [str(a) for a in addresses]:
                return domain
        return None
