"""NOTIFY (RFC 5465): what the client asked to hear about, and telling it between commands.

Why a module of its own: NOTIFY changes *when* the session speaks. Without it, changes
to the selected mailbox are announced only with a command's response (RFC 9051
§7.5.1); with it, the session also writes while it waits for the next command (and
during IDLE), and it reports on mailboxes that are not selected -- untagged ``STATUS``
for their messages, ``LIST`` for names created, deleted, renamed or (un)subscribed.

Where the events come from: the selected mailbox's `MailboxSession` (as for IDLE) and
one kernel :class:`~unigate.api.mailboxes.MailboxWatch` per session for everything
else. The watch is bounded; when it overflows the session says
``* OK [NOTIFICATIONOVERFLOW]`` and behaves as after ``NOTIFY NONE`` (§5.8).

Choices where RFC 5465 leaves room (also in the README):

* An event is reported for a mailbox when, among the groups whose filter covers the
  mailbox, the first one that names the event or says NONE names it: groups add up,
  and a NONE group excludes what follows it, so ``(MAILBOXES Junk NONE) (PERSONAL
  (MessageNew MessageExpunge))`` means "all but Junk".
* ``INBOXES`` is ``PERSONAL``: account rules may store into any mailbox (§6.3).
* After the first NOTIFY, the selected mailbox gets only the events its SELECTED /
  SELECTED-DELAYED group names: none at all when the group is missing, ``NONE``, or
  after ``NOTIFY NONE`` (§3.1, §5: a snapshot).
* STATUS carries MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and HIGHESTMODSEQ once CONDSTORE
  is on; one identical to the last one sent for that mailbox is not sent again.
* Changes the session made itself are not reported back (§5 SHOULD).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register
from .state import State

__all__ = ["SUPPORTED_EVENTS", "NotifyState", "deliver", "pump", "wait_for_events"]

SEP = "/"
#: the events this server can report (BADEVENT lists them, §3.1)
SUPPORTED_EVENTS = (
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
)
_MESSAGE = frozenset({"MessageNew", "MessageExpunge", "FlagChange"})
_KIND_EVENT = {
    mb.ChangeKind.NEW: "MessageNew",
    mb.ChangeKind.EXPUNGE: "MessageExpunge",
    mb.ChangeKind.FLAGS: "FlagChange",
}
#: seconds one report may take (writing to a client that does not read blocks)
_DELIVERY_DEADLINE = 60.0
#: STATUS values remembered per mailbox (to skip repeating an identical STATUS)
_REMEMBERED = 4096

Place = tuple[str, str, str]  # (owner, canonical name, the client's name for it)


@dataclass(frozen=True, slots=True)
class SelectedEvents:
    """The SELECTED / SELECTED-DELAYED group: message events of the selected mailbox."""

    delayed: bool
    flags: bool
    fetch_attributes: tuple[p.FetchAtt, ...] = ()


@dataclass(slots=True)
class Filter:
    """One event group for other mailboxes, its names resolved to ``(owner, name)``."""

    kind: str
    events: frozenset[str]
    places: list[Place] = field(default_factory=list)


class NotifyState:
    """The registered NOTIFY of one session (``s.notify``; None before the first NOTIFY)."""

    def __init__(self, selected: SelectedEvents | None, filters: list[Filter]) -> None:
        #: None: the selected mailbox gets no message events at all (a snapshot)
        self.selected = selected
        self.filters = filters
        self.watch: Any = None
        #: resolved subscriptions, when a SUBSCRIBED filter needs them
        self.subscribed: dict[tuple[str, str], str] = {}
        self.last_status: OrderedDict[tuple[str, str], tuple[int, ...]] = OrderedDict()

    @property
    def active(self) -> bool:
        """True when something may be reported between commands."""
        return self.selected is not None or self.watch is not None

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None

    # -- matching ---------------------------------------------------------------------
    def covers(self, flt: Filter, owner: str, name: str, account: str) -> bool:
        """True when ``flt``'s filter takes in ``owner``'s mailbox ``name``."""
        if flt.kind in ("PERSONAL", "INBOXES"):
            return owner == account
        if flt.kind == "SUBSCRIBED":
            return (owner, name) in self.subscribed
        if flt.kind == "SUBTREE":
            return any(
                o == owner and (not n or name == n or name.startswith(n + SEP))
                for o, n, _ in flt.places
            )
        return any(o == owner and n == name for o, n, _ in flt.places)  # MAILBOXES

    def wants(self, owner: str, name: str, account: str, event: str) -> bool:
        """Is ``event`` on ``owner``'s mailbox ``name`` to be reported? (module docstring)"""
        for flt in self.filters:
            if self.covers(flt, owner, name, account):
                if not flt.events:
                    return False
                if event in flt.events:
                    return True
        return False

    def display(self, owner: str, name: str, account: str) -> str:
        """The name the client knows ``owner``'s mailbox ``name`` by."""
        if owner == account:
            return name
        places = [pl for flt in self.filters for pl in flt.places]
        places += [(o, n, c) for (o, n), c in self.subscribed.items()]
        for o, n, client in places:
            if o != owner:
                continue
            if not n:
                return client.rstrip(SEP) + SEP + name
            if name == n:
                return client
            if name.startswith(n + SEP):
                return client + name[len(n) :]
        local, _, domain = owner.partition("@")
        same = domain == account.partition("@")[2]
        return f"~{local if same else owner}{SEP}{name}"


