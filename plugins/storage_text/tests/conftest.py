"""Shared fixtures of the text driver tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate_storage_text.driver import TextDriver


@pytest.fixture
def driver() -> TextDriver:
    return TextDriver(index_threshold=2048)


@pytest.fixture
def mbox(tmp_path: Path, driver: TextDriver) -> Path:
    path = tmp_path / "INBOX.mbox"
    driver.create(path, 1234)
    return path
