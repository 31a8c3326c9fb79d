"""The Router: the kernel service that resolves every address (mail, Signals, logins).

The manual's "Router" section, in three parts:

- :mod:`unigate.router.address` -- parsing the RFC 822 route forms into the canonical
  ``local%d1%d2@domain`` (:func:`parse_address`);
- :mod:`unigate.router.table` and :mod:`unigate.router.pattern` -- the Routing Table
  syntax (``[Relay:|NoRelay:|RelayAll:] [Mail:|Signal:|Access:]... Sample = Route ;
  comment``), compiled once (:func:`parse_table`, :data:`DEFAULT_TABLE`);
- :mod:`unigate.router.engine` -- :class:`Router`, which applies the table, the special
  addresses and pseudo-domains, the account database (:class:`DomainObjects`) and the
  modules (the ``unigate_route`` hook) until the address is accepted or rejected.

Usage::

    router = Router(DEFAULT_TABLE, objects)
    router.route("joe@mydomain.com", RouteOp.MAIL)      # Route(...) or RouteFailure(...)
    router.explain("joe@mydomain.com", RouteOp.MAIL)    # the steps, for `unigate route`
"""

from __future__ import annotations

from unigate.router.address import Address, AddressError, is_simple, parse_address
from unigate.router.engine import DetailMode, ModuleQuery, Router, RouterOptions
from unigate.router.objects import (
    DomainObjects,
    ObjectKind,
    ObjectRef,
    StaticDomain,
    StaticDomainObjects,
    UnknownAction,
    UnknownPolicy,
)
from unigate.router.pattern import PatternError, Sample
from unigate.router.table import (
    DEFAULT_TABLE,
    Record,
    RecordKind,
    RelayMode,
    RoutingTable,
    RoutingTableError,
    parse_table,
)
from unigate_hookspecs.routing import FailureKind, Reroute, Route, RouteFailure, RouteOp

__all__ = [
    "DEFAULT_TABLE",
    "Address",
    "AddressError",
    "DetailMode",
    "DomainObjects",
    "FailureKind",
    "ModuleQuery",
    "ObjectKind",
    "ObjectRef",
    "PatternError",
    "Record",
    "RecordKind",
    "RelayMode",
    "Reroute",
    "Route",
    "RouteFailure",
    "RouteOp",
    "Router",
    "RouterOptions",
    "RoutingTable",
    "RoutingTableError",
    "Sample",
    "StaticDomain",
    "StaticDomainObjects",
    "UnknownAction",
    "UnknownPolicy",
    "is_simple",
    "parse_address",
    "parse_table",
]
