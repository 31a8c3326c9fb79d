"""Run a real Unigate server in tests: in a thread (fast) or as a child process (signals, kill -9).

Both bind every listener the settings do not name to an ephemeral loopback port, so
tests never collide, and expose the bound ports from ``<data>/run/listeners.json``.

    with serve_in_thread(tmp_path, plugins=["smtp"]) as running:
        port = running.port("smtp")

A plugin's own tests use this too: it is part of the kit, like the storage kit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_CONFIG = """\
[server]
data_dir = "{data}"
main_domain = "{domain}"
default_addresses = ["127.0.0.1"]
shutdown_grace = 2.0

[logging]
console = false
level = {level}
"""


def write_config(
    directory: Path,
    *,
    plugins: list[str] | None = None,
    extra: str = "",
    domain: str = "example.test",
    level: int = 5,
) -> Path:
    """Write a test settings file in ``directory`` (data in ``directory/data``); returns its path."""
    data = directory / "data"
    text = BASE_CONFIG.format(data=data.as_posix(), domain=domain, level=level)
    if plugins is not None:
        text += "\n[plugins]\nenabled = [" + ", ".join(f'"{p}"' for p in plugins) + "]\n"
    text += "\n" + extra
    path = directory / "unigate.toml"
    path.write_text(text)
    return path


def read_listeners(data_dir: Path) -> dict[str, list[tuple[str, int]]]:
    """The bound addresses the server wrote to ``run/listeners.json``."""
    raw = json.loads((data_dir / "run" / "listeners.json").read_text())
    return {name: [(host, int(port)) for host, port in items] for name, items in raw.items()}


@dataclass
class RunningServer:
    """A started server: its data directory and bound listeners (and, in-thread, the Server)."""

    data_dir: Path
    config: Path
    server: Any = None
    process: subprocess.Popen[bytes] | None = None
    portal: Any = None

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` (sync or async) on the in-thread server's event loop; its result.

        For tests that use kernel services directly, e.g.
        ``running.call(running.server.service("mailboxes").deliver, account, "INBOX", data)``.
        """
        if self.portal is None:
            raise RuntimeError("call() needs a server started with serve_in_thread")
        return self.portal.call(fn, *args)

    def listeners(self) -> dict[str, list[tuple[str, int]]]:
        return read_listeners(self.data_dir)

    def port(self, listener: str, index: int = 0) -> int:
        return self.listeners()[listener][index][1]

    @property
    def objects(self) -> Any:
        from unigate.objects import ObjectStore

        return ObjectStore(
            self.data_dir, main_domain=self.server.objects.main_domain if self.server else None
        )


def _ephemeral(settings: Any, specs: list[Any]) -> None:
    from unigate.settings import ListenerSettings

    for spec in specs:
        if spec.name not in settings.listeners:
            settings.listeners[spec.name] = ListenerSettings(bind=["127.0.0.1:0"])


@contextmanager
def serve_in_thread(
    directory: Path,
    *,
    plugins: list[str] | None = None,
    extra: str = "",
    extra_plugins: list[tuple[str, object]] | None = None,
    domain: str = "example.test",
    config: Path | None = None,
) -> Iterator[RunningServer]:
    """Start a server in a background thread with its own event loop; stop it on exit."""
    import anyio.from_thread

    from unigate.server import Server, load_configuration

    config = config or write_config(directory, plugins=plugins, extra=extra, domain=domain)
    settings, loaded, specs = load_configuration(config, extra_plugins=extra_plugins)
    _ephemeral(settings, specs)
    server = Server(settings, loaded, specs)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with anyio.from_thread.start_blocking_portal() as portal:
                holder["portal"] = portal
                future = portal.start_task_soon(
                    lambda: server.run(ready=lambda _s: ready.set(), handle_signals=False)
                )
                holder["future"] = future
                future.result()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)
            ready.set()

    holder: dict[str, Any] = {}
    thread = threading.Thread(target=run, name="unigate-test-server", daemon=True)
    thread.start()
    if not ready.wait(30) or failure:
        raise RuntimeError(f"server did not start: {failure[0] if failure else 'timeout'}")
    try:
        yield RunningServer(
            data_dir=server.data_dir, config=config, server=server, portal=holder.get("portal")
        )
    finally:
        portal = holder.get("portal")
        if portal is not None:
            with suppress(RuntimeError):
                portal.call(server.stop)
        thread.join(30)
        if failure and not isinstance(failure[0], KeyboardInterrupt):
            raise failure[0]


@contextmanager
def serve_in_process(
    directory: Path,
    *,
    plugins: list[str] | None = None,
    extra: str = "",
    domain: str = "example.test",
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[RunningServer]:
    """Start ``python -m unigate serve`` as a child; SIGTERM it on exit (kill -9 is the test's)."""
    from unigate.plugins import PluginLoadError
    from unigate.server import load_configuration
    from unigate.settings import SettingsError

    config = write_config(directory, plugins=plugins, extra=extra, domain=domain)
    try:
        _, _, specs = load_configuration(config)
    except (
        SettingsError,
        PluginLoadError,
    ):  # plugins only the child can see: the caller binds them
        specs = []
    binds = "".join(
        f'\n[listeners.{s.name}]\nbind = ["127.0.0.1:0"]\n'
        for s in specs
        if f"[listeners.{s.name}]" not in extra
    )
    config.write_text(config.read_text() + binds)
    data = directory / "data"
    listeners_file = data / "run" / "listeners.json"
    listeners_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "unigate", "serve", "--config", str(config)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while not listeners_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            process.kill()
            raise RuntimeError(f"server did not start (exit {process.returncode}):\n{output}")
        time.sleep(0.05)
    try:
        yield RunningServer(data_dir=data, config=config, process=process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
