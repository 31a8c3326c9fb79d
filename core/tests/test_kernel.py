"""The kernel serving a real plugin: listeners, address lists, limits, TLS, broken plugins."""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

import pytest

from unigate.plugins import PluginLoadError, load
from unigate.testing.server import serve_in_thread
from unigate_hookspecs import ListenerSpec, hookimpl


def _talk(port: int, lines: list[bytes], *, wrap: ssl.SSLContext | None = None) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        sock = wrap.wrap_socket(raw, server_hostname="localhost") if wrap else raw
        for line in lines:
            sock.sendall(line)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def test_hello_plugin_is_served(tmp_path: Path, hello_plugin) -> None:
    with serve_in_thread(
        tmp_path,
        plugins=[],
        extra_plugins=[("hello", hello_plugin)],
        extra='[hello]\ngreeting = "howdy"\n',
    ) as running:
        listeners = json.loads((running.data_dir / "run" / "listeners.json").read_text())
        assert list(listeners) == ["hello"]
        reply = _talk(running.port("hello"), [b"HELLO bob\r\n", b"NOOP\r\nBOGUS\r\nQUIT\r\n"])
    assert reply == (
        b"+OK Unigate hello service ready\r\n+OK howdy, bob\r\n+OK\r\n"
        b"-ERR unknown command\r\n+OK bye\r\n"
    )
    assert not (running.data_dir / "run" / "listeners.json").exists()


def test_bind_empty_turns_a_listener_off(tmp_path: Path, hello_plugin) -> None:
    with serve_in_thread(
        tmp_path,
        plugins=[],
        extra_plugins=[("hello", hello_plugin)],
        extra="[listeners.hello]\nbind = []\n",
    ) as running:
        assert running.listeners() == {}


def test_denied_address_is_closed_before_any_byte(tmp_path: Path, hello_plugin) -> None:
    extra = '[protection]\ndenied = ["127.0.0.0/8"]\n'
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("hello", hello_plugin)], extra=extra
    ) as running:
        assert _talk(running.port("hello"), []) == b""


def test_listener_grant_list(tmp_path: Path, hello_plugin) -> None:
    extra = '[listeners.hello]\nbind = ["127.0.0.1:0"]\ngrant = ["10.0.0.0/8"]\n'
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("hello", hello_plugin)], extra=extra
    ) as running:
        assert _talk(running.port("hello"), []) == b""


def test_connections_per_address_are_limited(tmp_path: Path, hello_plugin) -> None:
    extra = '[listeners.hello]\nbind = ["127.0.0.1:0"]\nmax_per_address = 2\n'
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("hello", hello_plugin)], extra=extra
    ) as running:
        port = running.port("hello")
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        for sock in held:
            assert sock.recv(100).startswith(b"+OK")
        assert _talk(port, []) == b""
        held[0].close()
        time.sleep(0.2)
        assert _talk(port, [b"QUIT\r\n"]).endswith(b"+OK bye\r\n")
        held[1].close()


def test_implicit_tls_uses_the_self_signed_certificate(tmp_path: Path, hello_plugin) -> None:
    extra = '[listeners.hello]\nbind = ["127.0.0.1:0"]\ntls = "implicit"\n'
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("hello", hello_plugin)], extra=extra
    ) as running:
        context = ssl.create_default_context(
            cafile=str(running.data_dir / "Settings" / "Certificate.pem")
        )
        reply = _talk(running.port("hello"), [b"HELLO tls\r\nQUIT\r\n"], wrap=context)
    assert b"+OK hello, tls\r\n" in reply


class Broken:
    """A plugin whose session handler raises: the server must survive it."""

    @staticmethod
    async def handle(connection) -> None:
        await connection.send(b"boom\r\n")
        raise RuntimeError("plugin bug")

    @hookimpl
    def unigate_listeners(self):
        return [ListenerSpec("broken", 1, self.handle)]


def test_a_crashing_session_does_not_kill_the_server(tmp_path: Path, hello_plugin) -> None:
    plugins = [("hello", hello_plugin), ("broken", Broken())]
    with serve_in_thread(tmp_path, plugins=[], extra_plugins=plugins) as running:
        assert _talk(running.port("broken"), []) == b"boom\r\n"
        assert _talk(running.port("hello"), [b"QUIT\r\n"]).endswith(b"+OK bye\r\n")


class Misspelt:
    @hookimpl
    def unigate_listners(self):  # a typo: must fail start-up, not be silently ignored
        return []


def test_a_misspelt_hook_fails_loading() -> None:
    with pytest.raises(PluginLoadError, match="unigate_listners"):
        load([], extra=[("misspelt", Misspelt())])


def test_an_enabled_plugin_that_is_not_installed_is_named() -> None:
    with pytest.raises(PluginLoadError, match="'nosuch'"):
        load(["nosuch"])


def test_running_server_call_runs_on_the_server_loop(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=["storage_sliced"]) as running:
        running.server.objects.add_account("m@example.test")
        manager = running.server.service("mailboxes")
        uid = running.call(
            manager.deliver, "m@example.test", "INBOX", b"Subject: x\r\n\r\nbody\r\n"
        )
        status = running.call(manager.status, "m@example.test", "INBOX", "m@example.test")
    assert uid == 1 and status.messages == 1
