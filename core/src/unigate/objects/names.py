"""Object and domain names: the manual's rules for what a name may be.

Object names (accounts, aliases, forwarders, groups) are case-insensitive and stored
lower-cased; they hold Latin letters, digits, ``_``, ``-`` and ``.``, never start or end
with ``.``, and are at most 128 characters (Objects, L8544-8546). Alias and forwarder
names may also be non-Latin. Domain names are DNS names, lower-cased.
"""

from __future__ import annotations

import re

MAX_NAME = 128
_OBJECT = re.compile(r"[a-z0-9_\-.]+")
_DOMAIN = re.compile(
    r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9\-_]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9\-_]{0,61}[a-z0-9])?)*"
)

#: names that route to special addresses and so cannot be objects (Router, L5248-5336)
RESERVED = frozenset({"null", "error", "spamtrap", "incomplete"})


class NameError_(ValueError):
    """A name breaks the manual's rules (the message says which)."""


def object_name(name: str, *, allow_unicode: bool = False) -> str:
    """Validate an object name and return its stored (lower-cased) form."""
    folded = name.strip().lower()
    if not folded:
        raise NameError_("a name cannot be empty")
    if len(folded) > MAX_NAME:
        raise NameError_(f"{name!r}: a name has at most {MAX_NAME} characters")
    if folded.startswith(".") or folded.endswith("."):
        raise NameError_(f"{name!r}: a name cannot start or end with '.'")
    if not _OBJECT.fullmatch(folded) and not (
        allow_unicode and "@" not in folded and " " not in folded
    ):
        raise NameError_(f"{name!r}: use Latin letters, digits, '_', '-' and '.'")
    if folded in RESERVED:
        raise NameError_(f"{name!r} is a special address name")
    return folded


def domain_name(name: str) -> str:
    """Validate a domain name and return it lower-cased."""
    folded = name.strip().lower().rstrip(".")
    if not _DOMAIN.fullmatch(folded):
        raise NameError_(f"{name!r} is not a valid domain name")
    return folded
