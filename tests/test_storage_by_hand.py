"""Issue 4: mailbox files written by hand, placed in an account, read through IMAP.

An ``.mbox`` file written exactly as the manual shows (``From <>(flags-UID-origUID) time
stamp``) keeps its UIDs and flags; a plain legacy mbox (From-lines without the comment)
opens too, with UIDs generated and no flags.
"""

from __future__ import annotations

import imaplib
import re
from pathlib import Path

from unigate.testing.server import serve_in_thread

BY_HAND = (
    "From <alice@example.test>(SA-12-) Tue Nov 14 22:13:20 2023\n"
    "From: alice@example.test\nSubject: first\n\nHello.\n"
    "\n"
    "From <>(F-15-) Wed Nov 15 08:00:00 2023\n"
    "From: bob@example.test\nSubject: second\n\nA line.\n>From the archive, escaped.\n"
    "\n"
)

LEGACY = (
    "From carol@example.test Thu Nov 16 10:00:00 2023\n"
    "From: carol@example.test\nSubject: legacy one\n\nBody one.\n"
    "\n"
    "From dave@example.test Fri Nov 17 11:00:00 2023\n"
    "From: dave@example.test\nSubject: legacy two\n\nBody two.\n"
    "\n"
)


def _uid_flags(client: imaplib.IMAP4, mailbox: str) -> list[tuple[int, set[str]]]:
    status, _ = client.select(mailbox, readonly=True)
    assert status == "OK"
    status, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
    assert status == "OK"
    found = []
    for line in data:
        text = line.decode() if isinstance(line, bytes) else line[0].decode()
        uid = int(re.search(r"UID (\d+)", text).group(1))  # type: ignore[union-attr]
        flags = set(re.search(r"FLAGS \(([^)]*)\)", text).group(1).split())  # type: ignore[union-attr]
        found.append((uid, flags))
    return found


def test_hand_written_and_legacy_mbox_files_are_read(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path, plugins=["imap", "storage_sliced", "storage_text"]) as running:
        objects = running.server.objects
        objects.add_account("alice@example.test", password="pw")
        home = objects.account_path("alice@example.test")
        (home / "Archive.mbox").write_text(BY_HAND)
        (home / "Legacy.mbox").write_text(LEGACY)
        client = imaplib.IMAP4("127.0.0.1", running.port("imap"))
        client.login("alice", "pw")
        assert _uid_flags(client, "Archive") == [
            (12, {"\\Seen", "\\Answered"}),
            (15, {"\\Flagged"}),
        ]
        status, data = client.uid("FETCH", "15", "(BODY.PEEK[TEXT])")
        assert status == "OK"
        assert data[0][1].replace(b"\r\n", b"\n") == b"A line.\n>From the archive, escaped.\n"
        legacy = _uid_flags(client, "Legacy")
        assert [flags for _, flags in legacy] == [set(), set()]
        assert legacy[0][0] < legacy[1][0]
        status, data = client.uid(
            "FETCH", f"{legacy[1][0]}", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
        )
        assert b"legacy two" in data[0][1]
        client.logout()
