"""The control socket of a running server: raw CLI protocol, and ``unigate queue`` through it."""

from __future__ import annotations

import smtplib
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unigate import __version__, dataformat
from unigate.cli import main
from unigate.control import ControlError, connect, control_path
from unigate.testing.server import RunningServer, serve_in_thread

PLUGINS = ["smtp", "local", "storage_sliced"]
EXTRA = '[smtp]\nhosts = {"down.test" = "127.0.0.1:1"}\nconnect_timeout = 1\n'


def _queue_one(running: RunningServer, subject: str = "stuck") -> None:
    """Queue a message to a host that is down, so it stays in the Queue."""
    objects = running.server.objects
    if objects.resolve("alice@example.test") is None:
        objects.add_account("alice@example.test", password="pw")
    with smtplib.SMTP("127.0.0.1", running.port("submission")) as client:
        client.login("alice@example.test", "pw")
        client.sendmail(
            "alice@example.test",
            ["dave@down.test"],
            f"Subject: {subject}\r\n\r\nwaiting\r\n".encode(),
        )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    with serve_in_thread(tmp_path, plugins=PLUGINS, extra=EXTRA) as server:
        yield server


class Raw:
    """A raw control connection: send lines, read reply lines."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _wait_delayed(data: Path, queue_id: str) -> dict[str, dataformat.Value]:
    """Wait until the message's recipient is back to waiting (its attempt is over)."""
    deadline = time.monotonic() + 10
    client = connect(data)
    assert client is not None
    with client:
        while True:
            info = client.call("GETQUEUEMESSAGEINFO", queue_id)
            assert isinstance(info, dict)
            states = [r["state"] for r in info["recipients"]]  # type: ignore[index,union-attr]
            if "processing" not in states and "ready" not in states:
                return info
            assert time.monotonic() < deadline, states
            time.sleep(0.02)


def test_socket_is_private_and_removed_at_shutdown(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=PLUGINS, extra=EXTRA) as running:
        path = control_path(running.data_dir)
        assert path == running.data_dir / "run" / "control.sock"
        mode = path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not path.exists()
    assert connect(tmp_path / "data") is None


def test_raw_protocol(running: RunningServer) -> None:
    raw = Raw(control_path(running.data_dir))
    try:
        assert (
            raw.line() == f"200 Unigate at example.test PWD Server {__version__} ready\r\n".encode()
        )
        raw.send(b"GetVersion\r\n")
        assert raw.line() == b"200 data follow\r\n"
        assert raw.line() == dataformat.dumps(__version__).encode() + b"\r\n"
        raw.send(b"NOOP\r\nECHO {a=(b,#1);}\r\nLISTDOMAINS\r\n")
        assert raw.line() == b"200 OK\r\n"
        assert raw.line() == b"200 data follow\r\n"
        assert raw.line() == b"{a=(b,#1);}\r\n"
        assert raw.line() == b"200 data follow\r\n"
        assert raw.line() == b'("example.test")\r\n'
        raw.send(b"FROBNICATE 1\r\nECHO\r\nNOOP extra\r\nECHO (a,\r\n")
        assert raw.line() == b"500 unknown command\r\n"
        assert raw.line() == b"500 ECHO: missing object\r\n"
        assert raw.line() == b"500 NOOP: unexpected 'extra'\r\n"
        assert raw.line() == b"500 ECHO: unterminated array or dictionary\r\n"
        raw.send(b"USER postmaster\r\n")
        assert raw.line() == b"500 already logged in\r\n"
        raw.send(b'GETQUEUEMESSAGEINFO "nope-1"\r\nREJECTQUEUEMESSAGE nope-1\r\n')
        assert raw.line() == b"501 no message nope-1 in the Queue\r\n"
        assert raw.line() == b"501 no message nope-1 in the Queue\r\n"
        raw.send(b"LISTQUEUEMESSAGES\r\nGETMESSAGEQUEUEINFO SMTP QUEUE down.test\r\n")
        assert raw.line() == b"200 data follow\r\n"
        assert raw.line() == b"()\r\n"
        assert raw.line() == b"200 data follow\r\n"
        assert raw.line() == b"{}\r\n"
        raw.send(b'INLINE\r\nECHO "x y"\r\n')
        assert raw.line() == b"200 OK\r\n"
        assert raw.line() == b'201 "x y"\r\n'
        raw.send(b"QUIT\r\n")
        assert raw.line() == b"200 Unigate PWD connection closed\r\n"
        assert raw.line() == b""
    finally:
        raw.close()