# ------------------------------------------------------------------------- NOTIFY
@register(p.Notify, "auth")
async def notify(s: ImapSession, cmd: p.Notify) -> bytes:
    if cmd.groups is None:
        stop(s)
        return p.ok(cmd.tag, "NOTIFY completed")
    asked = {e for g in cmd.groups for e in g.events}
    if asked - set(SUPPORTED_EVENTS):
        supported = " ".join(SUPPORTED_EVENTS)
        return p.no(cmd.tag, "Unsupported NOTIFY event", f"BADEVENT ({supported})")
    state = await _build(s, cmd.groups)
    try:
        if s.selected is not None:  # §3.1: a successful NOTIFY SET is an implicit NOOP
            await s.announce(force=True)
    except BaseException:
        state.close()  # the watch must not outlive a NOTIFY that failed
        raise
    stop(s)
    s.notify = state
    if cmd.status:
        await _initial_status(s, state)
    return p.ok(cmd.tag, "NOTIFY completed")


def stop(s: ImapSession) -> None:
    """Behave as after NOTIFY NONE: nothing is reported between commands any more."""
    if s.notify is not None:
        s.notify.close()
    s.notify = NotifyState(None, [])


async def _build(s: ImapSession, groups: tuple[p.NotifyEventGroup, ...]) -> NotifyState:
    mgr = s.mailboxes
    account = s.account
    assert account is not None
    selected: SelectedEvents | None = None
    filters: list[Filter] = []
    owners: set[str] = set()
    for group in groups:
        events = frozenset(group.events)
        if group.selected:
            if events:
                selected = SelectedEvents(
                    group.filter == "SELECTED-DELAYED",
                    "FlagChange" in events,
                    group.fetch_attributes,
                )
            continue
        flt = Filter(group.filter, events)
        for client in group.mailboxes:
            try:
                loc = await mgr.resolve_name(account, client)
            except mb.MailboxError:
                continue  # §3.1: a name that leads nowhere is ignored
            foreign = loc.owner != account
            if foreign and loc.name and not await _foreign_ok(s, client, events):
                continue  # (a whole account, ``~boss``: the kernel checks each name)
            flt.places.append((loc.owner, loc.name, client))
            owners.add(loc.owner)
        filters.append(flt)
    state = NotifyState(selected, filters)
    if any(f.kind == "SUBSCRIBED" for f in filters):
        await refresh_subscriptions(s, state)
        owners.update(o for o, _ in state.subscribed)
    if any(f.events for f in filters):
        state.watch = mgr.watch(
            account, account, owners=owners, origin=s, limit=s.settings.notify_queue
        )
    return state


async def _foreign_ok(s: ImapSession, client: str, events: frozenset[str]) -> bool:
    """Another account's mailbox: kept when listable; ``\\NoAccess`` when not readable (§3.1)."""
    try:
        rights = await s.mailboxes.my_rights(s.account, client, s.account)
    except mb.MailboxError:
        return False
    if "l" not in rights:
        return False
    if events & _MESSAGE and "r" not in rights:
        s.write(r.list_response(["\\NoAccess"], SEP, client, utf8=s.utf8))
    return True


