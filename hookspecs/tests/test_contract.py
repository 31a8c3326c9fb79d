"""The contract itself: every hook documented with the template, markers, families."""

from __future__ import annotations

import inspect

import pluggy
import pytest

import unigate_hookspecs
from unigate_hookspecs import Decision, Verdict


def _specs():
    for family in unigate_hookspecs.FAMILIES:
        for name, fn in inspect.getmembers(family, inspect.isfunction):
            if name.startswith("unigate_") and fn.__module__ == family.__name__:
                yield name, fn


@pytest.mark.parametrize(("name", "fn"), list(_specs()))
def test_every_hook_has_the_template(name: str, fn) -> None:
    doc = inspect.getdoc(fn) or ""
    assert "Called when" in doc, name
    assert "Return" in doc, name
    assert hasattr(fn, "unigate_spec"), f"{name} is not marked with hookspec"


def test_all_families_register() -> None:
    manager = pluggy.PluginManager("unigate")
    for family in unigate_hookspecs.FAMILIES:
        manager.add_hookspecs(family)
    assert hasattr(manager.hook, "unigate_listeners")
    assert hasattr(manager.hook, "unigate_storage_formats")


def test_verdicts() -> None:
    assert not Verdict.proceed().final
    rejected = Verdict.reject("no such user", code=550, status="5.1.1").by("rbl")
    assert rejected.final and rejected.decision is Decision.REJECT and rejected.plugin == "rbl"
    assert Verdict.defer("later").decision is Decision.DEFER
