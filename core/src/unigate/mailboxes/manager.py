"""The mailbox manager: names, hierarchy, ACLs, quotas, subscriptions and open mailboxes.

Why: IMAP, POP, local delivery, XIMSS and DAV all work on the same mailboxes; this one
service applies the manual's rules (Mailboxes section) for all of them and opens each
mailbox through the format driver registered for its extension.

Where things are kept (inside the account's ``.macnt`` directory):

* mailboxes: see :mod:`unigate.mailboxes.names` (``a.folder/b.mslc``);
* ``account.info`` (the manual's volatile account file): ``#Subscription`` (the
  subscription list) and ``#MailboxAliases`` (alias name -> foreign mailbox name);
* ``account.mailboxes`` (ours): per mailbox name, ``ACL`` (identifier -> rights),
  ``Class`` and ``Locked``. Kept apart from the stores so that LIST over a foreign
  account never has to open a mailbox, and apart from ``account.info`` because ACLs
  must not be lost with a volatile file.

Every method is async (anyio); driver and file work runs on worker threads.

``account`` arguments are the account whose name space a mailbox name is read in (the
session's account); ``user`` is the authenticated identity (``name@domain``, or
:data:`~unigate.mailboxes.acl.GUEST`) whose rights are checked. A name may be foreign
(``~boss/INBOX``, ``~boss@other.dom/x``), special (``$Trash$``) or go through one of the
account's mailbox aliases.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import anyio.to_thread

from unigate_hookspecs.storage import RECORD_FLAGS, RECORD_SIZE, FormatDriver, NewMessage

from ..fsutil import fsync_dir
from ..objects.files import generation as _settings_generation
from . import names as _names
from .accounts import AccountDirectory
from .acl import (
    ALL_RIGHTS,
    apply_rights_change,
    effective_rights,
    normalize_identifier,
    normalize_rights,
)
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
    ChangeKind,
    MailboxCreated,
    MailboxDeleted,
    MailboxRenamed,
    MessagesChanged,
    SubscriptionChanged,
    WatchEvent,
)
from .flags import DELETED, SEEN, flag_key, normalize_flags, visible
from .names import INBOX, normalize_name, parent_of, split_extension
from .session import MailboxSession
from .shared import SharedMailbox
from .watch import MailboxWatch

__all__ = [
    "SPECIAL_MAILBOXES",
    "CannotDeleteInbox",
    "MailboxInfo",
    "MailboxLocation",
    "MailboxManager",
    "MailboxStatus",
    "QuotaInfo",
]

#: special name -> (account preference, name used when the preference is unset, SPECIAL-USE)
SPECIAL_MAILBOXES: dict[str, tuple[str, str, str | None]] = {
    "$Trash$": ("TrashBox", "Trash", "\\Trash"),
    "$Sent$": ("SentBox", "Sent", "\\Sent"),
    "$Drafts$": ("DraftsBox", "Drafts", "\\Drafts"),
    "$Junk$": ("JunkBox", "Junk", "\\Junk"),
    "$History$": ("HistoryBox", "History", None),
    "$Calendar$": ("CalendarBox", "Calendar", None),
    "$Tasks$": ("TasksBox", "Tasks", None),
    "$Contacts$": ("ContactsBox", "Contacts", None),
    "$Notes$": ("NotesBox", "Notes", None),
}

INFO_FILE = "account.info"
META_FILE = "account.mailboxes"
SUBSCRIPTION_KEY = "#Subscription"
ALIASES_KEY = "#MailboxAliases"
DEFAULT_FORMAT = "mslc"


class CannotDeleteInbox(MailboxError):
    """INBOX cannot be deleted (it can be renamed: a new empty INBOX is then created)."""


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """One LIST answer line.

    ``attributes``: ``\\Noselect``, ``\\HasChildren``/``\\HasNoChildren``, special-use
    (``\\Trash`` ``\\Sent`` ``\\Drafts`` ``\\Junk``), ``\\NonExistent`` (a subscribed name
    that does not exist), ``\\Subscribed``.
    """

    name: str
    attributes: frozenset[str]
    subscribed: bool
    mailbox_class: str | None = None


class QuotaInfo(NamedTuple):
    """Account storage: bytes used and limit, mailboxes and their limit (None = unlimited)."""

    used: int
    limit: int | None
    count: int
    count_limit: int | None


class MailboxLocation(NamedTuple):
    """Where a name leads: the owner account and the canonical mailbox name there.

    ``name`` is ``""`` when the name is an account itself (``~boss``).
    """

    owner: str
    name: str


class MailboxStatus(NamedTuple):
    """STATUS items, counted over the messages this user can see."""

    messages: int
    unseen: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int
    size: int


@dataclass(frozen=True, slots=True)
class _Target:
    owner: str
    name: str  # canonical; "" = the account itself (``~boss``)
    dir_only: bool = False
    extension: str | None = None


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _canonical_pattern(pattern: str) -> str:
    if pattern[:5].upper() == INBOX and (len(pattern) == 5 or pattern[5] in "/*%"):
        return INBOX + pattern[5:]
    return pattern


def _size_setting(value: object) -> int | None:
    """A size or count setting: an int, or text like ``30M``/``unlimited`` -> bytes or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text in ("", "unlimited", "default", "none"):
        return None
    factor = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}.get(text[-1], 1)
    number = text[:-1] if factor > 1 else text
    return int(float(number) * factor)


