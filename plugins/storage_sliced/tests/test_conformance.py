"""The kernel's driver conformance kit, run against the sliced driver."""

from __future__ import annotations

import pytest

from unigate.testing.storage_kit import DriverConformance
from unigate_storage_sliced.driver import SlicedDriver


class TestSlicedConformance(DriverConformance):
    @pytest.fixture
    def driver(self) -> SlicedDriver:
        return SlicedDriver()


class TestSlicedConformanceSmallFiles(DriverConformance):
    """Tiny data files, so appends roll and compaction merges on every run."""

    crash_rounds = 6

    @pytest.fixture
    def driver(self) -> SlicedDriver:
        return SlicedDriver(max_file_size=8192)
