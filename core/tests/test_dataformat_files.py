"""Settings files: read_file / write_file (pretty UTF-8, atomic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unigate.dataformat import DataFormatError, Timestamp, read_file, write_file

ACCOUNT = {
    "RealName": "Jöhn Smith",
    "Rules": [[5, "#Vacation", [], [["Reply with", "I am away\nback soon"]]]],
    "Created": Timestamp.PAST,
}


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "account.settings"
    write_file(path, ACCOUNT)
    text = path.read_bytes().decode("utf-8")
    assert text.startswith('{\n  RealName = "Jöhn Smith";\n')
    assert text.endswith("}\n")
    assert read_file(path) == ACCOUNT
    assert [p.name for p in tmp_path.iterdir()] == ["account.settings"]


def test_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "Domain.settings"
    write_file(str(path), {"a": "1"}, fsync=False)
    assert path.stat().st_mode & 0o777 == 0o600
    os.chmod(path, 0o640)
    write_file(path, {"a": "2"})
    assert read_file(path) == {"a": "2"}
    assert path.stat().st_mode & 0o777 == 0o640


def test_read_handwritten_file_with_comments_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "hand.settings"
    path.write_bytes('\ufeff// edited by hand\r\n{ Key = "välue"; /* note */ }\r\n'.encode())
    assert read_file(path) == {"Key": "välue"}


def test_read_reports_invalid_utf8_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.settings"
    path.write_bytes(b'{\n  a = "ok";\n  b = "\xff";\n}\n')
    with pytest.raises(DataFormatError, match="invalid UTF-8") as info:
        read_file(path)
    assert (info.value.line, info.value.column) == (3, 8)


def test_read_reports_syntax_errors_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.settings"
    path.write_text("{\n  a = b\n}\n")
    with pytest.raises(DataFormatError) as info:
        read_file(path)
    assert info.value.line == 3


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "nope")


def test_failed_write_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / "x.settings"
    write_file(path, {"a": "1"})
    with pytest.raises(DataFormatError):
        write_file(path, {"a": "\x00"})
    assert read_file(path) == {"a": "1"}
    assert [p.name for p in tmp_path.iterdir()] == ["x.settings"]
