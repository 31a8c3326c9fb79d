"""The ``unigate`` command as an operator uses it, in child processes.

The example plugin is installed with pip into a directory of its own (as a third party
would install it) and found through its entry point, never through the source tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from unigate.objects import ObjectStore
from unigate.server import Server, load_configuration
from unigate.testing.server import serve_in_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install ./examples/hello-plugin`` into a private directory."""
    target = tmp_path_factory.mktemp("hello-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT / "examples" / "hello-plugin"),
        ],
        check=True,
    )
    return target


@pytest.fixture
def hello_env(hello_site: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = os.pathsep.join([str(hello_site), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    return {"PYTHONPATH": path}


def unigate(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unigate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=stdin,
        timeout=60,
    )


def test_check_config_names_every_bad_key(tmp_path: Path, hello_env: dict[str, str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[server]\nmain_domian = "x.test"\n\n[listeners.hello]\nbind = ["127.0.0.1:70000"]\n'
    )
    result = unigate("check-config", str(config), env=hello_env)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert f"{config}: server.main_domian: unknown key" in lines
    assert any(
        line.startswith(f"{config}: listeners.hello.bind: ") and "70000" in line for line in lines
    )
    assert len(lines) == 2
    served = unigate("serve", "--config", str(config), env=hello_env)
    assert served.returncode == 2
    assert served.stderr.splitlines() == lines
    config.write_text('[server]\nmain_domain = "x.test"\n')
    assert unigate("check-config", str(config), env=hello_env).returncode == 0


def test_plugins_lists_name_distribution_version_and_hooks(hello_env: dict[str, str]) -> None:
    result = unigate("plugins", env=hello_env)
    assert result.returncode == 0, result.stderr
    assert "hello\tunigate-hello 0.1.0" in result.stdout
    assert "unigate_listeners" in result.stdout and "unigate_admin_commands" in result.stdout


def test_plugin_admin_command(hello_env: dict[str, str], tmp_path: Path) -> None:
    result = unigate("hello", "world", "--data", str(tmp_path), env=hello_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello, world\n"


def test_account_add_then_login(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ObjectStore(data).set_main_domain("example.test")
    result = unigate(
        "account", "add", "alice@example.test", "--password", "Corr3ct-Horse", "--data", str(data)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice@example.test"
    assert unigate("account", "add", "alice@example.test", "--data", str(data)).returncode == 1
    for path in data.rglob("*"):
        if path.is_file():
            assert b"Corr3ct-Horse" not in path.read_bytes()
    config = tmp_path / "u.toml"
    config.write_text(
        f'[server]\ndata_dir = "{data}"\n[plugins]\nenabled = []\n[logging]\nconsole = false\n'
    )
    server = Server(*load_configuration(config))

    async def logins() -> tuple[object, object, object]:
        good = await server.auth.login(
            "alice", "Corr3ct-Horse", service="imap", peer_ip="127.0.0.1"
        )
        bad = await server.auth.login("alice", "wrong", service="imap", peer_ip="127.0.0.1")
        unknown = await server.auth.login("nobody", "x", service="imap", peer_ip="127.0.0.1")
        return good, bad, unknown

    good, bad, unknown = anyio.run(logins)
    assert good.account == "alice@example.test"
    assert bad.account is None and unknown.account is None
    assert bad.reason == unknown.reason == "Incorrect Account Name or Password"
    assert (
        unigate(
            "account", "passwd", "alice", "--password", "New-0ne", "--data", str(data)
        ).returncode
        == 0
    )
    again = anyio.run(
        lambda: server.auth.login("alice", "New-0ne", service="imap", peer_ip="127.0.0.2")
    )
    assert again.ok


def test_object_commands(tmp_path: Path) -> None:
    data = str(tmp_path)
    ObjectStore(tmp_path).set_main_domain("example.test")
    assert unigate("domain", "add", "client1.test", "--data", data).returncode == 0
    assert unigate("account", "add", "bob@client1.test", "--data", data).returncode == 0
    assert (
        unigate(
            "alias", "add", "robert@client1.test", "bob@client1.test", "--data", data
        ).returncode
        == 0
    )
    assert (
        unigate("forwarder", "add", "fwd@client1.test", "x@remote.test", "--data", data).returncode
        == 0
    )
    assert unigate("group", "add", "team@client1.test", "bob", "--data", data).returncode == 0
    assert unigate("domain", "list", "--data", data).stdout.splitlines() == [
        "example.test\t(main)",
        "client1.test",
    ]
    assert (
        unigate("account", "list", "client1.test", "--data", data).stdout
        == "bob\t(aliases: robert)\n"
    )
    assert (
        unigate("forwarder", "list", "client1.test", "--data", data).stdout
        == "fwd\t-> x@remote.test\n"
    )
    assert (
        unigate("group", "list", "client1.test", "--data", data).stdout
        == "team\tbob@client1.test\n"
    )
    refused = unigate("domain", "remove", "client1.test", "--data", data)
    assert refused.returncode == 1 and "has accounts" in refused.stderr
    assert unigate("account", "remove", "bob@client1.test", "--data", data).returncode == 0
    assert unigate("domain", "remove", "client1.test", "--data", data).returncode == 0


def test_installed_plugin_serves_alone_and_sigterm_drains_idle_connections(
    tmp_path: Path, hello_env: dict[str, str]
) -> None:
    extra = '[listeners.hello]\nbind = ["127.0.0.1:0"]\nmax_per_address = 200\n'
    with serve_in_process(tmp_path, plugins=["hello"], env=hello_env, extra=extra) as running:
        assert list(running.listeners()) == ["hello"]
        port = running.port("hello")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.recv(100)
            sock.sendall(b"HELLO there\r\n")
            assert sock.recv(100) == b"+OK hello, there\r\n"
        idle = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(sock)
        for sock in idle:
            assert sock.recv(100).startswith(b"+OK")
        started = time.monotonic()
        assert running.process is not None
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(10)
        elapsed = time.monotonic() - started
        for sock in idle:
            sock.close()
    assert code == 0
    assert elapsed < 5.0


def test_first_run_creates_everything_and_prints_the_password(
    tmp_path: Path, hello_env: dict[str, str]
) -> None:
    config = tmp_path / "u.toml"
    config.write_text(
        '[plugins]\nenabled = ["hello"]\n[listeners.hello]\nbind = ["127.0.0.1:0"]\n'
        "[logging]\nconsole = false\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "unigate", "serve", "--config", str(config)],
        cwd=tmp_path,
        env={**os.environ, **hello_env},
        stdout=subprocess.PIPE,
        text=True,
    )
    data = tmp_path / "unigate-data"
    deadline = time.monotonic() + 30
    while not (data / "run" / "listeners.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    password = next(line for line in out.splitlines() if "created with password:" in line).rsplit(
        " ", 1
    )[1]
    for sub in ("Settings", "Queue", "Accounts", "Domains", "SystemLogs"):
        assert (data / sub).is_dir()
    assert (data / "Settings" / "Certificate.pem").is_file()
    store = ObjectStore(data)
    postmaster = f"postmaster@{store.main_domain}"
    assert store.server_rights(postmaster) == ["Master"]
    from unigate.passwords import verify_password

    assert verify_password(store.account_settings(postmaster)["Password"], password)


def test_sasl_logins_through_the_service(tmp_path: Path) -> None:

    import scramp

    from unigate.auth import SaslDone
    from unigate.sasl import Challenge

    data = tmp_path / "data"
    store = ObjectStore(data)
    store.set_main_domain("example.test")
    store.add_account("carol@example.test", password="pencil-42")
    store.add_account("dave@example.test", password="x", settings={"AccessModes": ["POP"]})
    config = tmp_path / "u.toml"
    config.write_text(
        f'[server]\ndata_dir = "{data}"\n[plugins]\nenabled = []\n[logging]\nconsole = false\n'
    )
    server = Server(*load_configuration(config))

    async def run() -> None:
        login = server.auth.start_sasl("PLAIN", service="imap", peer_ip="127.0.0.1")
        done = await login.step(b"\0carol\0pencil-42")
        assert isinstance(done, SaslDone) and done.outcome.account == "carol@example.test"
        login = server.auth.start_sasl("PLAIN", service="imap", peer_ip="127.0.0.1")
        done = await login.step(b"\0dave\0x")
        assert isinstance(done, SaslDone) and not done.outcome.ok and "IMAP" in done.outcome.reason
        client = scramp.ScramClient(["SCRAM-SHA-256"], "carol", "pencil-42")
        login = server.auth.start_sasl("SCRAM-SHA-256", service="imap", peer_ip="127.0.0.1")
        challenge = await login.step(client.get_client_first().encode())
        assert isinstance(challenge, Challenge)
        client.set_server_first(challenge.data.decode())
        done = await login.step(client.get_client_final().encode())
        assert isinstance(done, SaslDone) and done.outcome.account == "carol@example.test"
        client.set_server_final(done.additional.decode())

    anyio.run(run)


def test_serve_fits_the_gc_once_started() -> None:
    """`unigate serve` freezes its start-up heap and raises the young-collection threshold
    (checked in a child process: freezing is for the serving process, not pytest's)."""
    code = (
        "import gc; from unigate import cli; cli._started(None); "
        "print(gc.get_freeze_count() > 0, gc.get_threshold()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", str(20_000)]
