"""The Server: loads plugins, validates settings, starts the services, binds and serves.

One :class:`Server` per process in production, several per process in tests: all
state hangs off the instance (its own plugin manager, logs, stores). Start-up order:

1. read ``[plugins]`` and load the enabled entry points (a broken plugin stops start-up);
2. collect listener declarations and settings models, validate the whole file;
3. ``unigate_configure``; open the data directory, the account database, the services;
4. ``unigate_startup``; bind every listener (a bind failure stops start-up);
5. write ``<data>/run/listeners.json`` and serve until SIGTERM/SIGINT or :meth:`stop`;
6. stop accepting, wake idle sessions, give busy ones the grace period, cancel the rest,
   ``unigate_shutdown``, exit 0.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from unigate import plugins as plugin_loading
from unigate.auth import Authenticator
from unigate.certificates import make_self_signed, server_context
from unigate.classify import AddressClassifier
from unigate.listening import BoundListener, bind, close_listening, effective_endpoints, serve
from unigate.logs import Logger, LogHub
from unigate.objects import ObjectStore
from unigate.routing import RoutingService
from unigate.settings import Settings, SettingsError, plugins_section, read_toml, validate
from unigate_hookspecs.listeners import ListenerSpec, TLSMode
from unigate_hookspecs.verdict import Verdict


class StartupError(Exception):
    """The server cannot start; the message says why (one problem per line)."""


def load_configuration(
    config: Path | None,
    *,
    data_dir: Path | None = None,
    extra_plugins: list[tuple[str, object]] | None = None,
) -> tuple[Settings, plugin_loading.Plugins, list[ListenerSpec]]:
    """Load plugins and validate the settings file; raise SettingsError / PluginLoadError."""
    source, raw = read_toml(config)
    chosen = plugins_section(source, raw)
    loaded = plugin_loading.load(chosen.enabled, order=chosen.order, extra=extra_plugins or ())
    specs: list[ListenerSpec] = []
    owners: dict[str, str] = {}
    problems: list[str] = []
    for impl in reversed(loaded.hook.unigate_listeners.get_hookimpls()):
        for spec in impl.function() or []:
            if spec.name in owners:
                problems.append(
                    f"listener {spec.name!r} declared by both {owners[spec.name]!r} and {impl.plugin_name!r}"
                )
                continue
            owners[spec.name] = impl.plugin_name
            specs.append(spec)
    models: dict[str, Any] = {}

    def collect(answer: Any) -> None:
        if answer is not None:
            section, model = answer
            models[section] = model

    loaded.hook.unigate_settings_model.call_historic(result_callback=collect)
    if problems:
        raise SettingsError([f"{source}: {p}" for p in problems])
    settings = validate(source, raw, listeners=specs, plugin_models=models)
    if data_dir is not None:
        settings.server = settings.server.model_copy(update={"data_dir": data_dir})
    loaded.hook.unigate_configure.call_historic(kwargs={"settings": settings})
    return settings, loaded, specs


class Server:
    """One running Unigate server: settings, plugins, services and listeners."""

    def __init__(
        self,
        settings: Settings,
        plugins: plugin_loading.Plugins,
        listener_specs: list[ListenerSpec],
        *,
        log_stream: Any = None,
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.pm = plugins.manager
        self.listener_specs = listener_specs
        self.data_dir = Path(settings.server.data_dir).absolute()
        self.state: dict[str, Any] = {}
        logging_settings = settings.logging
        self.logs = LogHub(
            directory=self.data_dir / "SystemLogs" if logging_settings.file else None,
            level=logging_settings.level,
            components=logging_settings.components,
            console=logging_settings.console,
            json_lines=logging_settings.json_lines,
            limit=logging_settings.queue_limit,
            stream=log_stream,
        )
        self.log: Logger = self.logs.logger("SYSTEM")
        replacement = self.pm.hook.unigate_account_database(
            settings=settings, data_dir=self.data_dir
        )
        self.objects = replacement or ObjectStore(
            self.data_dir, main_domain=settings.server.main_domain or None
        )
        self.classifier = AddressClassifier(
            settings.protection, dns_servers=settings.server.dns_servers
        )
        self.auth = Authenticator(self)
        self.routing = RoutingService(self.objects, server=self)
        self.tls_context: ssl.SSLContext | None = None
        self.listeners: dict[str, BoundListener] = {}
        self.closing = False
        self._task_group: TaskGroup | None = None
        self._stop_event: anyio.Event | None = None
        self._services: dict[str, Any] = {"router": self.routing}

    # -- hooks -------------------------------------------------------------------------------

    async def call(self, name: str, **kwargs: Any) -> list[Any]:
        """Call an (async or sync) hook on every plugin in order; the non-None answers."""
        return await plugin_loading.acall(self.pm, name, **kwargs)

    async def call_first(self, name: str, **kwargs: Any) -> Any:
        """Call a firstresult hook: the first non-None answer, awaited."""
        return await plugin_loading.acall_first(self.pm, name, **kwargs)

    async def judge(self, name: str, **kwargs: Any) -> Verdict:
        """Call a judging hook until a final Verdict; the decision is logged with its plugin."""
        verdict = await plugin_loading.ajudge(self.pm, name, **kwargs)
        if verdict.final:
            self.logs.logger("HOOKS").low(
                f"{name}: {verdict.decision.value} by {verdict.plugin}: {verdict.text}"
            )
        return verdict

    # -- services ----------------------------------------------------------------------------

    def service(self, name: str) -> Any:
        """A kernel service by name (``mailboxes``, ``queue``, ``router``), or None if absent."""
        return self._services.get(name)

    def resolver(self, timeout: float = 7.0) -> Any:
        """A dnspython async resolver using ``[server] dns_servers`` (the OS's when empty)."""
        from unigate.resolver import make_resolver

        return make_resolver(self.settings.server.dns_servers, timeout=timeout)

    def register_service(self, name: str, service: Any) -> None:
        self._services[name] = service

    async def start_service(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> Any:
        """Start a long-running service task and wait until it reports ready (``task_status.started``)."""
        if self._task_group is None:
            raise RuntimeError("the server is not running")
        return await self._task_group.start(fn, *args, name=name)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> None:
        """Run a background task for the life of the server (cancelled at shutdown)."""
        if self._task_group is None:
            raise RuntimeError("the server is not running")
        self._task_group.start_soon(fn, *args, name=name)

    # -- the data directory --------------------------------------------------------------------

    def prepare_data_dir(self) -> None:
        """Create the manual's base-directory layout and the TLS certificate if missing."""
        for sub in (
            "Settings",
            "Queue",
            "BadFiles",
            "Accounts",
            "Domains",
            "Submitted",
            "SystemLogs",
            "run",
        ):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        cert, key = self.certificate_paths()
        if self.settings.server.certificate is None and not cert.exists():
            make_self_signed(self.objects.main_domain, cert, key)
        if cert.exists() and key.exists():
            self.tls_context = server_context(cert, key)

    def certificate_paths(self) -> tuple[Path, Path]:
        server = self.settings.server
        return (
            Path(server.certificate)
            if server.certificate
            else self.data_dir / "Settings" / "Certificate.pem",
            Path(server.private_key)
            if server.private_key
            else self.data_dir / "Settings" / "PrivateKey.pem",
        )

    # -- running -------------------------------------------------------------------------------

    async def run(
        self, *, ready: Callable[[Server], None] | None = None, handle_signals: bool = True
    ) -> None:
        """Serve until stopped. ``ready`` is called once every listener is bound."""
        self.logs.start()
        try:
            await self._run(ready, handle_signals)
        finally:
            self.logs.stop()

    async def _run(self, ready: Callable[[Server], None] | None, handle_signals: bool) -> None:
        self.prepare_data_dir()
        self._stop_event = anyio.Event()
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            self._start_services()
            if self.service("queue") is not None:
                await self.service("queue").start()
            from unigate.control import serve_control

            await self.start_service(serve_control, self, name="control")
            await self.call("unigate_startup", server=self)
            await self._bind_all()
            self._write_listeners_json()
            self.log.major(
                f"Unigate {_version()} started; main domain {self.objects.main_domain}; "
                + ", ".join(f"{n}={b.addresses}" for n, b in self.listeners.items())
            )
            if handle_signals:
                tg.start_soon(self._watch_signals)
            async with anyio.create_task_group() as session_group:
                for listener in self.listeners.values():
                    session_group.start_soon(serve, self, listener, session_group)
                if ready is not None:
                    ready(self)
                await self._stop_event.wait()
                await self._drain(session_group)
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await self.call("unigate_shutdown", server=self)
                await self._stop_services()
            (self.data_dir / "run" / "listeners.json").unlink(missing_ok=True)
            self.log.major("Unigate stopped")
            tg.cancel_scope.cancel()
        self._task_group = None

    def _start_services(self) -> None:
        """Create the kernel services that need plugins (mailbox formats, delivery modules)."""
        from unigate.mailservices import mailbox_manager

        try:
            manager = mailbox_manager(self.objects, self.pm)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        if manager is not None:
            self.register_service("mailboxes", manager)
        from unigate.queueservice import create_queue

        queue = create_queue(self)
        if queue is not None:
            self.register_service("queue", queue)

    async def _stop_services(self) -> None:
        queue = self.service("queue")
        if queue is not None:
            await queue.stop()
        manager = self.service("mailboxes")
        if manager is not None:
            await manager.aclose()

    async def _bind_all(self) -> None:
        server = self.settings.server
        for spec in self.listener_specs:
            listener_settings = self.settings.listener(spec.name)
            endpoints = effective_endpoints(
                spec,
                listener_settings,
                default_addresses=server.default_addresses,
                use_system_ports=server.use_system_ports,
            )
            if not endpoints:
                continue
            from unigate.addresslist import AddressList

            bound = BoundListener(
                spec=spec,
                settings=listener_settings,
                tls_mode=listener_settings.tls or spec.tls,
                endpoints=endpoints,
                grant=AddressList.of(listener_settings.grant),
                deny=AddressList.of(listener_settings.deny),
            )
            if bound.tls_mode is TLSMode.IMPLICIT and self.tls_context is None:
                raise StartupError(f"listener {spec.name} needs TLS but there is no certificate")
            try:
                await bind(bound)
            except OSError as exc:
                for other in [*self.listeners.values(), bound]:
                    for sock in other.sockets:
                        await close_listening(sock)
                raise StartupError(str(exc.strerror or exc)) from exc
            self.listeners[spec.name] = bound

    def _write_listeners_json(self) -> None:
        data = {name: [list(a) for a in bound.addresses] for name, bound in self.listeners.items()}
        path = self.data_dir / "run" / "listeners.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(temporary, path)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                self.log.major(f"got signal {signal.Signals(signum).name}: shutting down")
                self.stop()
                return

    def stop(self) -> None:
        """Ask the server to shut down (safe to call from any task of the server's loop)."""
        if self._stop_event is not None:
            self._stop_event.set()

    async def _drain(self, session_group: TaskGroup) -> None:
        self.closing = True
        for listener in self.listeners.values():
            for sock in listener.sockets:
                with anyio.CancelScope(shield=True):
                    await close_listening(sock)
        for listener in self.listeners.values():
            for connection in list(listener.connections):
                connection.begin_shutdown()
        with anyio.move_on_after(self.settings.server.shutdown_grace):
            while any(listener.active for listener in self.listeners.values()):
                await anyio.sleep(0.05)
        session_group.cancel_scope.cancel()


def _version() -> str:
    from unigate import __version__

    return __version__
