"""The Router engine: an address and an operation in, a Route or a RouteFailure out.

Each iteration takes the parsed address through these steps; a step that changes the
address restarts the iteration (the manual: "the modified address is processed with
the Router again"), and a step that decides ends it:

1. Main-domain cut-off: a domain equal to the Main Domain (or one of its aliases)
   becomes empty, and an empty domain makes the Router split the local part again
   (``<@company.com:sales@example.com>`` -> ``sales@example.com``).
2. The Routing Table: the first applicable record (top to bottom, for this operation)
   rewrites the address and updates the relay marker.
3. Pseudo-domains, after the table: ``null``, ``error``, ``blacklisted``; ``x.here`` /
   ``x._here`` (the local Domain ``x``, without another table pass); ``._via``,
   ``._dir``, ``._relay``, ``._smtp``, ``._smtpq``; IP literals (a local Domain's IP
   becomes its name, any other IP is relayed to); ``external`` and ``._enum`` (asked
   of the modules; an unanswered ``._enum`` is treated as "unknown host name" and
   becomes ``._noenum``); ``x.local`` and ``u%acct@x.domain`` (Unified Domain-Wide
   Accounts).
4. Local Domains: a Domain Alias becomes the Domain's name; a local part that is a
   route (``u%host``) is routed on; the special names (``null``, ``error``,
   ``MAILER-DAEMON``, ``all``, ...); the All-Domain Aliases; ``box#account`` (Direct
   Mailbox Addressing, or a real-time application for Signals); the account database's
   objects (account, alias, forwarder, group, list); Account Detail (``name+detail``);
   then the modules (the ``extra`` callable: the ``unigate_route`` hook), then the
   Domain's unknown-name policy.
5. Remote domains: the modules (``extra``), then the built-in relaying: a domain with
   a dot goes to ``SMTP`` (``SIP`` for Signals); a dotless domain gets the
   non-qualified suffix if one is set, else it is unroutable.

Decisions the manual leaves open (digest 02 §9.6), taken here and tested:

- Main Domain Aliases are cut off like the Main Domain (before the table); a secondary
  Domain Alias becomes its Domain's name after the table found no record (so records
  may be written for either name).
- Domain-level records never match the empty (Main) domain.
- A local part that is itself a route, in a local Domain, is routed on (this is what
  makes ``<abuse@*> = postmaster@somedomain.com`` reach ``postmaster@somedomain.com``).
- All-Domain Aliases are checked before the account lookup (the manual's loop example
  makes ``postmaster`` unusable "even for login"), and they, the unknown-name
  rerouting and the Account Detail rewrite leave the relay marker alone (``NoRelay:``).
- A repeated address is a loop, reported with its cycle; the number of iterations is
  capped (``max_steps``).

The engine is written once as a generator that yields a :class:`ModuleQuery` when it
needs the modules' opinion; :meth:`Router.route` answers with a sync callable,
:meth:`Router.aroute` with an async one (the kernel's hook caller). No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, replace

from unigate.router.address import (
    Address,
    AddressError,
    has_route,
    is_ip_literal,
    is_simple,
    parse_address,
    resplit,
    rfind_unquoted,
    via_host,
)
from unigate.router.objects import DomainObjects, ObjectKind, UnknownAction
from unigate.router.pattern import PatternError, Sample
from unigate.router.pattern import Route as RouteTemplate
from unigate.router.table import RelayMode, RoutingTable, parse_table
from unigate_hookspecs.routing import (
    FailureKind,
    Reroute,
    Route,
    RouteAnswer,
    RouteFailure,
    RouteOp,
)

__all__ = ["DetailMode", "ModuleQuery", "Router", "RouterOptions"]

#: a sync module consultation: ``extra(address, operation)``
Extra = Callable[[str, RouteOp], RouteAnswer | None]
#: an async one, for :meth:`Router.aroute`
AsyncExtra = Callable[[str, RouteOp], Awaitable[RouteAnswer | None]]


class DetailMode(enum.Enum):
    """The Local Delivery "Account Detail" setting (``name+detail`` addresses)."""

    DISABLED = "disabled"  # ``+`` is not special (the manual's default)
    ENABLED = "enabled"  # ``john+jokes`` is routed as ``john``
    MAILBOX = "mailbox"  # ``john+jokes`` is routed as ``jokes#john``


@dataclass(frozen=True, slots=True)
class RouterOptions:
    """Router settings besides the table.

    ``all_domain_aliases``: the All-Domain Aliases table, ``(local name, reroute to)``
    pairs, ``*`` allowed in both. ``nonqualified_suffix``: the "Add ... to Non-Qualified
    Domain Names" option (empty = off).
    """

    direct_mailbox: bool = True
    account_detail: DetailMode = DetailMode.DISABLED
    all_domain_aliases: tuple[tuple[str, str], ...] = ()
    nonqualified_suffix: str = ""
    max_steps: int = 32


@dataclass(frozen=True, slots=True)
class ModuleQuery:
    """What the engine yields when it needs the modules: route ``address`` for ``operation``."""

    address: str
    operation: RouteOp


@dataclass(frozen=True, slots=True)
class _Next:
    address: Address
    relay: bool


_Result = Route | RouteFailure
_Gen = Generator[ModuleQuery, RouteAnswer | None, _Result]
_StepGen = Generator[ModuleQuery, RouteAnswer | None, "_Result | _Next"]

_NULL_NAMES = frozenset({"null", "mailer-daemon", "calendar-alarm"})
_REJECT_NAMES = {
    "error": (FailureKind.ERROR, "address rejected"),
    "blacklisted": (FailureKind.BLACKLISTED, "Blacklisted Address"),
    "spamtrap": (FailureKind.SPAMTRAP, "spam trap address"),
    "incomplete": (FailureKind.INCOMPLETE, "Address Incomplete"),
}
# suffix -> (keeps only the local part?, forced module)
_VIA_SUFFIXES = (
    ("._via", True, None),
    ("._dir", True, None),  # the Directory check is not implemented: routed like ._via
    ("._smtp", True, "SMTP"),
    ("._relay", False, None),
    ("._smtpq", False, "SMTP"),
)


def _compile_aliases(pairs: tuple[tuple[str, str], ...]) -> list[tuple[Sample, RouteTemplate]]:
    compiled = []
    for name, target in pairs:
        sample, route = Sample.parse(name.strip()), RouteTemplate.parse(target.strip())
        if route.star and sample.wildcard is None:
            raise PatternError(f"All-Domain Alias {name!r}: '*' in the target but not the name")
        compiled.append((sample, route))
    return compiled


def _split_application(text: str) -> tuple[str, tuple[str, ...]]:
    """``myProgram{mixer,fast}`` -> (``myProgram``, (``mixer``, ``fast``))."""
    if text.endswith("}") and "{" in text:
        name, _, params = text[:-1].partition("{")
        return name, tuple(p for p in params.split(",") if p)
    return text, ()


class Router:
    """The Router: ``route(address, op)`` -> :class:`Route` or :class:`RouteFailure`.

    ``table_text`` is the Routing Table in the manual's syntax (parsed once;
    :class:`~unigate.router.table.RoutingTableError` names a bad line); ``objects`` the
    account database (:class:`~unigate.router.objects.DomainObjects`);
    ``cluster_table_text`` the Cluster-wide Routing Table, whose records are checked
    when no record of the server table applies.
    """

    def __init__(
        self,
        table_text: str,
        objects: DomainObjects,
        options: RouterOptions | None = None,
        *,
        cluster_table_text: str = "",
    ) -> None:
        self.table: RoutingTable = parse_table(table_text)
        self.cluster_table: RoutingTable = parse_table(cluster_table_text)
        self.objects = objects
        self.options = options or RouterOptions()
        self._aliases = _compile_aliases(self.options.all_domain_aliases)

    # -- public API ---------------------------------------------------------------------

    def route(self, address: str, op: RouteOp, *, extra: Extra | None = None) -> _Result:
        """Route ``address`` for ``op``; ``extra`` is consulted as the modules (last)."""
        return self._drive(self._run(address, op, None), extra)

    async def aroute(
        self, address: str, op: RouteOp, *, extra: AsyncExtra | None = None
    ) -> _Result:
        """:meth:`route` with an async ``extra`` (the ``unigate_route`` hook)."""
        gen = self._run(address, op, None)
        try:
            query = next(gen)
            while True:
                answer = await extra(query.address, query.operation) if extra else None
                query = gen.send(_checked(answer))
        except StopIteration as stop:
            return stop.value

    def explain(
        self, address: str, op: RouteOp = RouteOp.ACCESS, *, extra: Extra | None = None
    ) -> list[str]:
        """The routing steps as text lines (``unigate route ADDRESS``), the result last."""
        trace: list[str] = []
        result = self._drive(self._run(address, op, trace), extra)
        if isinstance(result, Route):
            extras = "".join(
                f" {k}={v!r}"
                for k, v in (
                    ("mailbox", result.mailbox),
                    ("application", result.application),
                    ("parameters", result.parameters),
                    ("members", result.members),
                )
                if v
            )
            trace.append(f"result: {result} relay={'yes' if result.relay else 'no'}{extras}")
        else:
            trace.append(f"failed: {result}")
        return trace

    # -- drivers ------------------------------------------------------------------------

    @staticmethod
    def _drive(gen: _Gen, extra: Extra | None) -> _Result:
        try:
            query = next(gen)
            while True:
                answer = extra(query.address, query.operation) if extra else None
                query = gen.send(_checked(answer))
        except StopIteration as stop:
            return stop.value

    # -- the engine ---------------------------------------------------------------------

    def _run(self, text: str, op: RouteOp, trace: list[str] | None) -> _Gen:
        def note(line: str) -> None:
            if trace is not None:
                trace.append(line)

        try:
            addr = parse_address(text)
        except AddressError as exc:
            return RouteFailure(FailureKind.SYNTAX, str(exc), text)
        note(f"address {text!r} for {op.value}: {addr}")
        relay = False
        history: list[str] = []
        for _ in range(self.options.max_steps):
            try:
                addr = self._cut_off(addr, note)
            except AddressError as exc:
                return RouteFailure(FailureKind.SYNTAX, str(exc), str(addr))
            key = str(addr)
            if key in history:
                cycle = " -> ".join([*history[history.index(key) :], key])
                note(f"loop: {cycle}")
                return RouteFailure(FailureKind.LOOP, f"routing loop: {cycle}", key)
            history.append(key)
            real = self._real_domain(addr.domain)
            is_local = real is not None
            hit = self.table.find(addr.local, addr.domain, op, is_local)
            source = "record"
            if hit is None and self.cluster_table.records:
                hit = self.cluster_table.find(addr.local, addr.domain, op, is_local)
                source = "cluster record"
            if hit is not None:
                rec, value = hit
                new_text = rec.rewrite(addr.local, addr.domain, value)
                try:
                    new = parse_address(new_text)
                except AddressError as exc:
                    return RouteFailure(
                        FailureKind.SYNTAX, f"record on line {rec.line}: {exc}", new_text
                    )
                relay = _marked(rec.relay, new, relay)
                note(
                    f"{source} line {rec.line} {rec.text!r}: {addr} -> {new}"
                    f" (relay marker {'set' if relay else 'not set'})"
                )
                addr = new
                continue
            outcome = yield from self._after_table(addr, real, op, relay, note)
            if isinstance(outcome, _Next):
                addr, relay = outcome.address, outcome.relay
                continue
            return outcome
        note(f"gave up after {self.options.max_steps} steps")
        return RouteFailure(
            FailureKind.LOOP,
            f"routing loop: more than {self.options.max_steps} steps ({' -> '.join(history[-4:])})",
            str(addr),
        )

    def _is_main(self, domain: str) -> bool:
        return self.objects.canonical_domain(domain) == self.objects.main_domain

    def _real_domain(self, domain: str) -> str | None:
        """The real name of a local domain (``""`` = Main Domain), or None if not local."""
        if not domain:
            return self.objects.main_domain
        return self.objects.canonical_domain(domain)

    def _cut_off(self, addr: Address, note: Callable[[str], None]) -> Address:
        while True:
            if addr.domain and self._is_main(addr.domain):
                addr = Address(addr.local, "")
                note(f"main domain cut-off: {addr}")
            if not addr.domain and has_route(addr.local):
                new = resplit(addr.local)
                if new == addr:
                    return addr
                addr = new
                note(f"empty domain, local part split again: {addr}")
                continue
            return addr

    def _after_table(
        self,
        addr: Address,
        real: str | None,
        op: RouteOp,
        relay: bool,
        note: Callable[[str], None],
    ) -> _StepGen:
        local, domain = addr.local, addr.domain
        if domain == "null":
            return Route("SYSTEM", "NULL", str(addr), relay)
        if domain in ("error", "blacklisted"):
            kind, text = _REJECT_NAMES[domain]
            return RouteFailure(kind, text, str(addr))
        for suffix in (".here", "._here"):
            if domain.endswith(suffix):
                name = domain[: -len(suffix)]
                here = self.objects.canonical_domain(name) if name else None
                if here is None:
                    return RouteFailure(
                        FailureKind.UNROUTABLE, f"{name} is not a local domain", str(addr)
                    )
                note(f"'{suffix}' suffix: local domain {here}")
                return (yield from self._local(local, here, op, relay, note))
        for suffix, local_only, module in _VIA_SUFFIXES:
            if domain.endswith(suffix) and len(domain) > len(suffix):
                return self._via(addr, suffix, local_only, module, op, relay, note)
        if domain.startswith("[") and is_ip_literal(domain):
            ip = domain[1:-1]
            if ip.lower().startswith("ipv6:"):
                ip = ip[5:]
            owner = self.objects.domain_for_ip(ip)
            owner_real = self.objects.canonical_domain(owner) if owner else None
            if owner_real is not None:
                dom = "" if owner_real == self.objects.main_domain else owner_real
                note(f"IP address {domain} belongs to the domain {owner_real}")
                return _Next(Address(local, dom), relay)
            return self._via(addr, "", True, None, op, relay, note)
        if domain == "external" or domain.endswith("._enum"):
            answer = yield ModuleQuery(str(addr), op)
            if answer is not None:
                return self._take(answer, addr, relay, note)
            if domain == "external":
                return RouteFailure(
                    FailureKind.UNROUTABLE, "no external routing helper answered", str(addr)
                )
            noenum = Address(local, domain[: -len("._enum")] + "._noenum")
            note(f"ENUM: no answer for {addr}, trying {noenum}")
            return _Next(noenum, relay)
        if real is not None:
            if domain and real != domain:
                dom = "" if real == self.objects.main_domain else real
                note(f"domain alias {domain} -> {real}")
                return _Next(Address(local, dom), relay)
            return (yield from self._local(local, real, op, relay, note))
        if domain.endswith(".local") and len(domain) > 6:
            return self._unified(local, self.objects.main_domain, domain[:-6], relay, note)
        if domain.endswith(".domain") and len(domain) > 7:
            target = self.objects.canonical_domain(domain[:-7])
            pct = rfind_unquoted(local, "%")
            if target is None or pct < 0:
                return RouteFailure(
                    FailureKind.UNROUTABLE, "not a Unified Domain-Wide Account address", str(addr)
                )
            return self._unified(local[:pct], target, local[pct + 1 :], relay, note)
        answer = yield ModuleQuery(str(addr), op)
        if answer is not None:
            return self._take(answer, addr, relay, note)
        if "." not in domain:
            suffix = self.options.nonqualified_suffix.strip(".")
            if suffix:
                new = Address(local, f"{domain}.{suffix}")
                note(f"non-qualified domain: {addr} -> {new}")
                return _Next(new, relay)
            return RouteFailure(FailureKind.UNROUTABLE, f"unknown domain {domain}", str(addr))
        module = "SIP" if op is RouteOp.SIGNAL else "SMTP"
        return Route(module, domain, str(addr), relay)

    def _via(
        self,
        addr: Address,
        suffix: str,
        local_only: bool,
        module: str | None,
        op: RouteOp,
        relay: bool,
        note: Callable[[str], None],
    ) -> Route:
        name = addr.domain[: -len(suffix)] if suffix else addr.domain
        host, bare = via_host(name)
        if local_only:
            pct = rfind_unquoted(addr.local, "%")
            target = addr.local if pct < 0 else f"{addr.local[:pct]}@{addr.local[pct + 1 :]}"
        else:
            target = f"{addr.local}@{bare}"
        note(f"relay via {host or name}{f' ({suffix})' if suffix else ''}: {target}")
        return Route(module or ("SIP" if op is RouteOp.SIGNAL else "SMTP"), host, target, relay)

    def _unified(
        self, real_to: str, domain: str, account: str, relay: bool, note: Callable[[str], None]
    ) -> Route:
        ref = self.objects.lookup(domain, account)
        name = ref.name if ref and ref.kind in (ObjectKind.ACCOUNT, ObjectKind.ALIAS) else account
        note(f"Unified Domain-Wide Account {name}@{domain}, X-Real-To {real_to}")
        return Route("LOCAL", f"{name}@{domain}", real_to, relay)

    def _local(
        self,
        local: str,
        real: str,
        op: RouteOp,
        relay: bool,
        note: Callable[[str], None],
    ) -> _StepGen:
        dom = "" if real == self.objects.main_domain else real
        full = f"{local}@{real}"
        if has_route(local):
            try:
                new = resplit(local)
            except AddressError as exc:
                return RouteFailure(FailureKind.SYNTAX, str(exc), full)
            note(f"route through the local domain {real}: {new}")
            return _Next(new, relay)
        low = local.lower()
        if low in _NULL_NAMES:
            return Route("SYSTEM", "NULL", full, relay)
        if low in _REJECT_NAMES:
            kind, text = _REJECT_NAMES[low]
            return RouteFailure(kind, text, full)
        if low == "listserver":
            return Route("LIST", f"listserver@{real}", local, relay)
        if low == "all":
            return Route("SYSTEM", "ALL", full, relay)
        if low == "alldomains":
            return Route("SYSTEM", "ALLDOMAINS", full, relay)
        if low == "loginpage":
            return Route("LOCAL", f"LoginPage@{real}", local, relay)
        for sample, target in self._aliases:
            value = sample.match(local)
            if value is not None:
                new_text = target.substitute(value)
                try:
                    new = parse_address(new_text)
                except AddressError as exc:
                    return RouteFailure(FailureKind.SYNTAX, f"All-Domain Alias: {exc}", new_text)
                note(f"All-Domain Alias {sample.source!r}: {full} -> {new}")
                return _Next(new, relay)
        hash_at = rfind_unquoted(local, "#")
        if hash_at > 0 and (op is RouteOp.SIGNAL or self.options.direct_mailbox):
            box, account = local[:hash_at], local[hash_at + 1 :]
            ref = self.objects.lookup(real, account)
            if ref is None or ref.kind not in (ObjectKind.ACCOUNT, ObjectKind.ALIAS):
                note(f"{account}@{real}: no such account for {local}")
                return self._unknown(account, real, op, relay, note)
            owner = f"{ref.name}@{real}"
            if op is RouteOp.SIGNAL:
                app, params = _split_application(box)
                note(f"application {app} for {owner}")
                return Route("PBX", owner, local, relay, application=app, parameters=params)
            note(f"direct mailbox {box!r} of {owner}")
            return Route("LOCAL", owner, local, relay, mailbox=box)
        ref = self.objects.lookup(real, local)
        if ref is not None:
            if ref.kind in (ObjectKind.ACCOUNT, ObjectKind.ALIAS):
                if ref.kind is ObjectKind.ALIAS:
                    note(f"alias {full} -> account {ref.name}@{real}")
                return Route("LOCAL", f"{ref.name}@{real}", local, relay)
            if ref.kind is ObjectKind.FORWARDER:
                try:
                    new = parse_address(ref.target)
                except AddressError as exc:
                    return RouteFailure(FailureKind.SYNTAX, f"forwarder {full}: {exc}", ref.target)
                relay = _marked(RelayMode.RELAY, new, relay)
                note(f"forwarder {full} -> {new} (relay marker {'set' if relay else 'not set'})")
                return _Next(new, relay)
            if ref.kind is ObjectKind.GROUP:
                if op is RouteOp.ACCESS:
                    return RouteFailure(FailureKind.UNKNOWN, "a group is not an account", full)
                return Route("GROUP", f"{ref.name}@{real}", local, relay, members=ref.members)
            if op is RouteOp.MAIL:  # a mailing list
                return Route("LIST", f"{ref.name}@{real}", local, relay)
            return RouteFailure(FailureKind.UNKNOWN, "a mailing list is not an account", full)
        plus = local.find("+")
        if plus > 0 and self.options.account_detail is not DetailMode.DISABLED:
            name, detail = local[:plus], local[plus + 1 :]
            if self.options.account_detail is DetailMode.ENABLED or not detail:
                new = Address(name, dom)
            else:
                new = Address(f"{detail}#{name}", dom)
            note(f"account detail: {full} -> {new}")
            return _Next(new, relay)
        answer = yield ModuleQuery(full, op)
        if answer is not None:
            return self._take(answer, Address(local, real), relay, note)
        return self._unknown(local, real, op, relay, note)

    def _unknown(
        self, name: str, real: str, op: RouteOp, relay: bool, note: Callable[[str], None]
    ) -> _Result | _Next:
        full = f"{name}@{real}"
        policy = self.objects.unknown_policy(real, op)
        note(f"unknown name {full}: {policy.action.value} {policy.address}".rstrip())
        if policy.action is UnknownAction.DISCARD:
            return Route("SYSTEM", "NULL", full, relay)
        if policy.action is UnknownAction.ACCEPT:
            return Route("LOCAL", full, name, relay)
        if policy.action is UnknownAction.REROUTE:
            target = policy.address.replace("*", name)
            try:
                return _Next(parse_address(target), relay)
            except AddressError as exc:
                return RouteFailure(FailureKind.SYNTAX, f"unknown-name reroute: {exc}", target)
        return RouteFailure(FailureKind.UNKNOWN, "unknown account", full)

    def _take(
        self, answer: RouteAnswer, addr: Address, relay: bool, note: Callable[[str], None]
    ) -> _Result | _Next:
        if isinstance(answer, Route):
            note(f"module accepted {addr}: {answer}")
            return replace(answer, relay=answer.relay or relay)
        if isinstance(answer, RouteFailure):
            note(f"module rejected {addr}: {answer}")
            return answer
        try:
            new = parse_address(answer.address)
        except AddressError as exc:
            return RouteFailure(FailureKind.SYNTAX, f"module reroute: {exc}", answer.address)
        note(f"module rerouted {addr} -> {new}")
        return _Next(new, relay or answer.relay)


def _marked(mode: RelayMode, new: Address, relay: bool) -> bool:
    """The Protection section's marker rule (it is never reset)."""
    if mode is RelayMode.RELAYALL:
        return True
    if mode is RelayMode.RELAY and is_simple(new):
        return True
    return relay


def _checked(answer: object) -> RouteAnswer | None:
    if answer is None or isinstance(answer, (Route, RouteFailure, Reroute)):
        return answer
    raise TypeError(f"a routing module returned {answer!r}, not a Route/RouteFailure/Reroute")