class MailboxManager:
    """The kernel's mailbox service. One per server; safe for many concurrent sessions."""

    def __init__(
        self,
        drivers: Mapping[str, FormatDriver],
        accounts: AccountDirectory,
        *,
        max_idle: int = 32,
    ) -> None:
        if not drivers:
            raise ValueError("no mailbox format driver")
        self._drivers = dict(drivers)
        self._accounts = accounts
        self._max_idle = max_idle
        self._shared: dict[tuple[str, str], SharedMailbox] = {}
        self._idle: OrderedDict[tuple[str, str], SharedMailbox] = OrderedDict()
        self._key_locks: dict[tuple[str, str], anyio.Lock] = {}
        self._account_locks: dict[str, anyio.Lock] = {}
        self._inbox_locks: dict[str, anyio.Lock] = {}
        self._usage: dict[str, dict[str, tuple[int, int]]] = {}
        self._usage_complete: set[str] = set()
        self._meta: dict[str, dict[str, dict[str, Any]]] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._last_uidvalidity = 0
        #: owner -> (read at, settings generation, MaxAccountSize, DelayNewMailPercent)
        self._quota_cache: dict[str, tuple[float, int, int | None, int]] = {}
        #: owner account -> the watches that want its events
        self._watches: dict[str, set[MailboxWatch]] = {}

    # =========================================================================
    # accounts, names, rights
    # =========================================================================

    def _root(self, owner: str) -> Path:
        path = self._accounts.account_path(owner)
        if path is None:
            raise NoSuchAccount(owner)
        return Path(path)

    def _lock_account(self, owner: str) -> anyio.Lock:
        return self._account_locks.setdefault(owner, anyio.Lock())

    def _foreign_account(self, spec: str, context: str) -> str:
        candidates = [spec] if "@" in spec else [f"{spec}@{context.partition('@')[2]}", spec]
        for cand in candidates:
            owner = self._accounts.resolve(cand)
            if owner is not None:
                return owner.lower()
        raise NoSuchAccount(spec)

    async def _resolve(self, account: str, name: str, *, allow_ext: bool = False) -> _Target:
        account = account.lower()
        for _ in range(8):
            if name.startswith("~"):
                spec, _, rest = name[1:].partition("/")
                owner = self._foreign_account(spec, account)
                if not rest:
                    return _Target(owner, "")
                account, name = owner, rest
                continue
            if name in SPECIAL_MAILBOXES:
                name = await self.special_name(account, name)
                continue
            first, sep, rest = name.partition("/")
            aliases = await self.aliases(account)
            if first in aliases:
                target = aliases[first]
                name = target + (("/" + rest) if sep and rest else ("/" if sep else ""))
                continue
            ext = None
            if allow_ext:
                name, ext = split_extension(name, self._drivers)
            canonical, dir_only = normalize_name(name)
            return _Target(account, canonical, dir_only, ext)
        raise InvalidMailboxName(f"mailbox alias loop at {name!r}")

    async def resolve_name(self, account: str, name: str) -> MailboxLocation:
        """Where ``name`` (read in ``account``'s name space) leads: owner and canonical name.

        Follows foreign names (``~boss/x``), special names and mailbox aliases, as
        every other method does; checks neither existence nor rights. Raises
        NoSuchAccount (unknown ``~account``) or InvalidMailboxName.
        """
        target = await self._resolve(account, name)
        return MailboxLocation(target.owner, target.name)

    async def special_name(self, account: str, special: str) -> str:
        """The real name of a special mailbox (``$Trash$``) for this account."""
        pref, default, _ = SPECIAL_MAILBOXES[special]
        value = self._accounts.setting(account.lower(), pref)
        return str(value) if value else default

    async def _meta_of(self, owner: str) -> dict[str, dict[str, Any]]:
        if owner not in self._meta:
            path = self._root(owner) / META_FILE

            def read() -> dict[str, dict[str, Any]]:
                from ..dataformat import read_file

                try:
                    value = read_file(path)
                except FileNotFoundError:
                    return {}
                return (
                    {str(k): dict(v) for k, v in value.items()} if isinstance(value, dict) else {}
                )

            meta = await anyio.to_thread.run_sync(read)
            self._meta.setdefault(owner, meta)
        return self._meta[owner]

    async def _save_meta(self, owner: str) -> None:
        path = self._root(owner) / META_FILE
        value = {k: v for k, v in self._meta.get(owner, {}).items() if v}

        def write() -> None:
            from ..dataformat import write_file

            write_file(path, value)

        await anyio.to_thread.run_sync(write)

    async def _info_of(self, owner: str) -> dict[str, Any]:
        if owner not in self._info:
            path = self._root(owner) / INFO_FILE

            def read() -> dict[str, Any]:
                from ..dataformat import DataFormatError, read_file

                try:
                    value = read_file(path)
                except (FileNotFoundError, DataFormatError):
                    return {}  # the manual: .info is volatile and survives corruption
                return dict(value) if isinstance(value, dict) else {}

            info = await anyio.to_thread.run_sync(read)
            self._info.setdefault(owner, info)
        return self._info[owner]

    async def _save_info(self, owner: str) -> None:
        path = self._root(owner) / INFO_FILE
        value = dict(self._info.get(owner, {}))

        def write() -> None:
            from ..dataformat import write_file

            write_file(path, value)

        await anyio.to_thread.run_sync(write)

    async def _rights(self, owner: str, name: str, user: str) -> str:
        user = user.lower()
        if user == owner or self._accounts.is_mailbox_admin(user, owner):
            return ALL_RIGHTS
        meta = await self._meta_of(owner)
        acl = meta.get(name, {}).get("ACL") or {}
        return effective_rights(acl, user, owner, lambda: self._accounts.groups_of(user))

    async def _may_create_in(self, owner: str, name: str, user: str) -> None:
        """The manual's foreign create rule: ``c`` on the parent, or the account's ``c``."""
        user = user.lower()
        if user == owner or self._accounts.is_mailbox_admin(user, owner):
            return
        parent = parent_of(name)
        if parent is None:
            if "c" not in self._accounts.account_rights(owner, user):
                raise PermissionDenied("c", "the CreateMailboxes account right is required")
        elif "c" not in await self._rights(owner, parent, user):
            raise PermissionDenied("c", f"the Create right on {parent!r} is required")

    # =========================================================================
    # disk scanning
    # =========================================================================

    async def _scan(self, owner: str) -> dict[str, _names.ScannedMailbox]:
        root = self._root(owner)
        found = await anyio.to_thread.run_sync(_names.scan, root, list(self._drivers))
        if INBOX not in found or found[INBOX].path is None:
            # INBOX always exists: make it on first use. Concurrent first uses (a delivery
            # and a login) must not both create it, hence a lock of its own (the account
            # lock may already be held by our caller).
            async with self._inbox_locks.setdefault(owner, anyio.Lock()):
                found = await anyio.to_thread.run_sync(_names.scan, root, list(self._drivers))
                if INBOX not in found or found[INBOX].path is None:
                    await self._create_storage(owner, INBOX, None)
                    found = await anyio.to_thread.run_sync(_names.scan, root, list(self._drivers))
        return found

    def _default_extension(self, owner: str) -> str:
        ext = self._accounts.setting(owner, "DefaultMailboxType")
        if ext:
            ext = str(ext).lstrip(".").lower()
            if ext not in self._drivers:
                raise InvalidMailboxName(f"no driver for the default mailbox format {ext!r}")
            return ext
        return DEFAULT_FORMAT if DEFAULT_FORMAT in self._drivers else next(iter(self._drivers))

    def _new_uidvalidity(self) -> int:
        value = max(int(time.time()), self._last_uidvalidity + 1)
        self._last_uidvalidity = value
        return value

    async def _create_storage(self, owner: str, name: str, ext: str | None) -> Path:
        root = self._root(owner)
        ext = ext or self._default_extension(owner)
        driver = self._drivers[ext]
        path = _names.storage_path(root, name, ext)
        uidvalidity = self._new_uidvalidity()

        def work() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            driver.create(path, uidvalidity)
            fsync_dir(path.parent)

        await anyio.to_thread.run_sync(work)
        self._usage.setdefault(owner, {})[name] = (0, 0)
        return path

    async def _storage(self, owner: str, name: str) -> _names.ScannedMailbox:
        found = await self._scan(owner)
        entry = found.get(name)
        if entry is None:
            raise NoSuchMailbox(name)
        if entry.path is None:
            raise NotSelectable(name)
        return entry

    # =========================================================================
    # shared stores
    # =========================================================================

    async def _acquire(self, owner: str, name: str) -> SharedMailbox:
        key = (owner, name)
        shared = self._shared.get(key)
        if shared is not None and not shared.dead:  # the hot path: already open, no await
            self._idle.pop(key, None)
            shared.refs += 1
            return shared
        lock = self._key_locks.setdefault(key, anyio.Lock())
        async with lock:
            shared = self._shared.get(key)
            if shared is None or shared.dead:
                entry = await self._storage(owner, name)
                assert entry.path is not None and entry.extension is not None
                shared = SharedMailbox(
                    owner,
                    name,
                    self._drivers[entry.extension],
                    entry.path,
                    self._set_usage,
                    self._messages_changed,
                )
                await shared.load()
                self._shared[key] = shared
            self._idle.pop(key, None)
            shared.refs += 1
            return shared

    async def _release(self, shared: SharedMailbox) -> None:
        shared.refs -= 1
        key = (shared.owner, shared.name)
        if shared.refs > 0:
            return
        if shared.dead or self._shared.get(key) is not shared:
            await shared.close()
            return
        self._idle[key] = shared
        while len(self._idle) > self._max_idle:
            old_key, old = self._idle.popitem(last=False)
            if self._shared.get(old_key) is old:
                del self._shared[old_key]
            await old.close()

    async def _forget(self, owner: str, prefix: str) -> None:
        """Close every shared store of ``prefix`` and its sub-mailboxes (delete, rename)."""
        for key, shared in list(self._shared.items()):
            if key[0] == owner and (key[1] == prefix or key[1].startswith(prefix + "/")):
                del self._shared[key]
                self._idle.pop(key, None)
                await shared.close(compact=False)

    async def aclose(self) -> None:
        """Close every open store (server shutdown)."""
        for key, shared in list(self._shared.items()):
            del self._shared[key]
            await shared.close()
        self._idle.clear()

    def _set_usage(self, owner: str, name: str, size: int, count: int) -> None:
        self._usage.setdefault(owner, {})[name] = (size, count)

    # =========================================================================
    # watches (account-wide change events)
    # =========================================================================

    def watch(
        self,
        account: str,
        user: str,
        *,
        owners: Iterable[str] = (),
        origin: object | None = None,
        limit: int = 1000,
    ) -> MailboxWatch:
        """Subscribe to the change events of ``account``'s mailboxes (and of ``owners``').

        Returns a :class:`~unigate.mailboxes.watch.MailboxWatch` whose events are
        :data:`~unigate.mailboxes.events.WatchEvent` values: new, expunged and changed
        messages of any mailbox (not only an open one), and mailboxes created,
        deleted, renamed and (un)subscribed. Changes made with ``origin`` (the same
        object given to :meth:`open`, :meth:`create` ...) are not reported to it.
        Events about another account's mailbox names are reported only when ``user``
        has the ``l`` right there; gaining or losing ``l`` through an ACL change is
        reported as a create or a delete. Past ``limit`` queued events the watch
        overflows (see :mod:`.watch`). Close it when done.
        """
        return MailboxWatch(
            self, account=account, user=user, owners=owners, origin=origin, limit=limit
        )

    def _rewatch(self, watch: MailboxWatch, old: frozenset[str], new: frozenset[str]) -> None:
        for owner in old - new:
            watches = self._watches.get(owner)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[owner]
        for owner in new - old:
            self._watches.setdefault(owner, set()).add(watch)

    def _emit(self, owner: str, event: WatchEvent) -> None:
        for watch in list(self._watches.get(owner, ())):
            watch._push(event)

    def _messages_changed(
        self, owner: str, name: str, kind: ChangeKind, origin: object | None
    ) -> None:
        if owner in self._watches:
            self._emit(owner, MessagesChanged(owner, name, kind, origin))

    async def _name_watchers(self, owner: str, name: str) -> list[MailboxWatch]:
        """The watches of ``owner`` whose user may look ``name`` up (``l``) right now."""
        out = []
        for watch in list(self._watches.get(owner, ())):
            if watch.user == owner or "l" in await self._rights(owner, name, watch.user):
                out.append(watch)
        return out

    async def _emit_names(
        self, owner: str, events: Iterable[MailboxCreated | MailboxRenamed]
    ) -> None:
        """Push name events (created / renamed) to the watches that may see them now."""
        if owner not in self._watches:
            return
        for event in events:
            name = event.new if isinstance(event, MailboxRenamed) else event.name
            for watch in await self._name_watchers(owner, name):
                watch._push(event)

    # =========================================================================
    # quota
    # =========================================================================

    async def _account_usage(self, owner: str) -> tuple[int, int]:
        """(bytes used, number of storage mailboxes), loading unknown mailboxes once."""
        found = await self._scan(owner)
        usage = self._usage.setdefault(owner, {})
        for gone in [n for n in usage if n not in found or found[n].path is None]:
            del usage[gone]
        if owner not in self._usage_complete:
            for name, entry in found.items():
                if entry.path is not None and name not in usage:
                    shared = await self._acquire(owner, name)
                    await self._release(shared)
            self._usage_complete.add(owner)
        storage = [n for n, e in found.items() if e.path is not None]
        return sum(usage.get(n, (0, 0))[0] for n in storage), len(storage)

    async def quota(self, account: str) -> QuotaInfo:
        """Storage used and limits of ``account`` (its own mailboxes)."""
        owner = account.lower()
        used, count = await self._account_usage(owner)
        return QuotaInfo(
            used,
            _size_setting(self._accounts.setting(owner, "MaxAccountSize")),
            count,
            _size_setting(self._accounts.setting(owner, "MaxMailboxes")),
        )

    def _quota_limits(self, owner: str) -> tuple[int | None, int]:
        """(MaxAccountSize, DelayNewMailPercent) of ``owner``, re-read at most once a second.

        Every delivery checks the quota; reading three settings files (and stat-ing the
        account directory) per message was a measurable part of the delivery path. A
        limit changed by another process applies within a second, one changed in this
        process at once (the settings generation).
        """
        now = time.monotonic()
        current = _settings_generation()
        cached = self._quota_cache.get(owner)
        if cached is not None and cached[1] == current and now - cached[0] < 1.0:
            return cached[2], cached[3]
        limit = _size_setting(self._accounts.setting(owner, "MaxAccountSize"))
        percent = self._accounts.setting(owner, "DelayNewMailPercent")
        percent = 100 if percent is None else int(percent)  # type: ignore[call-overload]
        if len(self._quota_cache) > 4096:
            self._quota_cache.clear()
        self._quota_cache[owner] = (now, current, limit, percent)
        return limit, percent

    async def _check_quota(self, owner: str, size: int) -> None:
        limit, percent = self._quota_limits(owner)
        if limit is None:
            return
        if size > limit:
            raise QuotaExceeded(False, "the message is larger than the account storage limit")
        used, _ = await self._account_usage(owner)
        if (used + size) * 100 > limit * percent:
            raise QuotaExceeded(True, "the account is over its storage quota")

    # =========================================================================
    # listing
    # =========================================================================

    async def _visible_names(
        self, owner: str, user: str, found: dict[str, _names.ScannedMailbox]
    ) -> dict[str, _names.ScannedMailbox]:
        user = user.lower()
        if user == owner or self._accounts.is_mailbox_admin(user, owner):
            return found
        visible = {}
        for name, entry in found.items():
            if "l" in await self._rights(owner, name, user):
                visible[name] = entry
        # ancestors of a visible name appear as non-selectable names
        for name in list(visible):
            parent = parent_of(name)
            while parent is not None and parent not in visible:
                visible[parent] = _names.ScannedMailbox(parent, None, None, True)
                parent = parent_of(parent)
        return visible

    async def list(
        self,
        account: str,
        user: str,
        pattern: str = "*",
        *,
        subscribed_only: bool = False,
    ) -> list[MailboxInfo]:
        """Mailbox names matching the IMAP ``pattern`` (``*`` and ``%`` wildcards).

        The account's own mailboxes and its mailbox aliases; with a pattern starting with
        ``~acct/``, the mailboxes of that account the user may look up (``l``). Special
        names (``$Trash$``) are never listed. ``subscribed_only`` lists subscribed names
        (LSUB), marking those that do not exist ``\\NonExistent``.
        """
        account = account.lower()
        pattern = _canonical_pattern(pattern)
        entries: dict[str, tuple[frozenset[str], str | None]] = {}
        if pattern.startswith("~"):
            spec, _, rest = pattern[1:].partition("/")
            if any(c in spec for c in "*%"):
                raise InvalidMailboxName("wildcards in the account part are not supported")
            owner = self._foreign_account(spec, account)
            await self._add_listing(entries, owner, user, f"~{spec}/", "")
        else:
            await self._add_listing(entries, account, user, "", "")
            aliases = await self.aliases(account)
            for alias, target in aliases.items():
                try:
                    t = await self._resolve(account, target)
                except MailboxError:
                    continue
                await self._add_listing(entries, t.owner, user, alias + "/", t.name, alias=alias)
        specials = await self._special_uses(account)
        subs = set(await self.subscriptions(account))
        rx = _pattern_regex(pattern)
        out = []
        names = sorted(subs) if subscribed_only else sorted(entries)
        for name in names:
            if not rx.match(name):
                continue
            if name not in entries and name.startswith("~"):
                await self._add_foreign_subscription(entries, account, user, name)
            attrs, cls = entries.get(name, (frozenset({"\\NonExistent"}), None))
            extra = {"\\Subscribed"} if name in subs else set()
            if name in specials:
                extra.add(specials[name])
            out.append(MailboxInfo(name, attrs | extra, name in subs, cls))
        return out

    async def _add_listing(
        self,
        entries: dict[str, tuple[frozenset[str], str | None]],
        owner: str,
        user: str,
        prefix: str,
        base: str,
        *,
        alias: str | None = None,
    ) -> None:
        try:
            found = await self._scan(owner)
        except NoSuchAccount:
            return
        visible = await self._visible_names(owner, user, found)
        meta = await self._meta_of(owner)
        if alias is not None:
            # an alias is listed itself, then the target's sub-mailboxes under it
            if base:
                entry = visible.get(base)
                if entry is None:
                    return
                sub = {
                    n[len(base) + 1 :]: e for n, e in visible.items() if n.startswith(base + "/")
                }
                attrs = {"\\HasChildren" if sub else "\\HasNoChildren"}
                if entry.path is None:
                    attrs.add("\\Noselect")
                entries[alias] = (frozenset(attrs), meta.get(base, {}).get("Class"))
                base_prefix = base + "/"
            else:
                sub = visible
                entries[alias] = (frozenset({"\\Noselect", "\\HasChildren"}), None)
                base_prefix = ""
            for rel, entry in sub.items():
                full = base_prefix + rel
                entries[prefix + rel] = self._attrs(full, entry, visible, meta)
            return
        for name, entry in visible.items():
            entries[prefix + name] = self._attrs(name, entry, visible, meta)

    async def _add_foreign_subscription(
        self,
        entries: dict[str, tuple[frozenset[str], str | None]],
        account: str,
        user: str,
        name: str,
    ) -> None:
        """Give a subscribed foreign name its real attributes when the user can see it."""
        try:
            target = await self._resolve(account, name)
            if not target.name:
                return
            found = await self._scan(target.owner)
            visible = await self._visible_names(target.owner, user, found)
            entry = visible.get(target.name)
            if entry is not None:
                meta = await self._meta_of(target.owner)
                entries[name] = self._attrs(target.name, entry, visible, meta)
        except MailboxError:
            return

    @staticmethod
    def _attrs(
        name: str,
        entry: _names.ScannedMailbox,
        visible: Mapping[str, _names.ScannedMailbox],
        meta: Mapping[str, Mapping[str, Any]],
    ) -> tuple[frozenset[str], str | None]:
        children = any(n.startswith(name + "/") for n in visible)
        attrs = {"\\HasChildren" if children else "\\HasNoChildren"}
        if entry.path is None:
            attrs.add("\\Noselect")
        cls = meta.get(name, {}).get("Class")
        return frozenset(attrs), (str(cls) if cls else None)

    async def _special_uses(self, account: str) -> dict[str, str]:
        out = {}
        for special, (_, _, use) in SPECIAL_MAILBOXES.items():
            if use is not None:
                out[await self.special_name(account, special)] = use
        return out

    # =========================================================================
    # create, delete, rename
    # =========================================================================

    async def create(
        self,
        account: str,
        name: str,
        user: str,
        *,
        mailbox_class: str | None = None,
        origin: object | None = None,
    ) -> str:
        """Create a mailbox; returns its canonical name.

        ``name.ext`` chooses the format ``ext``; ``name/`` creates the directory entity only.
        Missing parents are created as directory entities. A new mailbox copies its
        parent's ACL. Foreign create needs ``c`` on the parent (the account's ``c`` right at
        the top level). Raises MailboxExists, PermissionDenied, QuotaExceeded (mailbox count).
        Watches hear of the new name and of each parent made with it (``origin``: see
        :meth:`watch`).
        """
        target = await self._resolve(account, name, allow_ext=True)
        owner, cname = target.owner, target.name
        if not cname:
            raise InvalidMailboxName("an account is not a mailbox")
        async with self._lock_account(owner):
            found = await self._scan(owner)
            entry = found.get(cname)
            if entry is not None and (entry.path is not None or target.dir_only):
                raise MailboxExists(cname)
            await self._may_create_in(owner, cname, user)
            meta = await self._meta_of(owner)
            parent = parent_of(cname)
            if target.dir_only:
                folder = _names.folder_path(self._root(owner), cname)
                await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
            else:
                count_limit = _size_setting(self._accounts.setting(owner, "MaxMailboxes"))
                count = sum(1 for e in found.values() if e.path is not None)
                if count_limit is not None and count >= count_limit:
                    raise QuotaExceeded(False, "the account mailbox limit is reached")
                await self._create_storage(owner, cname, target.extension)
            changed = False
            if cname not in meta and parent is not None and meta.get(parent, {}).get("ACL"):
                meta[cname] = {"ACL": dict(meta[parent]["ACL"])}
                changed = True
            if mailbox_class:
                meta.setdefault(cname, {})["Class"] = mailbox_class
                changed = True
            if changed:
                await self._save_meta(owner)
            new_names = [cname]
            ancestor = parent
            while ancestor is not None and ancestor not in found:
                new_names.append(ancestor)
                ancestor = parent_of(ancestor)
            # (a directory entity that becomes a mailbox is reported too: it is now selectable)
            await self._emit_names(
                owner, [MailboxCreated(owner, n, origin) for n in reversed(new_names)]
            )
        return cname

    async def delete(
        self,
        account: str,
        name: str,
        user: str,
        *,
        recursive: bool = False,
        origin: object | None = None,
    ) -> None:
        """Delete a mailbox.

        Without ``recursive`` (IMAP): a mailbox with sub-mailboxes loses its messages and
        stays as a non-selectable name; a non-selectable name with sub-mailboxes cannot be
        deleted. With ``recursive`` the sub-mailboxes go too (their Locked attribute does
        not stop it). INBOX cannot be deleted; a Locked mailbox cannot be deleted. Foreign
        delete needs ``c`` on the parent and ``d`` on the mailbox. Watches that could see
        the names hear of each deleted one (``origin``: see :meth:`watch`).
        """
        target = await self._resolve(account, name)
        owner, cname = target.owner, target.name
        if cname == INBOX:
            raise CannotDeleteInbox("INBOX cannot be deleted")
        if not cname:
            raise InvalidMailboxName("an account is not a mailbox")
        async with self._lock_account(owner):
            found = await self._scan(owner)
            entry = found.get(cname)
            if entry is None:
                raise NoSuchMailbox(cname)
            rights = await self._rights(owner, cname, user)
            if "l" not in rights and "r" not in rights:
                raise NoSuchMailbox(cname)
            await self._may_create_in(owner, cname, user)
            if "d" not in rights:
                raise PermissionDenied("d")
            meta = await self._meta_of(owner)
            if meta.get(cname, {}).get("Locked"):
                raise MailboxLocked(cname)
            children = [n for n in found if n.startswith(cname + "/")]
            if children and not recursive and (entry.path is None or target.dir_only):
                raise MailboxHasChildren(f"{cname!r} has sub-mailboxes")
            if target.dir_only and entry.path is not None and not children:
                # "name/" names only the directory entity: remove just that
                folder = _names.folder_path(self._root(owner), cname)
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
                return
            victims = [cname] + (children if recursive else [])
            told = [(v, await self._name_watchers(owner, v)) for v in victims]
            if recursive:
                await self._forget(owner, cname)
            else:
                await self._forget_one(owner, cname)
            usage = self._usage.setdefault(owner, {})

            def work() -> None:
                for victim in victims:
                    e = found[victim]
                    if e.path is not None and e.extension is not None:
                        self._drivers[e.extension].remove(e.path)
                folder = _names.folder_path(self._root(owner), cname)
                if recursive or not children:
                    shutil.rmtree(folder, ignore_errors=True)
                fsync_dir(folder.parent)

            await anyio.to_thread.run_sync(work)
            for victim in victims:
                usage.pop(victim, None)
                if recursive or not children:
                    meta.pop(victim, None)
            await self._save_meta(owner)
            for victim, watches in sorted(told, key=lambda vw: vw[0], reverse=True):
                for watch in watches:
                    watch._push(MailboxDeleted(owner, victim, origin))

    async def _forget_one(self, owner: str, name: str) -> None:
        shared = self._shared.pop((owner, name), None)
        self._idle.pop((owner, name), None)
        if shared is not None:
            await shared.close(compact=False)

    async def rename(
        self, account: str, old: str, new: str, user: str, *, origin: object | None = None
    ) -> str:
        """Rename a mailbox and its sub-mailboxes; returns the new canonical name.

        Renaming INBOX moves its messages to ``new`` and creates a new empty INBOX (its
        sub-mailboxes stay). Locked mailboxes cannot be renamed. Foreign rename needs
        ``c`` on the old parent, ``d`` on the mailbox and ``c`` on the new parent.
        Sessions that have the mailbox open see it disappear. Watches hear of every
        name moved (and of the new INBOX); ``origin``: see :meth:`watch`.
        """
        src = await self._resolve(account, old)
        dst = await self._resolve(account, new)
        owner = src.owner
        if dst.owner != owner:
            raise InvalidMailboxName("a mailbox cannot be renamed into another account")
        if not src.name or not dst.name or dst.dir_only:
            raise InvalidMailboxName("bad rename")
        if dst.name == src.name or dst.name.startswith(src.name + "/"):
            raise InvalidMailboxName("a mailbox cannot be renamed into itself")
        async with self._lock_account(owner):
            found = await self._scan(owner)
            entry = found.get(src.name)
            if entry is None:
                raise NoSuchMailbox(src.name)
            if dst.name in found:
                raise MailboxExists(dst.name)
            rights = await self._rights(owner, src.name, user)
            if "l" not in rights and "r" not in rights:
                raise NoSuchMailbox(src.name)
            await self._may_create_in(owner, src.name, user)
            if "d" not in rights:
                raise PermissionDenied("d")
            await self._may_create_in(owner, dst.name, user)
            meta = await self._meta_of(owner)
            if meta.get(src.name, {}).get("Locked"):
                raise MailboxLocked(src.name)
            inbox = src.name == INBOX
            root = self._root(owner)
            if inbox:
                await self._forget_one(owner, INBOX)
            else:
                await self._forget(owner, src.name)

            def work() -> None:
                if entry.path is not None and entry.extension is not None:
                    driver = self._drivers[entry.extension]
                    target = _names.storage_path(root, dst.name, entry.extension)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    extras = driver.sidecars(entry.path)
                    os.rename(entry.path, target)
                    for extra in extras:
                        if extra.exists():
                            os.rename(
                                extra,
                                target.parent / (target.name + extra.name[len(entry.path.name) :]),
                            )
                    fsync_dir(target.parent)
                if not inbox:
                    folder = _names.folder_path(root, src.name)
                    if folder.exists():
                        new_folder = _names.folder_path(root, dst.name)
                        new_folder.parent.mkdir(parents=True, exist_ok=True)
                        os.rename(folder, new_folder)
                        fsync_dir(new_folder.parent)
                fsync_dir(entry.path.parent if entry.path is not None else root)

            await anyio.to_thread.run_sync(work)
            usage = self._usage.setdefault(owner, {})
            moved = (
                [src.name]
                if inbox
                else [n for n in found if n == src.name or n.startswith(src.name + "/")]
            )
            for n in moved:
                newn = dst.name + n[len(src.name) :]
                if n in usage:
                    usage[newn] = usage.pop(n)
                if n in meta:
                    meta[newn] = meta.pop(n) if not inbox else dict(meta[n])
            await self._save_meta(owner)
            if inbox:
                await self._create_storage(owner, INBOX, None)
            renamed: list[MailboxCreated | MailboxRenamed] = [
                MailboxRenamed(owner, n, dst.name + n[len(src.name) :], origin)
                for n in sorted(moved, key=len)
            ]
            if inbox:
                renamed.append(MailboxCreated(owner, INBOX, origin))
            await self._emit_names(owner, renamed)
        return dst.name

    async def set_locked(self, account: str, name: str, locked: bool) -> None:
        """Set the Locked attribute (an administrator's operation: no rights checked)."""
        target = await self._resolve(account, name)
        async with self._lock_account(target.owner):
            found = await self._scan(target.owner)
            if target.name not in found:
                raise NoSuchMailbox(target.name)
            meta = await self._meta_of(target.owner)
            entry = meta.setdefault(target.name, {})
            if locked:
                entry["Locked"] = "YES"
            else:
                entry.pop("Locked", None)
            await self._save_meta(target.owner)

    async def set_class(
        self, account: str, name: str, user: str, mailbox_class: str | None
    ) -> None:
        """Set or clear the mailbox Class (needs ``a``)."""
        target = await self._resolve(account, name)
        async with self._lock_account(target.owner):
            await self._existing(target, user, "a")
            meta = await self._meta_of(target.owner)
            entry = meta.setdefault(target.name, {})
            if mailbox_class:
                entry["Class"] = mailbox_class
            else:
                entry.pop("Class", None)
            await self._save_meta(target.owner)

    async def mailbox_class(self, account: str, name: str, user: str) -> str | None:
        """The mailbox Class attribute (None = e-mail)."""
        target = await self._resolve(account, name)
        await self._existing(target, user, "l")
        meta = await self._meta_of(target.owner)
        cls = meta.get(target.name, {}).get("Class")
        return str(cls) if cls else None

    async def _existing(self, target: _Target, user: str, right: str) -> str:
        """Check that the name exists and ``user`` holds ``right``; return the rights."""
        if not target.name:
            raise InvalidMailboxName("an account is not a mailbox")
        found = await self._scan(target.owner)
        rights = await self._rights(target.owner, target.name, user)
        if target.name not in found or not (set(rights) & set("lr")):
            raise NoSuchMailbox(target.name)
        if right not in rights:
            raise PermissionDenied(right)
        return rights

    # =========================================================================
    # ACL
    # =========================================================================

    async def get_acl(self, account: str, name: str, user: str) -> dict[str, str]:
        """The mailbox ACL (needs ``a``). The owner's implicit full rights are not listed."""
        target = await self._resolve(account, name)
        await self._existing(target, user, "a")
        meta = await self._meta_of(target.owner)
        return dict(meta.get(target.name, {}).get("ACL") or {})

    async def set_acl(
        self,
        account: str,
        name: str,
        user: str,
        identifier: str,
        rights: str | None,
        *,
        origin: object | None = None,
    ) -> None:
        """Set one ACL entry (needs ``a``). ``rights``: letters, ``+``/``-`` letters to
        add/remove, or None/"" to delete the entry. A watch whose user gains or loses
        the ``l`` right hears of it as a create or a delete of the name."""
        target = await self._resolve(account, name)
        ident = normalize_identifier(identifier)
        async with self._lock_account(target.owner):
            await self._existing(target, user, "a")
            meta = await self._meta_of(target.owner)
            acl = dict(meta.get(target.name, {}).get("ACL") or {})
            try:
                new = apply_rights_change(acl.get(ident, ""), rights) if rights else ""
            except ValueError as exc:
                raise InvalidMailboxName(str(exc)) from None
            watches = [w for w in self._watches.get(target.owner, ()) if w.user != target.owner]
            before = [
                ("l" in await self._rights(target.owner, target.name, w.user)) for w in watches
            ]
            if new:
                acl[ident] = normalize_rights(new)
            else:
                acl.pop(ident, None)
            meta.setdefault(target.name, {})["ACL"] = acl
            await self._save_meta(target.owner)
            for watch, had in zip(watches, before, strict=True):
                has = "l" in await self._rights(target.owner, target.name, watch.user)
                if has != had:
                    cls = MailboxCreated if has else MailboxDeleted
                    watch._push(cls(target.owner, target.name, origin))

    async def my_rights(self, account: str, name: str, user: str) -> str:
        """The user's rights on the mailbox (NoSuchMailbox if it has none at all)."""
        target = await self._resolve(account, name)
        found = await self._scan(target.owner)
        rights = await self._rights(target.owner, target.name, user)
        if target.name not in found or not rights:
            raise NoSuchMailbox(target.name)
        return rights

    # =========================================================================
    # subscriptions and aliases
    # =========================================================================

    async def subscriptions(self, account: str) -> list[str]:
        info = await self._info_of(account.lower())
        subs = info.get(SUBSCRIPTION_KEY) or []
        return [str(s) for s in subs] if isinstance(subs, list) else []

    @staticmethod
    def _subscription_name(name: str) -> str:
        if name.startswith("~"):
            return name.rstrip("/")
        return normalize_name(name)[0]

    async def subscribe(self, account: str, name: str, *, origin: object | None = None) -> None:
        """Add ``name`` to the account's subscription list (existence is not required)."""
        owner = account.lower()
        sub = self._subscription_name(name)
        async with self._lock_account(owner):
            info = await self._info_of(owner)
            subs = [str(s) for s in info.get(SUBSCRIPTION_KEY) or []]
            if sub not in subs:
                subs.append(sub)
                info[SUBSCRIPTION_KEY] = subs
                await self._save_info(owner)
                self._emit(owner, SubscriptionChanged(owner, sub, True, origin))

    async def unsubscribe(self, account: str, name: str, *, origin: object | None = None) -> None:
        owner = account.lower()
        sub = self._subscription_name(name)
        async with self._lock_account(owner):
            info = await self._info_of(owner)
            subs = [str(s) for s in info.get(SUBSCRIPTION_KEY) or []]
            if sub in subs:
                subs.remove(sub)
                info[SUBSCRIPTION_KEY] = subs
                await self._save_info(owner)
                self._emit(owner, SubscriptionChanged(owner, sub, False, origin))

    async def aliases(self, account: str) -> dict[str, str]:
        """The account's mailbox aliases: alias name -> target (``~acct`` or ``~acct/box``)."""
        try:
            info = await self._info_of(account.lower())
        except NoSuchAccount:
            return {}
        value = info.get(ALIASES_KEY) or {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    async def set_alias(self, account: str, alias: str, target: str | None) -> None:
        """Create, change (``target``) or remove (None) a top-level mailbox alias."""
        owner = account.lower()
        if not alias or "/" in alias or alias.upper() == INBOX or alias.startswith(("~", "$")):
            raise InvalidMailboxName("a mailbox alias is a top-level name")
        if target is not None and not target.startswith("~"):
            raise InvalidMailboxName("a mailbox alias points to a foreign name (~account/...)")
        async with self._lock_account(owner):
            info = await self._info_of(owner)
            value = dict(info.get(ALIASES_KEY) or {})
            if target is None:
                value.pop(alias, None)
            else:
                value[alias] = target
            info[ALIASES_KEY] = value
            await self._save_info(owner)

    # =========================================================================
    # status, open, deliver
    # =========================================================================

    async def status(self, account: str, name: str, user: str) -> MailboxStatus:
        """Counters of a mailbox (needs ``r``), over the messages the user may see."""
        target = await self._resolve(account, name)
        rights = await self._existing(target, user, "r")
        shared = await self._acquire(target.owner, target.name)
        try:
            see_hidden = user.lower() == target.owner or "a" in rights
            return _status_of(shared, see_hidden)
        finally:
            await self._release(shared)

    async def open(
        self,
        account: str,
        name: str,
        *,
        user: str,
        readonly: bool = False,
        service_visible: bool = False,
        origin: object | None = None,
        view: bool = True,
    ) -> MailboxSession:
        """Open (select) a mailbox for a session (needs ``r``). Close the session when done.

        ``origin``: an object standing for the client (an IMAP session); the changes
        made through this session are reported to watches as coming from it, so a
        watch created with the same ``origin`` skips them.

        ``view=False`` is for a session that only appends (IMAP APPEND to a mailbox
        that is not selected): building the view costs O(messages) per open, so
        filling a 100,000-message mailbox that way was quadratic. Such a session's
        view, if it is used after all, starts from the mailbox as it is then.
        """
        target = await self._resolve(account, name)
        rights = await self._existing(target, user, "r")
        shared = await self._acquire(target.owner, target.name)
        session = MailboxSession(
            self,
            shared,
            account=account.lower(),
            name=name,
            user=user.lower(),
            rights=rights,
            readonly=readonly,
            service_visible=service_visible,
            view=view,
        )
        session.origin = origin
        shared.sessions.add(session)
        return session

    async def deliver(
        self,
        account: str,
        name: str,
        data: bytes,
        flags: Iterable[str] = (),
        internal_date: int | None = None,
        *,
        create: bool = False,
    ) -> int:
        """Store a message (local delivery, rules): no ACL check, quota checked.

        ``create``: make the mailbox if missing (a rule's plain "Store in"). Returns the
        UID. Raises QuotaExceeded(temporary) -- temporary when the message would fit in
        an empty account.
        """
        target = await self._resolve(account, name)
        if not target.name:
            raise InvalidMailboxName("an account is not a mailbox")
        await self._check_quota(target.owner, len(data))
        try:
            shared = await self._acquire(target.owner, target.name)
        except NoSuchMailbox:
            if not create:
                raise
            await self.create(target.owner, target.name, target.owner)
            shared = await self._acquire(target.owner, target.name)
        try:
            msg = NewMessage(
                data,
                normalize_flags(flags),
                int(time.time()) if internal_date is None else internal_date,
            )
            (rec,) = await shared.append([msg])
            return rec.uid
        finally:
            await self._release(shared)

    async def _copy_from(
        self, session: MailboxSession, uids: list[int], dest: str
    ) -> dict[int, int]:
        target = await self._resolve(session.account, dest)
        rights = await self._existing(target, session.user, "i")
        pairs = await session._read_for_copy(uids)
        if not pairs:
            return {}
        await self._check_quota(target.owner, sum(len(d) for _, d in pairs))
        allowed = {"s": {flag_key(SEEN)}, "d": {flag_key(DELETED)}}

        def keep(f: str) -> bool:
            for right, keys in allowed.items():
                if flag_key(f) in keys:
                    return right in rights
            return "w" in rights

        msgs = [
            NewMessage(data, frozenset(f for f in rec.flags if keep(f)), rec.internal_date)
            for rec, data in pairs
        ]
        shared = await self._acquire(target.owner, target.name)
        try:
            records = await shared.append(msgs, origin=None, actor=session.origin)
        finally:
            await self._release(shared)
        return {rec.uid: new.uid for (rec, _), new in zip(pairs, records, strict=True)}


def _status_of(shared: SharedMailbox, see_hidden: bool) -> MailboxStatus:
    """STATUS counters over the messages visible to a user, worked out per distinct
    flag set (`SharedMailbox.flag_counts`): no Python code per message unless hidden
    messages must be left out of the size."""
    counts = shared.flag_counts()
    shown = {f: visible(f, see_hidden=see_hidden) for f in counts}
    messages = sum(n for f, n in counts.items() if shown[f])
    seen = flag_key(SEEN)
    unseen = sum(n for f, n in counts.items() if shown[f] and seen not in {flag_key(x) for x in f})
    if all(shown.values()):
        size = shared.size
    else:
        records = shared.records.values()
        size = sum(
            map(RECORD_SIZE, compress(records, map(shown.__getitem__, map(RECORD_FLAGS, records))))
        )
    return MailboxStatus(
        messages, unseen, shared.uidnext, shared.uidvalidity, shared.highestmodseq, size
    )
