"""Unigate: a unified communications server -- the kernel and its services.

Plugins import :mod:`unigate.api` (the documented facade) and :mod:`unigate_hookspecs`;
everything else in this package is the kernel's own business.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unigate")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
