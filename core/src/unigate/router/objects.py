"""What the Router needs from the account database: the :class:`DomainObjects` protocol.

The Router does not own domains or accounts; it asks. The protocol is the smallest
set of questions the manual's routing steps need:

- which name is the Main Domain, which names are local Domains (domain aliases
  resolve to the real name), which Domain an IP address is assigned to;
- what a name in a local Domain is: an account, an account alias, a forwarder, a
  group or a mailing list (:class:`ObjectRef`);
- the Domain's unknown-name policy for an operation (the manual's Domain settings
  "Mail to Unknown", "Calls to Unknown", "Access to Unknown": rejected, discarded,
  rerouted to an address where ``*`` is the unknown name, or accepted and bounced).

:class:`StaticDomainObjects` is a small in-memory implementation, for tests and for
``unigate route`` before the account database is wired in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from unigate_hookspecs.routing import RouteOp

__all__ = [
    "DomainObjects",
    "ObjectKind",
    "ObjectRef",
    "StaticDomain",
    "StaticDomainObjects",
    "UnknownAction",
    "UnknownPolicy",
]


class ObjectKind(enum.Enum):
    ACCOUNT = "account"
    ALIAS = "alias"  # an account alias: ``name`` is the account's real name
    FORWARDER = "forwarder"  # ``target`` is the address to forward to
    GROUP = "group"  # ``members`` are the member addresses
    LIST = "list"  # a mailing list (the LIST module's object)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The answer to "what is this name in this Domain?".

    ``name`` is the object's real name (for an alias: the account it names);
    ``target`` the forwarder's address; ``members`` the group's members.
    """

    kind: ObjectKind
    name: str
    target: str = ""
    members: tuple[str, ...] = ()


class UnknownAction(enum.Enum):
    REJECT = "reject"  # "Rejected": the address is refused ("unknown account")
    DISCARD = "discard"  # "Discarded": routed to NULL
    REROUTE = "reroute"  # "Rerouted to": the address (``*`` = the unknown name), routed again
    ACCEPT = "accept"  # "Accepted and Bounced": LOCAL takes it and the delivery bounces


@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    action: UnknownAction = UnknownAction.REJECT
    address: str = ""  # REROUTE only


@runtime_checkable
class DomainObjects(Protocol):
    """The Router's view of the account database (all lookups case-insensitive)."""

    @property
    def main_domain(self) -> str:
        """The Main Domain name (lower case)."""
        ...

    def canonical_domain(self, name: str) -> str | None:
        """The real name of the local Domain called ``name`` (a Domain Alias resolves to
        its Domain; the Main Domain and its aliases give :attr:`main_domain`), or None if
        ``name`` is not local."""
        ...

    def lookup(self, domain: str, name: str) -> ObjectRef | None:
        """The object ``name`` in the local Domain ``domain`` (its real name), or None."""
        ...

    def unknown_policy(self, domain: str, operation: RouteOp) -> UnknownPolicy:
        """What to do with an unknown name in ``domain`` for ``operation``."""
        ...

    def domain_for_ip(self, ip: str) -> str | None:
        """The local Domain an IP address (without brackets) is assigned to, or None."""
        ...


@dataclass
class StaticDomain:
    """One Domain of :class:`StaticDomainObjects`."""

    name: str
    aliases: Iterable[str] = ()
    accounts: Iterable[str] = ()
    account_aliases: Mapping[str, str] = field(default_factory=dict)  # alias -> account
    forwarders: Mapping[str, str] = field(default_factory=dict)  # name -> address
    groups: Mapping[str, Iterable[str]] = field(default_factory=dict)  # name -> members
    lists: Iterable[str] = ()
    unknown: Mapping[RouteOp, UnknownPolicy] = field(default_factory=dict)  # default: reject
    ips: Iterable[str] = ()


class StaticDomainObjects:
    """An in-memory :class:`DomainObjects`: the first domain given is the Main Domain."""

    def __init__(self, main: StaticDomain, *secondary: StaticDomain) -> None:
        self._main = main.name.lower()
        self._names: dict[str, str] = {}
        self._objects: dict[str, dict[str, ObjectRef]] = {}
        self._unknown: dict[str, Mapping[RouteOp, UnknownPolicy]] = {}
        self._ips: dict[str, str] = {}
        for dom in (main, *secondary):
            real = dom.name.lower()
            self._names[real] = real
            for alias in dom.aliases:
                self._names[alias.lower()] = real
            objs: dict[str, ObjectRef] = {}
            for acct in dom.accounts:
                objs[acct.lower()] = ObjectRef(ObjectKind.ACCOUNT, acct)
            for alias, acct in dom.account_aliases.items():
                objs[alias.lower()] = ObjectRef(ObjectKind.ALIAS, acct)
            for name, target in dom.forwarders.items():
                objs[name.lower()] = ObjectRef(ObjectKind.FORWARDER, name, target=target)
            for name, members in dom.groups.items():
                objs[name.lower()] = ObjectRef(ObjectKind.GROUP, name, members=tuple(members))
            for name in dom.lists:
                objs[name.lower()] = ObjectRef(ObjectKind.LIST, name)
            self._objects[real] = objs
            self._unknown[real] = dom.unknown
            for ip in dom.ips:
                self._ips[ip] = real

    @property
    def main_domain(self) -> str:
        return self._main

    def canonical_domain(self, name: str) -> str | None:
        return self._names.get(name.lower())

    def lookup(self, domain: str, name: str) -> ObjectRef | None:
        return self._objects.get(domain.lower(), {}).get(name.lower())

    def unknown_policy(self, domain: str, operation: RouteOp) -> UnknownPolicy:
        return self._unknown.get(domain.lower(), {}).get(operation, UnknownPolicy())

    def domain_for_ip(self, ip: str) -> str | None:
        return self._ips.get(ip)
