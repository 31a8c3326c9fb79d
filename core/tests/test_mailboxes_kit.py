"""The conformance kit run against the reference driver (checks the kit and the driver)."""

from __future__ import annotations

import pytest

from unigate.testing.memory_driver import ReferenceDriver
from unigate.testing.storage_kit import DriverConformance
from unigate_hookspecs.storage import FormatDriver


class TestReferenceDriverConformance(DriverConformance):
    @pytest.fixture
    def driver(self) -> FormatDriver:
        return ReferenceDriver()
