"""Shared fixtures of the kernel's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def hello_plugin(monkeypatch: pytest.MonkeyPatch):
    """The example plugin's module, importable in-process without installing it."""
    monkeypatch.syspath_prepend(str(EXAMPLES / "hello-plugin" / "src"))
    for name in [m for m in sys.modules if m.startswith("unigate_hello")]:
        del sys.modules[name]
    import unigate_hello.plugin

    return unigate_hello.plugin
