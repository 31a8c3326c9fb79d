"""`unigate.durable`: `write_synced` lands the bytes where asked, synced on every path;
`create_dir` makes a directory whole or not at all."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from unigate import durable


@pytest.fixture
def fd(tmp_path: Path):
    fd = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd, b"0123456789", 0)
    yield fd
    os.close(fd)


def _content(fd: int) -> bytes:
    return os.pread(fd, 1 << 16, 0)


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors `fdatasync` was called on, with the RWF_DSYNC path switched on
    (a flag value the tests' own ``os.pwritev`` stand-ins receive)."""
    calls: list[int] = []
    monkeypatch.setattr(durable, "_rwf_dsync", 4)
    monkeypatch.setattr(durable, "fdatasync", calls.append)
    return calls


def test_writes_every_chunk_from_the_offset(fd: int) -> None:
    durable.write_synced(fd, [b"ab", b"", b"cde"], 4)
    assert _content(fd) == b"0123abcde9"
    durable.write_synced(fd, [b"XY"], 10)
    assert _content(fd) == b"0123abcde9XY"


def test_more_chunks_than_one_call_takes(fd: int) -> None:
    chunks = [bytes([65 + i % 26]) for i in range(3000)]
    durable.write_synced(fd, chunks, 10)
    assert _content(fd) == b"0123456789" + b"".join(chunks)


def test_uses_one_dsync_write_where_the_kernel_has_it(
    fd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not durable._rwf_dsync:
        pytest.skip("no RWF_DSYNC on this platform")
    synced: list[int] = []
    monkeypatch.setattr(durable, "fdatasync", synced.append)
    durable.write_synced(fd, [b"abc"], 0)
    assert synced == []  # the write itself was the sync
    assert _content(fd) == b"abc3456789"


def test_falls_back_to_fdatasync_when_the_flag_is_refused(
    fd: int, synced: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwritev

    def refusing(fd_: int, buffers: list[bytes], at: int, *flags: int) -> int:
        if flags:
            raise OSError(errno.EOPNOTSUPP, "not here")
        return real(fd_, buffers, at)

    monkeypatch.setattr(os, "pwritev", refusing)
    durable.write_synced(fd, [b"ab", b"cd"], 2)
    assert _content(fd) == b"01abcd6789"
    assert synced == [fd]
    assert durable._rwf_dsync == 0  # not tried again


def test_a_short_dsync_write_is_finished_and_synced(
    fd: int, synced: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwritev

    def short(fd_: int, buffers: list[bytes], at: int, *flags: int) -> int:
        return real(fd_, [b"".join(buffers)[:1]], at)

    monkeypatch.setattr(os, "pwritev", short)
    durable.write_synced(fd, [b"ab", b"cd"], 0)
    assert _content(fd) == b"abcd456789"
    assert synced == [fd]


def test_other_errors_are_raised(
    fd: int, synced: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr(os, "pwritev", failing)
    with pytest.raises(OSError) as info:
        durable.write_synced(fd, [b"ab"], 0)
    assert info.value.errno == errno.ENOSPC


def test_create_dir_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """`create_dir` builds aside: during ``fill`` the name does not exist, and a scan of
    the parent sees only a dot-name; afterwards the content is in place."""
    target = tmp_path / "INBOX.mslc"
    (tmp_path / ".INBOX.mslc.new").mkdir()  # left by a crash during an earlier create
    (tmp_path / ".INBOX.mslc.new" / "junk").write_bytes(b"x")
    seen: list[list[str]] = []

    def fill(work: Path) -> None:
        assert not target.exists() and not any(work.iterdir())
        (work / "index").write_bytes(b"idx")
        seen.append(sorted(p.name for p in tmp_path.iterdir()))

    durable.create_dir(target, fill)
    assert seen == [[".INBOX.mslc.new"]]
    assert (target / "index").read_bytes() == b"idx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["INBOX.mslc"]
    with pytest.raises(FileExistsError):
        durable.create_dir(target, fill)


def test_create_dir_that_fails_leaves_no_mailbox(tmp_path: Path) -> None:
    def fill(work: Path) -> None:
        raise OSError(errno.ENOSPC, "full")

    with pytest.raises(OSError):
        durable.create_dir(tmp_path / "X.mslc", fill)
    assert not (tmp_path / "X.mslc").exists()
