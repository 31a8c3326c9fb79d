"""The kernel's async hook caller: order is a setting, verdicts stop the asking, STARTTLS, UDP."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import anyio

from unigate.plugins import acall, ajudge, load
from unigate.testing.server import serve_in_thread
from unigate_hookspecs import Decision, ListenerSpec, Transport, Verdict, hookimpl


class Judge:
    def __init__(self, name: str, verdict: Verdict | None, seen: list[str]) -> None:
        self.name, self.verdict, self.seen = name, verdict, seen

    @hookimpl
    async def unigate_connection_opened(self, connection):
        self.seen.append(self.name)
        return self.verdict


def test_order_is_explicit_and_verdicts_stop_the_asking() -> None:
    seen: list[str] = []
    plugins = load(
        [],
        order=["b", "a"],
        extra=[
            ("a", Judge("a", Verdict.reject("no", code=554), seen)),
            ("b", Judge("b", None, seen)),
            ("c", Judge("c", Verdict.accept(), seen)),
        ],
    )
    verdict = anyio.run(
        lambda: ajudge(plugins.manager, "unigate_connection_opened", connection=None)
    )
    assert seen == ["b", "a"]
    assert verdict.decision is Decision.REJECT and verdict.plugin == "a" and verdict.code == 554
    seen.clear()
    results = anyio.run(
        lambda: acall(plugins.manager, "unigate_connection_opened", connection=None)
    )
    assert seen == ["b", "a", "c"] and len(results) == 2


class Refuser:
    @hookimpl
    def unigate_connection_opened(self, connection):
        if connection.peer.listener == "echo":
            return Verdict.disconnect("go away")
        return None


class EchoTLS:
    """A line protocol with STARTTLS, to prove the kernel's same-stream upgrade."""

    @staticmethod
    async def handle(connection) -> None:
        await connection.send(b"ready\r\n")
        while True:
            data = await connection.receive()
            if not data:
                return
            if data == b"STARTTLS\r\n":
                await connection.send(b"go\r\n")
                await connection.start_tls()
                continue
            await connection.send((b"tls " if connection.tls_active else b"plain ") + data)

    @staticmethod
    async def udp(sock) -> None:
        async for data, address in sock:
            await sock.sendto(b"echo " + data, *address)

    @hookimpl
    def unigate_listeners(self):
        return [
            ListenerSpec("tlsecho", 1, self.handle),
            ListenerSpec("echo", 2, self.handle),
            ListenerSpec("udpecho", 3, self.udp, transport=Transport.UDP),
        ]


def test_starttls_udp_and_a_refusing_plugin(tmp_path: Path) -> None:
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("echo", EchoTLS()), ("refuser", Refuser())]
    ) as running:
        with socket.create_connection(("127.0.0.1", running.port("tlsecho")), timeout=5) as sock:
            assert sock.recv(100) == b"ready\r\n"
            sock.sendall(b"one\r\n")
            assert sock.recv(100) == b"plain one\r\n"
            sock.sendall(b"STARTTLS\r\n")
            assert sock.recv(100) == b"go\r\n"
            context = ssl.create_default_context(
                cafile=str(running.data_dir / "Settings" / "Certificate.pem")
            )
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"two\r\n")
                received = b""
                while not received.endswith(b"\r\n"):
                    received += tls.recv(100)
                assert received == b"tls two\r\n"
        with socket.create_connection(("127.0.0.1", running.port("echo")), timeout=5) as sock:
            assert sock.recv(100) == b""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            udp.sendto(b"ping", ("127.0.0.1", running.port("udpecho")))
            assert udp.recv(100) == b"echo ping"


class ClusterAccounts:
    """A plugin replacing the account database (as a cluster's shared store would)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @hookimpl
    def unigate_account_database(self, settings, data_dir):
        from unigate.objects import ObjectStore

        store = ObjectStore(self.directory, main_domain="shared.test")
        store.set_main_domain("shared.test")
        return store


def test_a_plugin_can_replace_the_account_database(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    with serve_in_thread(
        tmp_path, plugins=[], extra_plugins=[("cluster", ClusterAccounts(shared))]
    ) as running:
        assert running.server.objects.data_dir == shared
        running.server.objects.add_account("x@shared.test", password="pw")
        outcome = anyio.run(
            lambda: running.server.auth.login("x@shared.test", "pw", service="imap")
        )
    assert outcome.ok
    assert (shared / "Accounts" / "x.macnt").is_dir()
