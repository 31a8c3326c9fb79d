"""The Unigate hook contract: hook specifications and the values that cross them.

A plugin imports from here (and from ``unigate.api``) and nothing else of Unigate::

    from unigate_hookspecs import hookimpl, ListenerSpec, Verdict

One module per hook family (:data:`FAMILIES`); the kernel registers each with
``pluginmanager.add_hookspecs``. This package depends on pluggy and pydantic only and
does no I/O.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from unigate_hookspecs import (
    admin,
    authentication,
    delivery,
    lifecycle,
    listeners,
    routing,
    rules,
    settings,
    signals,
    storage,
)
from unigate_hookspecs.admin import AdminCommand
from unigate_hookspecs.authentication import AuthMethod, AuthResult, LoginRequest
from unigate_hookspecs.listeners import (
    AddressClass,
    Connection,
    ListenerSpec,
    PeerInfo,
    TLSMode,
    Transport,
)
from unigate_hookspecs.markers import PROJECT_NAME, hookimpl, hookspec
from unigate_hookspecs.rules import StoreDecision
from unigate_hookspecs.verdict import CONTINUE, Decision, Verdict

try:
    __version__ = version("unigate-hookspecs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

#: the hook families, in documentation order
FAMILIES = (
    lifecycle,
    settings,
    listeners,
    authentication,
    routing,
    delivery,
    storage,
    rules,
    signals,
    admin,
)

__all__ = [
    "CONTINUE",
    "FAMILIES",
    "PROJECT_NAME",
    "AddressClass",
    "AdminCommand",
    "AuthMethod",
    "AuthResult",
    "Connection",
    "Decision",
    "ListenerSpec",
    "LoginRequest",
    "PeerInfo",
    "StoreDecision",
    "TLSMode",
    "Transport",
    "Verdict",
    "hookimpl",
    "hookspec",
]
