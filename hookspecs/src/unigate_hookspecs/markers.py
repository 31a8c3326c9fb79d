"""The pluggy markers of the ``unigate`` project: every spec and impl uses these."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "unigate"

#: marks a hook specification (in this package only)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: marks a hook implementation (in plugins)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
