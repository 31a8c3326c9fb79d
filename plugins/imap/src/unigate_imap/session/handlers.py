"""Import every command-family module so their handlers register with `core.DISPATCH`."""

from __future__ import annotations

from . import (
    acl,
    append,
    auth,
    copy,
    enable,
    fetch,
    idle,
    mailbox,
    notify,
    quota,
    search,
    select,
    store,
)

__all__ = [
    "acl",
    "append",
    "auth",
    "copy",
    "enable",
    "fetch",
    "idle",
    "mailbox",
    "notify",
    "quota",
    "search",
    "select",
    "store",
]