async def refresh_subscriptions(s: ImapSession, state: NotifyState) -> None:
    """Re-read the subscription list the SUBSCRIBED filter matches against (§6.4)."""
    out: dict[tuple[str, str], str] = {}
    for name in await s.mailboxes.subscriptions(s.account):
        try:
            loc = await s.mailboxes.resolve_name(s.account, name)
        except mb.MailboxError:
            continue
        out[(loc.owner, loc.name)] = name
    state.subscribed = out
    if state.watch is not None:
        state.watch.set_owners(
            {o for o, _ in out} | {pl[0] for f in state.filters for pl in f.places}
        )


async def _initial_status(s: ImapSession, state: NotifyState) -> None:
    """NOTIFY SET STATUS: one STATUS per mailbox with message events, before the OK."""
    mgr = s.mailboxes
    account = s.account
    assert account is not None
    candidates: dict[tuple[str, str], str] = {}

    async def listed(pattern: str) -> None:
        try:
            infos = await mgr.list(account, account, pattern)
        except mb.MailboxError:
            return
        for info in infos:
            if info.attributes & {"\\Noselect", "\\NonExistent"}:
                continue
            try:
                loc = await mgr.resolve_name(account, info.name)
            except mb.MailboxError:
                continue
            candidates.setdefault((loc.owner, loc.name), info.name)

    for flt in state.filters:
        if not flt.events & _MESSAGE:
            continue
        if flt.kind in ("PERSONAL", "INBOXES"):
            await listed("*")
        elif flt.kind == "SUBSCRIBED":
            for key, client in state.subscribed.items():
                candidates.setdefault(key, client)
        else:
            for owner, name, client in flt.places:
                candidates.setdefault((owner, name), client)
                if flt.kind == "SUBTREE":
                    await listed(client.rstrip(SEP) + SEP + "*")
    for (owner, name), client in candidates.items():
        if not _is_selected(s, owner, name) and state.wants(owner, name, account, "MessageNew"):
            await _write_status(s, state, owner, name, client, force=True)
            await s.maybe_flush()


def _is_selected(s: ImapSession, owner: str, name: str) -> bool:
    sel = s.selected
    return sel is not None and sel.box.owner == owner and sel.box.mailbox == name


async def _write_status(
    s: ImapSession, state: NotifyState, owner: str, name: str, client: str, *, force: bool
) -> None:
    try:
        st = await s.mailboxes.status(s.account, client, s.account)
    except mb.MailboxError:
        return  # gone, or not readable by this user: nothing to tell
    items: list[tuple[str, int | bytes]] = [
        ("MESSAGES", st.messages),
        ("UIDNEXT", st.uidnext),
        ("UIDVALIDITY", st.uidvalidity),
        ("UNSEEN", st.unseen),
    ]
    if s.condstore:
        items.append(("HIGHESTMODSEQ", st.highestmodseq))
    key = (owner, name)
    values = tuple(int(v) for _, v in items)
    if not force and state.last_status.get(key) == values:
        return
    state.last_status[key] = values
    state.last_status.move_to_end(key)
    while len(state.last_status) > _REMEMBERED:
        state.last_status.popitem(last=False)
    s.write(r.status_response(client, items, utf8=s.utf8))


async def _write_list(s: ImapSession, client: str, *, oldname: str | None = None) -> None:
    """An unsolicited LIST for ``client`` with its current attributes (§5.4, §5.5).

    ``\\Subscribed`` is there exactly when the name is subscribed; a name that does not
    exist (any more) is ``\\NonExistent``.
    """
    mgr = s.mailboxes
    attrs: set[str] = {"\\NonExistent"}
    for only in (False, True):  # a subscribed name that does not exist is only in the second
        try:
            infos = await mgr.list(s.account, s.account, client, subscribed_only=only)
        except mb.MailboxError:
            infos = []
        info = next((i for i in infos if i.name == client), None)
        if info is not None:
            attrs = set(info.attributes)
            break
    extended: list[tuple[str, bytes]] = []
    if oldname is not None:
        extended.append(("OLDNAME", b"(" + p.encode_mailbox(oldname, utf8=s.utf8) + b")"))
    s.write(r.list_response(sorted(attrs), SEP, client, utf8=s.utf8, extended=extended))