def test_accounts_and_log(running: RunningServer) -> None:
    running.server.objects.add_account(
        "bob@example.test", password="pw", settings={"RealName": "Bob"}
    )
    client = connect(running.data_dir)
    assert client is not None
    with client:
        assert client.call("MAINDOMAINNAME") == "example.test"
        accounts = client.call("LISTACCOUNTS")
        assert isinstance(accounts, dict) and accounts["bob"] == "macnt"
        assert client.call("LISTACCOUNTS", "example.test") == accounts
        settings = client.call("GETACCOUNTSETTINGS", "bob")
        assert isinstance(settings, dict) and settings["RealName"] == "Bob"
        with pytest.raises(ControlError) as caught:
            client.call("GETACCOUNTSETTINGS", "nobody")
        assert (caught.value.code, caught.value.text) == (501, "unknown account nobody")
        with pytest.raises(ControlError):
            client.call("GETACCOUNTSETTINGS", "*")
        with pytest.raises(ControlError) as caught:
            client.call("LISTACCOUNTS", "nowhere.test")
        assert caught.value.code == 501
        assert client.call("WRITELOG", 2, "hello from the CLI") is None
        with pytest.raises(ControlError) as caught:
            client.call("WRITELOG", 9, "x")
        assert caught.value.code == 500
        assert "GETVERSION" in client.call("LISTCLICOMMANDS")  # type: ignore[operator]
        assert isinstance(client.call("GETCURRENTTIME"), dataformat.Timestamp)


