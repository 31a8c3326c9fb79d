"""The kernel's driver conformance kit, run against the text driver."""

from __future__ import annotations

import pytest

from unigate.testing.storage_kit import DriverConformance
from unigate_storage_text.driver import TextDriver


class TestTextConformance(DriverConformance):
    @pytest.fixture
    def driver(self) -> TextDriver:
        return TextDriver()


class TestTextConformanceIndexed(DriverConformance):
    """The same kit with a tiny index threshold, so every mailbox keeps a ``.bdx``."""

    @pytest.fixture
    def driver(self) -> TextDriver:
        return TextDriver(index_threshold=1024)
