"""offlineimap pulls a mailbox, pushes flags and deletions back, then finds nothing to do.

Skipped when ``offlineimap`` is not installed (Debian ``offlineimap3``).
"""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from unigate.testing.server import serve_in_thread

OFFLINEIMAP = shutil.which("offlineimap")
pytestmark = pytest.mark.skipif(OFFLINEIMAP is None, reason="offlineimap is not installed")
COUNT = 20


def _config(tmp: Path, port: int) -> Path:
    rc = tmp / "offlineimaprc"
    rc.write_text(
        f"""[general]
accounts = test
metadata = {tmp}/meta
ui = quiet

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {tmp}/maildir

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {port}
remoteuser = a@example.test
remotepass = pw-a
ssl = no
starttls = no
holdconnectionopen = no
"""
    )
    return rc


def _run(rc: Path) -> None:
    proc = subprocess.run(
        [OFFLINEIMAP or "offlineimap", "-c", str(rc), "-o", "-u", "quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(rc.parent)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ERROR" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def _files(folder: Path) -> list[Path]:
    return sorted((folder / "cur").iterdir()) + sorted((folder / "new").iterdir())


def test_offlineimap_round_trip(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=["imap", "storage_sliced"]) as running:
        objects = running.server.objects
        objects.add_account("a@example.test", settings={"PasswordEncryption": "clear"})
        objects.update_account_settings("a@example.test", {"Password": "pw-a"})
        port = running.port("imap")
        c = imaplib.IMAP4("127.0.0.1", port)
        c.login("a@example.test", "pw-a")
        c.create("Archive")
        for n in range(COUNT):
            body = f"From: s@example.test\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()
            assert c.append("INBOX" if n % 4 else "Archive", None, None, body)[0] == "OK"
        rc = _config(tmp_path, port)
        _run(rc)
        inbox = tmp_path / "maildir" / "INBOX"
        archive = tmp_path / "maildir" / "Archive"
        files = _files(inbox)
        assert len(files) == COUNT - COUNT // 4
        assert len(_files(archive)) == COUNT // 4
        for f in files[:2]:
            base = f.name.split(":2,")[0]
            f.rename(inbox / "cur" / (base + ":2,FS"))
        files[2].unlink()
        _run(rc)
        c.select("INBOX")
        assert len(c.search(None, "SEEN", "FLAGGED")[1][0].split()) == 2
        assert len(c.search(None, "ALL")[1][0].split()) == COUNT - COUNT // 4 - 1
        typ, before = c.fetch("1:*", "(UID FLAGS)")
        snapshot = {p.name for p in _files(inbox)}
        _run(rc)
        assert {p.name for p in _files(inbox)} == snapshot
        c.noop()
        assert c.fetch("1:*", "(UID FLAGS)")[1] == before
        c.logout()
