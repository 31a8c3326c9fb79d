"""fetchmail (Debian's) downloads a whole mailbox over POP3, in the clear and over TLS.

Skipped when ``fetchmail`` is not installed (``./dev test`` installs it when run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from unigate_pop.testing import PASSWORD, USER, message, pop_server

FETCHMAIL = shutil.which("fetchmail")
pytestmark = pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed")


def run_fetchmail(
    home: Path, port: int, options: str, *, tls: str = "sslproto ''", host: str = "127.0.0.1"
) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    mbox = home / "mbox"
    rc = home / ".fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll {host} with proto POP3 port {port} uidl\n"
        f'  user "{USER}" there with password "{PASSWORD}" is "{os.environ.get("USER", "root")}" here\n'
        f"  options {options} {tls}\n"
        f'  mda "cat >> {mbox}"\n'
    )
    rc.chmod(0o600)
    return subprocess.run(
        [
            str(FETCHMAIL),
            "-f",
            str(rc),
            "-i",
            str(home / ".fetchids"),
            "--pidfile",
            str(home / "pid"),
            "-N",
            "-d0",
            "--nosyslog",
            "-v",
        ],
        env={**os.environ, "HOME": str(home), "FETCHMAILHOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fetchmail_downloads_and_deletes_everything(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        big = "\r\n".join(f".line {i} " + "x" * 70 for i in range(2000)) + "\r\n"
        for i in range(1, 26):
            pop.deliver(message(i, big if i == 13 else ""))
        result = run_fetchmail(tmp_path / "home", pop.port(), "fetchall")
        assert result.returncode == 0, result.stdout + result.stderr
        mbox = (tmp_path / "home" / "mbox").read_bytes()
        for i in range(1, 26):
            assert f"Message-ID: <m{i}@example.test>".encode() in mbox
        assert b"\n.leading dot line" in mbox  # un-stuffed by the client
        assert b"\n.line 1999 " in mbox and b"\n..line" not in mbox
        assert pop.flags() == {}  # fetchmail deleted what it got, at QUIT
        again = run_fetchmail(tmp_path / "home", pop.port(), "fetchall")
        assert again.returncode == 1, again.stdout + again.stderr  # 1 = no mail


def test_fetchmail_keep_uses_uidl_and_pop3s(tmp_path: Path) -> None:
    with pop_server(tmp_path) as pop:
        for i in range(1, 6):
            pop.deliver(message(i))
        cert = pop.data_dir / "Settings" / "Certificate.pem"
        tls = (
            f"ssl sslcertck sslcertfile '{cert}' sslcertpath '{tmp_path}' sslcommonname 'localhost'"
        )
        first = run_fetchmail(tmp_path / "home", pop.port("pop3s"), "keep", tls=tls)
        assert first.returncode == 0, first.stdout + first.stderr
        assert (tmp_path / "home" / "mbox").read_bytes().count(b"Message-ID:") == 5
        second = run_fetchmail(tmp_path / "home", pop.port("pop3s"), "keep", tls=tls)
        assert second.returncode == 1, second.stdout + second.stderr  # UIDL: nothing new
        pop.deliver(message(6))
        third = run_fetchmail(tmp_path / "home", pop.port("pop3s"), "keep", tls=tls)
        assert third.returncode == 0, third.stdout + third.stderr
        mbox = (tmp_path / "home" / "mbox").read_bytes()
        assert mbox.count(b"Message-ID:") == 6 and b"<m6@example.test>" in mbox
        flags = pop.flags()
        # with "keep" fetchmail reads with TOP n 99999999, which leaves \Seen alone
        assert "POP3> TOP 1 99999999" in first.stdout + first.stderr
        assert len(flags) == 6 and not any("\\Seen" in f for f in flags.values())
