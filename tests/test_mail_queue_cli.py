"""``unigate queue list|show|retry|delete`` on the Queue a stopped server left behind."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from unigate.cli import main
from unigate.testing.server import serve_in_thread

EXTRA = '[smtp]\nhosts = {"down.test" = "127.0.0.1:1"}\nconnect_timeout = 1\n'


def test_queue_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_thread(
        tmp_path, plugins=["smtp", "local", "storage_sliced"], extra=EXTRA
    ) as running:
        running.server.objects.add_account("alice@example.test", password="pw")
        with smtplib.SMTP("127.0.0.1", running.port("submission")) as client:
            client.login("alice@example.test", "pw")
            client.sendmail(
                "alice@example.test", ["dave@down.test"], b"Subject: stuck\r\n\r\nwaiting\r\n"
            )
        queue = running.server.service("queue")
        assert queue.count == 1
        # while the server runs, `queue list` asks it over its control socket
        assert main(["queue", "list", "--data", str(running.data_dir)]) == 0
        assert "dave@down.test" in capsys.readouterr().out
    data = str(tmp_path / "data")
    capsys.readouterr()
    assert main(["queue", "list", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "<alice@example.test>" in listing and "dave@down.test" in listing
    queue_id = listing.split("\t")[0]
    assert main(["queue", "show", queue_id, "--data", data]) == 0
    shown = capsys.readouterr().out
    assert "Recipient: dave@down.test SMTP(down.test)" in shown
    assert "Subject: stuck" in shown
    assert main(["queue", "retry", queue_id, "--data", data]) == 0
    assert "1 recipient(s) released" in capsys.readouterr().out
    assert main(["queue", "delete", queue_id, "--data", data]) == 0
    assert "1 recipient(s) rejected" in capsys.readouterr().out
    assert main(["queue", "list", "--data", data]) == 0
    assert capsys.readouterr().out == ""
    assert main(["queue", "show", "nope-1", "--data", data]) == 1
