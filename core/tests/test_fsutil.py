"""Atomic file writes: content replaced whole, no temporary file left, old file kept on error."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from unigate import fsutil
from unigate.fsutil import atomic_write_bytes, atomic_write_text, fsync_dir


def test_creates_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"\x00\x01data")
    assert path.read_bytes() == b"\x00\x01data"
    assert os.listdir(tmp_path) == ["f.bin"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_replaces_content(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"old content that is longer")
    inode = path.stat().st_ino
    atomic_write_bytes(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_ino != inode  # a new file was renamed over the old one
    assert os.listdir(tmp_path) == ["f.txt"]


def test_open_reader_keeps_old_content(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"old")
    with open(path, "rb") as reader:
        atomic_write_bytes(path, b"new")
        assert reader.read() == b"old"
    assert path.read_bytes() == b"new"


def test_mode(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write_bytes(path, b"1", mode=0o644)
    assert path.stat().st_mode & 0o777 == 0o644
    atomic_write_bytes(path, b"2")  # keeps the existing mode
    assert path.stat().st_mode & 0o777 == 0o644
    atomic_write_bytes(path, b"3", mode=0o600)
    assert path.stat().st_mode & 0o777 == 0o600


def test_text(tmp_path: Path) -> None:
    path = tmp_path / "t"
    atomic_write_text(path, "a\r\nb\né", fsync=False)
    assert path.read_bytes() == "a\r\nb\né".encode()
    atomic_write_text(path, "é", encoding="latin-1")
    assert path.read_bytes() == b"\xe9"


def test_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_failure_in_fsync_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("io error")

    monkeypatch.setattr(fsutil.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="io error"):
        atomic_write_bytes(tmp_path / "f", b"new")
    assert os.listdir(tmp_path) == []


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "f", b"x")


def test_replaces_symlink_instead_of_following(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"target")
    target.chmod(0o640)
    link = tmp_path / "link"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert link.stat().st_mode & 0o777 == 0o640  # the mode of what the link pointed to
    assert target.read_bytes() == b"target"


def test_fsync_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(fsutil.os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    atomic_write_bytes(tmp_path / "f", b"x")
    assert len(calls) == 2  # the file, then the directory
    calls.clear()
    atomic_write_bytes(tmp_path / "f", b"y", fsync=False)
    assert calls == []
    fsync_dir(tmp_path)
    assert len(calls) == 1


def test_concurrent_readers_see_whole_versions(tmp_path: Path) -> None:
    path = tmp_path / "f"
    versions = [bytes([65 + i]) * 65536 for i in range(20)]
    atomic_write_bytes(path, versions[0], fsync=False)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for data in versions:
            atomic_write_bytes(path, data, fsync=False)
    finally:
        stop.set()
        reader.join()
    assert seen <= set(versions)
    assert os.listdir(tmp_path) == ["f"]
