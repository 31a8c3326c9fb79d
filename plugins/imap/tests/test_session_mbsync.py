"""isync's ``mbsync`` pulls a mailbox, pushes flags and deletions back, then finds nothing to do.

Skipped when ``mbsync`` is not installed (``./dev test`` installs Debian's isync).
"""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from unigate.testing.server import serve_in_thread

MBSYNC = shutil.which("mbsync")
pytestmark = pytest.mark.skipif(MBSYNC is None, reason="mbsync (Debian isync) is not installed")
COUNT = 30


def _config(tmp: Path, port: int) -> Path:
    mail = tmp / "maildir"
    mail.mkdir()
    rc = tmp / "mbsyncrc"
    rc.write_text(
        f"""IMAPAccount acc
Host 127.0.0.1
Port {port}
User a@example.test
Pass pw-a
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account acc

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    return rc


def _run(rc: Path) -> str:
    proc = subprocess.run(
        [MBSYNC or "mbsync", "-c", str(rc), "-V", "-a"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(rc.parent)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _files(folder: Path) -> list[Path]:
    return sorted((folder / "cur").iterdir()) + sorted((folder / "new").iterdir())


def test_mbsync_round_trip(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=["imap", "storage_sliced"]) as running:
        running.server.objects.add_account("a@example.test", password="pw-a")
        port = running.port("imap")
        c = imaplib.IMAP4("127.0.0.1", port)
        c.login("a@example.test", "pw-a")
        c.create("Archive")
        for n in range(COUNT):
            body = f"From: s@example.test\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()
            assert c.append("INBOX" if n % 3 else "Archive", None, None, body)[0] == "OK"
        rc = _config(tmp_path, port)
        _run(rc)
        inbox = tmp_path / "maildir" / "INBOX"
        archive = tmp_path / "maildir" / "Archive"
        files = _files(inbox)
        assert len(files) == COUNT - COUNT // 3
        assert len(_files(archive)) == COUNT // 3
        # local changes: mark three seen and flagged, delete two
        for f in files[:3]:
            base = f.name.split(":2,")[0]
            f.rename(inbox / "cur" / (base + ":2,FS"))
        for f in files[3:5]:
            f.unlink()
        _run(rc)
        c.select("INBOX")
        typ, data = c.search(None, "SEEN", "FLAGGED")
        assert len(data[0].split()) == 3
        typ, data = c.search(None, "ALL")
        assert len(data[0].split()) == COUNT - COUNT // 3 - 2
        # the server changes one flag: the next run brings it down
        c.store("1", "+FLAGS", "(\\Answered)")
        before = {p.name for p in _files(inbox)}
        _run(rc)
        after = {p.name for p in _files(inbox)}
        assert len(after) == len(before)
        assert sum(1 for name in after if "R" in name.split(":2,")[1]) == 1
        # and a further run changes nothing at all
        snapshot = {p.name for p in _files(inbox)} | {p.name for p in _files(archive)}
        typ, data = c.fetch("1:*", "(UID FLAGS)")
        _run(rc)
        assert {p.name for p in _files(inbox)} | {p.name for p in _files(archive)} == snapshot
        c.noop()
        assert c.fetch("1:*", "(UID FLAGS)")[1] == data
        c.logout()
