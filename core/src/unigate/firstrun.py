"""First run: a fresh data directory with a main domain and a postmaster account.

``unigate serve`` with no data directory creates one: the manual's layout, a
self-signed certificate, the Main Domain (the host name unless the settings name one),
and a ``postmaster`` account with the Master right whose random password is printed
once (it is stored only as verifiers).
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from unigate.objects import ObjectStore


def needs_first_run(data_dir: Path) -> bool:
    """True when the data directory has no Main Domain yet."""
    return not (data_dir / "Settings" / "Server.settings").exists()


def default_main_domain() -> str:
    """The host's name, lower-cased; ``localhost.localdomain`` when it has no usable name."""
    name = (socket.getfqdn() or socket.gethostname() or "").lower().rstrip(".")
    if (
        not name
        or name in ("localhost", "localhost.localdomain")
        or "." not in name
        and not name.isalnum()
    ):
        return "localhost.localdomain"
    return name


def first_run(data_dir: Path, *, main_domain: str | None = None) -> tuple[str, str]:
    """Create the Main Domain and postmaster; returns (postmaster address, password)."""
    store = ObjectStore(data_dir)
    store.set_main_domain(main_domain or default_main_domain())
    (data_dir / "Accounts" / "Settings").mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    postmaster = store.add_account(f"postmaster@{store.main_domain}", password=password)
    store.grant_server_rights(postmaster, ["Master"])
    return postmaster, password
