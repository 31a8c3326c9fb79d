"""The ``mslc`` format driver: creates and opens sliced mailboxes (:mod:`store`)."""

from __future__ import annotations

from pathlib import Path

from unigate_hookspecs.storage import FormatDriver, MailboxStore
from unigate_storage_sliced import store


class SlicedDriver(FormatDriver):
    """Sliced mailboxes: a ``name.mslc`` directory of data files, index and log."""

    extension = "mslc"
    is_directory = True

    def __init__(self, max_file_size: int = store.DEFAULT_MAX_FILE_SIZE) -> None:
        self.max_file_size = max_file_size

    def create(self, path: Path, uidvalidity: int) -> None:
        store.create(path, uidvalidity)

    def open(self, path: Path) -> MailboxStore:
        if not path.is_dir():
            raise FileNotFoundError(path)
        return store.SlicedStore(path, self.max_file_size)
