"""Mailbox names and where mailboxes live on disk.

Why: every operation starts by turning a user's name into a canonical name and a path.

Names: components separated by ``/``. ``INBOX`` (as the first component) is
case-insensitive and always spelled ``INBOX``; every other name is case-sensitive. A
trailing ``/`` names the *directory entity* only (``ABCDEF/``). A component may not be
empty, ``.`` or ``..``, start with a dot, or hold control characters. A leading ``~``
(foreign mailbox) and ``$Name$`` (special mailbox) are resolved by the manager before
these rules apply.

Layout (chosen here; the manual leaves it open): inside the account's ``.macnt``
directory, mailbox ``a/b/c`` of format ``mslc`` is ``a.folder/b.folder/c.mslc``. The
manual's two "invisible entities" are therefore separate on disk: ``c.<ext>`` holds the
messages and ``c.folder/`` holds the sub-mailboxes. A ``.folder`` directory without a
storage entity is a directory-only (``\\Noselect``) name. Files whose extension is not a
registered format (``account.info``, index sidecars such as ``INBOX.mbox.bdx``) are
ignored by the scan.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidMailboxName

__all__ = [
    "FOLDER_EXT",
    "INBOX",
    "ScannedMailbox",
    "folder_path",
    "normalize_name",
    "parent_of",
    "scan",
    "split_extension",
    "storage_path",
]

INBOX = "INBOX"
FOLDER_EXT = "folder"
MAX_NAME = 1024


def normalize_name(name: str) -> tuple[str, bool]:
    """Canonical form of a mailbox name -> (name, directory_only).

    Raises :class:`InvalidMailboxName`.
    """
    if not name or len(name) > MAX_NAME:
        raise InvalidMailboxName("empty or too long mailbox name")
    directory_only = name.endswith("/")
    if directory_only:
        name = name[:-1]
    parts = name.split("/")
    for part in parts:
        if not part or part in (".", "..") or part.startswith("."):
            raise InvalidMailboxName(f"bad mailbox name component {part!r} in {name!r}")
        if not part.isprintable() or "\\" in part:
            raise InvalidMailboxName(f"bad character in mailbox name {name!r}")
    first = parts[0]
    if first.startswith("~") or (len(first) > 1 and first.startswith("$") and first.endswith("$")):
        raise InvalidMailboxName(f"reserved mailbox name {name!r}")
    if parts[0].upper() == INBOX:
        parts[0] = INBOX
    return "/".join(parts), directory_only


def parent_of(name: str) -> str | None:
    """``a/b/c`` -> ``a/b``; a top-level name -> None."""
    head, sep, _ = name.rpartition("/")
    return head if sep else None


def split_extension(name: str, extensions: Iterable[str]) -> tuple[str, str | None]:
    """``Proposals.mdir`` -> (``Proposals``, ``mdir``) when ``mdir`` is a known format."""
    head, sep, last = name.rpartition("/")
    stem, dot, ext = last.rpartition(".")
    if dot and stem and ext in set(extensions):
        return (f"{head}/{stem}" if sep else stem), ext
    return name, None


def _dirs(root: Path, parts: list[str]) -> Path:
    path = root
    for part in parts:
        path = path / f"{part}.{FOLDER_EXT}"
    return path


def storage_path(root: Path, name: str, extension: str) -> Path:
    """Where mailbox ``name`` of format ``extension`` stores its messages."""
    parts = name.split("/")
    return _dirs(root, parts[:-1]) / f"{parts[-1]}.{extension}"


def folder_path(root: Path, name: str) -> Path:
    """The directory entity of ``name``: where its sub-mailboxes live."""
    return _dirs(root, name.split("/"))


@dataclass(frozen=True, slots=True)
class ScannedMailbox:
    """One name found on disk: its storage (if any) and whether it has a directory entity."""

    name: str
    extension: str | None
    path: Path | None
    has_folder: bool


def scan(root: Path, extensions: Iterable[str]) -> dict[str, ScannedMailbox]:
    """Every mailbox and directory-only name under the account directory ``root``."""
    exts = set(extensions)
    found: dict[str, tuple[str | None, Path | None, bool]] = {}

    def walk(directory: Path, prefix: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        for entry in entries:
            stem, dot, ext = entry.name.rpartition(".")
            if not dot or not stem or stem.startswith("."):
                continue
            name = prefix + stem
            if prefix == "" and stem.upper() == INBOX:
                name = INBOX
            if ext == FOLDER_EXT and entry.is_dir():
                e, p, _ = found.get(name, (None, None, False))
                found[name] = (e, p, True)
                walk(Path(entry.path), name + "/")
            elif ext in exts:
                _, _, f = found.get(name, (None, None, False))
                found[name] = (ext, Path(entry.path), f)

    walk(root, "")
    return {n: ScannedMailbox(n, e, p, f) for n, (e, p, f) in found.items()}
