"""The ``mbox`` format driver: creates and opens text mailboxes (:mod:`store`)."""

from __future__ import annotations

from pathlib import Path

from unigate_hookspecs.storage import FormatDriver, MailboxStore
from unigate_storage_text import store


class TextDriver(FormatDriver):
    """Text mailboxes: one ``name.mbox`` file plus an optional ``name.mbox.bdx`` index."""

    extension = "mbox"
    is_directory = False

    def __init__(self, index_threshold: int = store.DEFAULT_INDEX_THRESHOLD) -> None:
        self.index_threshold = index_threshold

    def create(self, path: Path, uidvalidity: int) -> None:
        store.create(path, uidvalidity)

    def open(self, path: Path) -> MailboxStore:
        if not path.is_file():
            raise FileNotFoundError(path)
        return store.TextStore(path, self.index_threshold)

    def sidecars(self, path: Path) -> list[Path]:
        index = path.with_name(path.name + ".bdx")
        return [index] if index.exists() else []
