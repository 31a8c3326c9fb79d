"""A new user's install: the contract, the kernel and one plugin in a fresh virtualenv.

``pip install ./hookspecs ./core ./examples/hello-plugin`` must give a server that serves
exactly what the hello plugin adds: its listener answers on the port written to
``listeners.json``, and no other listener exists. Slow (pip builds three wheels and
fetches the kernel's dependencies), so it runs once, in its own virtualenv.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_pip_install_of_core_and_one_plugin_serves_that_plugin_alone(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "hookspecs"),
            str(ROOT / "core"),
            str(ROOT / "examples" / "hello-plugin"),
        ],
        check=True,
        timeout=600,
    )
    plugins = subprocess.run(
        [str(env_dir / "bin" / "unigate"), "plugins"], capture_output=True, text=True, timeout=60
    )
    assert plugins.returncode == 0, plugins.stderr
    names = [line.split("\t")[0] for line in plugins.stdout.splitlines() if line[:1].strip()]
    assert names == ["hello"]
    config = tmp_path / "unigate.toml"
    data = tmp_path / "data"
    config.write_text(
        f'[server]\ndata_dir = "{data}"\nmain_domain = "example.test"\n'
        '[listeners.hello]\nbind = ["127.0.0.1:0"]\n[logging]\nconsole = false\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    process = subprocess.Popen(
        [str(env_dir / "bin" / "unigate"), "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        listeners = data / "run" / "listeners.json"
        deadline = time.monotonic() + 60
        while not listeners.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listeners.exists(), process.communicate(timeout=10)
        bound = json.loads(listeners.read_text())
        assert list(bound) == ["hello"]
        ((host, port),) = bound["hello"]
        with socket.create_connection((host, port), timeout=10) as sock:
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"+OK")
            sock.sendall(b"HELLO world\r\n")
            assert reader.readline() == b"+OK hello, world\r\n"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0
    assert sys.executable != str(python)  # the test really ran another interpreter
