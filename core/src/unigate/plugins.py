"""Plugin discovery (stevedore), registration and hook calling (pluggy).

stevedore finds and imports the entry points of group ``unigate``; each loaded object
is registered with one pluggy ``PluginManager`` per server (never a module-level one,
so tests can run several servers in one process). A plugin that fails to import is
reported by name with its exception and the server does not start. pluggy calls sync
hooks; async hooks go through :func:`acall`, :func:`acall_first` and :func:`ajudge`,
which walk the implementations in the configured order and await each one (pluggy
itself never awaits).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

import unigate_hookspecs
from unigate_hookspecs.markers import PROJECT_NAME
from unigate_hookspecs.verdict import CONTINUE, Verdict

ENTRY_POINT_GROUP = "unigate"


class PluginLoadError(Exception):
    """One or more plugins could not be loaded; the message names each with its error."""


@dataclass(frozen=True)
class PluginInfo:
    """What ``unigate plugins`` shows about one loaded plugin."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


@dataclass
class Plugins:
    """The loaded plugins of one server: the pluggy manager and what was loaded from where."""

    manager: pluggy.PluginManager
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def info(self) -> list[PluginInfo]:
        """Name, distribution, version and implemented hooks of every loaded plugin."""
        result = []
        installed = discover()
        for name in sorted(self.entry_points):
            plugin = self.manager.get_plugin(name)
            if plugin is None:
                continue
            ep = installed.get(name, self.entry_points[name])
            dist = getattr(ep, "dist", None)
            hooks = tuple(
                sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or ())
            )
            result.append(
                PluginInfo(
                    name=name,
                    distribution=dist.metadata["Name"] if dist else "?",
                    version=dist.version if dist else "?",
                    hooks=hooks,
                )
            )
        return result


def new_manager() -> pluggy.PluginManager:
    """A plugin manager knowing every hook family of the contract."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    for family in unigate_hookspecs.FAMILIES:
        manager.add_hookspecs(family)
    if os.environ.get("UNIGATE_TRACE_HOOKS"):
        manager.trace.root.setwriter(print)
        manager.enable_tracing()
    return manager


def discover() -> dict[str, EntryPoint]:
    """Every installed entry point of group ``unigate`` by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(
    enabled: Iterable[str] | None = None,
    *,
    order: Iterable[str] = (),
    extra: Iterable[tuple[str, object]] = (),
) -> Plugins:
    """Load and register plugins; raise PluginLoadError naming every plugin that failed.

    ``enabled`` lists entry-point names (None: all installed). ``order`` names plugins
    to call first, in that order; the others follow by name. ``extra`` registers
    in-process plugin objects (tests) after the entry points.
    """
    from stevedore import ExtensionManager, NamedExtensionManager

    failures: list[str] = []

    def on_failure(_manager: Any, ep: EntryPoint, exc: BaseException) -> None:
        failures.append(
            f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
        )

    if enabled is None:
        extensions = ExtensionManager(
            namespace=ENTRY_POINT_GROUP, invoke_on_load=False, on_load_failure_callback=on_failure
        )
    else:
        wanted = list(enabled)
        missing: list[str] = []
        extensions = NamedExtensionManager(
            namespace=ENTRY_POINT_GROUP,
            names=wanted,
            invoke_on_load=False,
            name_order=True,
            on_load_failure_callback=on_failure,
            on_missing_entrypoints_callback=lambda names: missing.extend(names),
        )
        for name in missing:
            failures.append(f"plugin {name!r} is enabled in the settings but not installed")
    if failures:
        raise PluginLoadError("\n".join(failures))

    loaded = [(ext.name, ext.plugin, ext.entry_point) for ext in extensions]
    loaded += [(name, obj, None) for name, obj in extra]
    first = list(order)
    rank = {name: index for index, name in enumerate(first)}
    loaded.sort(key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    manager = new_manager()
    plugins = Plugins(manager=manager, order=[name for name, _, _ in loaded])
    # pluggy calls the last registered implementation first: register in reverse order.
    for name, obj, ep in reversed(loaded):
        try:
            manager.register(obj, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            failures.append(f"plugin {name!r} is invalid: {exc}")
            continue
        if ep is not None:
            plugins.entry_points[name] = ep
    if failures:
        raise PluginLoadError("\n".join(failures))
    # Plugins publish their own hook specs (smtp_rcpt, ...) before anything is checked,
    # so a filter plugin implementing them validates against the published spec.
    manager.hook.unigate_addhooks.call_historic(kwargs={"pluginmanager": manager})
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"plugin {manager.get_name(exc.plugin)!r}: {exc}") from None
    return plugins


def _implementations(manager: pluggy.PluginManager, name: str) -> list[pluggy.HookImpl]:
    caller = getattr(manager.hook, name)
    return list(reversed(caller.get_hookimpls()))


async def _await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _call_args(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {arg: kwargs[arg] for arg in impl.argnames if arg in kwargs}


async def acall(manager: pluggy.PluginManager, name: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of hook ``name`` in order, awaiting each; non-None results."""
    results = []
    for impl in _implementations(manager, name):
        value = await _await(impl.function(**_call_args(impl, kwargs)))
        if value is not None:
            results.append(value)
    return results


async def acall_first(manager: pluggy.PluginManager, name: str, **kwargs: Any) -> Any:
    """Call implementations in order until one returns non-None (firstresult, awaited)."""
    for impl in _implementations(manager, name):
        value = await _await(impl.function(**_call_args(impl, kwargs)))
        if value is not None:
            return value
    return None


async def ajudge(manager: pluggy.PluginManager, name: str, **kwargs: Any) -> Verdict:
    """Walk a judging hook until a final Verdict; return it naming the plugin (CONTINUE if none)."""
    for impl in _implementations(manager, name):
        value = await _await(impl.function(**_call_args(impl, kwargs)))
        if value is None:
            continue
        if not isinstance(value, Verdict):
            raise TypeError(
                f"hook {name} of plugin {impl.plugin_name!r} returned {value!r}, not a Verdict"
            )
        if value.final:
            return value.by(impl.plugin_name)
    return CONTINUE
