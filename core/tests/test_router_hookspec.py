"""The routing hook family: the spec registers with pluggy, is firstresult, and its
values are frozen; a hook implementation plugs into Router.route as ``extra``."""

from __future__ import annotations

import dataclasses

import pluggy
import pytest

from unigate.router import Router, StaticDomain, StaticDomainObjects
from unigate_hookspecs import routing
from unigate_hookspecs.markers import hookimpl
from unigate_hookspecs.routing import FailureKind, Reroute, Route, RouteFailure, RouteOp


def manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("unigate")
    pm.add_hookspecs(routing)
    for p in plugins:
        pm.register(p)
    pm.check_pending()
    return pm


def test_spec_is_firstresult_and_documented() -> None:
    pm = manager()
    opts = pm.hook.unigate_route.spec.opts
    assert opts["firstresult"] is True
    doc = routing.unigate_route.__doc__ or ""
    for part in (
        "Called when",
        "Params",
        "Return",
        "None = no opinion",
        "firstresult",
        "Async",
        "Example",
    ):
        assert part in doc


def test_values_are_frozen() -> None:
    r = Route("LOCAL", "alice@example.test", "alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.module = "SMTP"  # type: ignore[misc]
    assert str(r) == "LOCAL(alice@example.test)alice"
    f = RouteFailure(FailureKind.UNKNOWN, "unknown account", "x@example.test")
    assert str(f) == "UNKNOWN: unknown account (x@example.test)"
    assert Reroute("a@b").relay is False


def test_first_non_none_wins_and_plugs_into_the_router() -> None:
    class Silent:
        @hookimpl
        def unigate_route(self, server, address, operation):
            return None

    class Lists:
        @hookimpl
        def unigate_route(self, address, operation):  # a subset of the arguments
            if operation is RouteOp.MAIL and address.startswith("news@"):
                return Route("LIST", address, address)
            return None

    pm = manager(Lists(), Silent())
    objects = StaticDomainObjects(StaticDomain("example.test", accounts=["alice"]))
    router = Router("", objects)

    def extra(address: str, op: RouteOp):
        return pm.hook.unigate_route(server=None, address=address, operation=op)

    assert router.route("news@example.test", RouteOp.MAIL, extra=extra) == Route(
        "LIST", "news@example.test", "news@example.test"
    )
    result = router.route("other@example.test", RouteOp.MAIL, extra=extra)
    assert isinstance(result, RouteFailure) and result.kind is FailureKind.UNKNOWN