# ------------------------------------------------------------------------- delivery
async def deliver(s: ImapSession, *, expunges: bool) -> None:
    """Write what happened since the last time (``expunges``: may EXPUNGE be sent now)."""
    state = s.notify
    if state is None:
        return
    watch = state.watch
    if watch is not None and watch.overflowed:
        s.write(b"* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is now off\r\n")
        stop(s)
        return
    sel = s.selected
    if sel is not None and state.selected is not None and sel.box.has_changes:
        with contextlib.suppress(mb.NoSuchMailbox):  # deleted meanwhile: the next command says so
            await s.announce(between_commands=not expunges)
    if watch is None:
        return
    account = s.account
    assert account is not None
    dirty: dict[tuple[str, str], None] = {}
    for event in watch.take():
        if isinstance(event, mb.MessagesChanged):
            key = (event.owner, event.name)
            if key in dirty or _is_selected(s, *key):
                continue
            if state.wants(event.owner, event.name, account, _KIND_EVENT[event.kind]):
                dirty[key] = None
        elif isinstance(event, mb.SubscriptionChanged):
            await _subscription_changed(s, state, event)
        else:
            await _name_changed(s, state, event)
    for owner, name in dirty:
        client = state.display(owner, name, account)
        await _write_status(s, state, owner, name, client, force=False)
        await s.maybe_flush()


async def _name_changed(s: ImapSession, state: NotifyState, event: Any) -> None:
    account = s.account
    assert account is not None
    owner = event.owner
    if isinstance(event, mb.MailboxRenamed):
        name, old = event.new, event.old
    else:
        name, old = event.name, None
    wanted = state.wants(owner, name, account, "MailboxName")
    if not wanted and old is not None:
        wanted = state.wants(owner, old, account, "MailboxName")
    if not wanted:
        return
    client = state.display(owner, name, account)
    oldname = state.display(owner, old, account) if old is not None else None
    await _write_list(s, client, oldname=oldname)
    state.last_status.pop((owner, name), None)


async def _subscription_changed(s: ImapSession, state: NotifyState, event: Any) -> None:
    account = s.account
    assert account is not None
    try:
        loc = await s.mailboxes.resolve_name(account, event.name)
        owner, name = loc.owner, loc.name
    except mb.MailboxError:
        owner, name = "", event.name
    wanted = state.wants(owner, name, account, "SubscriptionChange")
    if any(f.kind == "SUBSCRIBED" for f in state.filters):
        await refresh_subscriptions(s, state)
        # the name is in SUBSCRIBED before (unsubscribe) or after (subscribe) the change
        wanted = wanted or state.wants(owner, name, account, "SubscriptionChange")
    if wanted:
        await _write_list(s, event.name)


# ------------------------------------------------------------------------- waiting
async def wait_for_events(s: ImapSession) -> None:
    """Return when the selected mailbox or the watch has something to report."""
    state = s.notify
    waiters: list[Callable[[], Awaitable[None]]] = []
    if state is not None and state.watch is not None:
        waiters.append(state.watch.wait)
    sel = s.selected
    if state is not None and state.selected is not None and sel is not None:
        box = sel.box

        async def selected_changes() -> None:
            try:
                await box.wait_changes()
            except mb.NoSuchMailbox:
                await anyio.sleep_forever()  # deleted or renamed: nothing more comes from it

        waiters.append(selected_changes)
    if not waiters:
        await anyio.sleep_forever()
    async with anyio.create_task_group() as tg:

        async def first(fn: Callable[[], Awaitable[None]]) -> None:
            await fn()
            tg.cancel_scope.cancel()

        for fn in waiters:
            tg.start_soon(first, fn)


async def pump(s: ImapSession, *, expunges: bool) -> None:
    """Report events as they happen, until cancelled (while waiting for input, in IDLE).

    Each report is written whole (a shielded step), so cancelling the pump when a
    command arrives never loses events already taken or leaves half a response in the
    output buffer. The step has a deadline all the same: a client that stopped reading
    must not hold a session (or the server's shutdown) in a shielded send forever.
    """
    try:
        while s.notify is not None and s.notify.active:
            await wait_for_events(s)
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + _DELIVERY_DEADLINE
                await deliver(s, expunges=expunges)
            if scope.cancelled_caught:
                s.log.problem("NOTIFY delivery stalled: the client does not read")
                s.state = State.LOGOUT
                await s.conn.aclose()  # the session's pending receive ends, and with it the session
                return
            await s.flush()
    except Exception as exc:  # noqa: BLE001 - never take the session down from here
        s.log.problem(f"NOTIFY delivery failed: {type(exc).__name__}: {exc}")