def test_queue_cli_on_a_running_server(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(running.data_dir)
    _queue_one(running)
    queue = running.server.service("queue")
    assert queue.count == 1
    capsys.readouterr()
    assert main(["queue", "list", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "<alice@example.test>" in listing and "dave@down.test" in listing
    queue_id = listing.split("\t")[0]
    info = _wait_delayed(running.data_dir, queue_id)
    assert info["ID"] == queue_id and info["returnPath"] == "alice@example.test"

    assert main(["queue", "show", queue_id, "--data", data]) == 0
    shown = capsys.readouterr().out
    assert "Recipient: dave@down.test SMTP(down.test)" in shown
    assert "Subject: stuck" in shown

    client = connect(running.data_dir)
    assert client is not None
    with client:
        summary = client.call("GETMESSAGEQUEUEINFO", "SMTP", "QUEUE", "down.test")
    assert isinstance(summary, dict)
    assert summary["nTotal"] == 1 and summary["size"] == info["size"]
    assert "lastError" in summary

    attempts = info["recipients"][0]["attempts"]  # type: ignore[index]
    assert main(["queue", "retry", queue_id, "--data", data]) == 0
    assert capsys.readouterr().out == "1 recipient(s) released\n"
    after = _wait_delayed(running.data_dir, queue_id)
    assert after["recipients"][0]["attempts"] == attempts + 1  # type: ignore[index]

    assert main(["queue", "retry", "--data", data]) == 0
    assert capsys.readouterr().out == "1 recipient(s) released\n"
    _wait_delayed(running.data_dir, queue_id)

    assert main(["queue", "delete", queue_id, "--data", data]) == 0
    assert capsys.readouterr().out == "1 recipient(s) rejected\n"
    deadline = time.monotonic() + 5
    while queue.count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert queue.count == 0
    assert main(["queue", "list", "--data", data]) == 0
    assert capsys.readouterr().out == ""
    assert main(["queue", "show", queue_id, "--data", data]) == 1
    assert f"no message {queue_id} in the Queue" in capsys.readouterr().err


def test_same_output_live_and_stopped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(tmp_path, plugins=PLUGINS, extra=EXTRA) as running:
        _queue_one(running)
        data = str(running.data_dir)
        capsys.readouterr()
        assert main(["queue", "list", "--data", data]) == 0
        queue_id = capsys.readouterr().out.split("\t")[0]
        _wait_delayed(running.data_dir, queue_id)
        assert main(["queue", "list", "--data", data]) == 0
        assert main(["queue", "show", queue_id, "--data", data]) == 0
        live = capsys.readouterr().out
    assert not control_path(tmp_path / "data").exists()
    assert main(["queue", "list", "--data", data]) == 0
    assert main(["queue", "show", queue_id, "--data", data]) == 0
    stopped = capsys.readouterr().out
    # the stopped Queue no longer knows the host's delay: only the recipient state may differ
    assert live.replace("delayed", "suspended") == stopped.replace("delayed", "suspended")


def test_stale_socket_falls_back_to_the_directory(tmp_path: Path) -> None:
    path = control_path(tmp_path / "data")
    path.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # a socket file nobody listens on, as a killed server leaves it
    assert connect(tmp_path / "data") is None
    assert main(["queue", "list", "--data", str(tmp_path / "data")]) == 0


def test_a_socket_another_server_answers_on_is_left_alone(tmp_path: Path) -> None:
    path = control_path(tmp_path / "data")
    path.parent.mkdir(parents=True)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    other.listen(4)
    try:
        identity = path.stat().st_ino
        with serve_in_thread(tmp_path, plugins=PLUGINS, extra=EXTRA):
            assert path.stat().st_ino == identity
        assert path.stat().st_ino == identity
    finally:
        other.close()


def test_shutdown_command(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=PLUGINS, extra=EXTRA) as running:
        client = connect(running.data_dir)
        assert client is not None
        with client:
            assert client.call("SHUTDOWN") is None
        deadline = time.monotonic() + 10
        while control_path(running.data_dir).exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert not (tmp_path / "data" / "run" / "listeners.json").exists()


def test_release_smtp_queue_and_reject_by_sender(running: RunningServer) -> None:
    _queue_one(running, "one")
    _queue_one(running, "two")
    client = connect(running.data_dir)
    assert client is not None
    with client:
        listing = client.call("LISTQUEUEMESSAGES")
        assert isinstance(listing, list) and len(listing) == 2
        ids = [item["ID"] for item in listing]  # type: ignore[index]
        before = [_wait_delayed(running.data_dir, i)["recipients"][0]["attempts"] for i in ids]  # type: ignore[index]
        assert client.call("RELEASESMTPQUEUE", "other.test") is None
        assert client.call("RELEASESMTPQUEUE", "DOWN.test") is None
        after = [_wait_delayed(running.data_dir, i)["recipients"][0]["attempts"] for i in ids]  # type: ignore[index]
        # both were released (one attempt each, unless the first failure delayed the host)
        assert sum(after) > sum(before)  # type: ignore[arg-type]
        with pytest.raises(ControlError) as caught:
            client.call("REJECTQUEUEMESSAGES", "bob")
        assert (caught.value.code, caught.value.text) == (
            500,
            "REJECTQUEUEMESSAGES: SENDER expected",
        )
        assert client.call("REJECTQUEUEMESSAGES", "SENDER", "nobody", "REPORT", "NONDN") is None
        assert len(client.call("LISTQUEUEMESSAGES")) == 2  # type: ignore[arg-type]
        assert client.call("REJECTQUEUEMESSAGES", "SENDER", "alice", "REPORT", "NONDN") is None
        deadline = time.monotonic() + 5
        while client.call("LISTQUEUEMESSAGES") != []:
            assert time.monotonic() < deadline
            time.sleep(0.02)
