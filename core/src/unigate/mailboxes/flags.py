"""Message flags: the manual's table of predefined flags and the rules for custom keywords.

Why: rules, CG/PL, IMAP and POP name flags differently (``Seen``/``Read``/``\\Seen``,
negative names ``Unseen``...). The manager stores IMAP names; this module converts and
validates. Custom keywords are case-insensitive: sets of flags are compared through
:func:`flag_key`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import MailboxError

__all__ = [
    "DELETED",
    "DRAFT",
    "HIDDEN",
    "PREDEFINED",
    "SEEN",
    "SERVICE",
    "InvalidFlag",
    "flag_key",
    "merge_flags",
    "normalize_flag",
    "normalize_flags",
    "parse_flag_name",
    "remove_flags",
]

SEEN = "\\Seen"
DELETED = "\\Deleted"
DRAFT = "\\Draft"
HIDDEN = "$Hidden"
SERVICE = "$Service"

#: (name, IMAP name, negative name) in the manual's order; ``Read`` is another name of Seen
PREDEFINED: tuple[tuple[str, str, str], ...] = (
    ("Seen", "\\Seen", "Unseen"),
    ("Read", "\\Seen", "Unread"),
    ("Answered", "\\Answered", "Unanswered"),
    ("Flagged", "\\Flagged", "Unflagged"),
    ("Draft", "\\Draft", "Undraft"),
    ("Deleted", "\\Deleted", "Undeleted"),
    ("Redirected", "$Forwarded", "NotRedirected"),
    ("MDNSent", "$MDNSent", "NoMDNSent"),
    ("Hidden", "$Hidden", "NotHidden"),
    ("Service", "$Service", "NotService"),
    ("Media", "$Media", "NotMedia"),
    ("Junk", "Junk", "NotJunk"),
)

_BY_KEY: dict[str, str] = {}
_NEGATIVE: dict[str, str] = {}
for _name, _imap, _neg in PREDEFINED:
    _BY_KEY[_name.lower()] = _imap
    _BY_KEY[_imap.lower()] = _imap
    _NEGATIVE[_neg.lower()] = _imap
_SYSTEM = {imap.lower(): imap for _, imap, _ in PREDEFINED if imap.startswith("\\")}
_SYSTEM["\\recent"] = "\\Recent"
_FORBIDDEN = set(' \\(){%*"]') | {chr(c) for c in range(32)} | {"\x7f"}


class InvalidFlag(MailboxError):
    """A flag name that cannot be stored (bad characters, unknown system flag)."""


def flag_key(flag: str) -> str:
    """The comparison key of a flag (flags are case-insensitive)."""
    return flag.lower()


def normalize_flag(flag: str) -> str:
    """The stored (IMAP) form of a flag given by its IMAP name or a custom keyword.

    Predefined flags get their canonical spelling (``\\seen`` -> ``\\Seen``,
    ``$forwarded`` -> ``$Forwarded``); custom keywords keep their case.
    """
    key = flag.lower()
    if key in _SYSTEM:
        if key == "\\recent":
            raise InvalidFlag("\\Recent cannot be stored")
        return _SYSTEM[key]
    if flag.startswith("\\"):
        raise InvalidFlag(f"unknown system flag {flag!r}")
    if not flag or set(flag) & _FORBIDDEN or not flag.isprintable():
        raise InvalidFlag(f"invalid flag name {flag!r}")
    for _, imap, _ in PREDEFINED:
        if imap.lower() == key:
            return imap
    return flag


def normalize_flags(flags: Iterable[str]) -> frozenset[str]:
    """Normalise every flag and drop case-insensitive duplicates (first spelling wins)."""
    out: dict[str, str] = {}
    for f in flags:
        n = normalize_flag(f)
        out.setdefault(flag_key(n), n)
    return frozenset(out.values())


def parse_flag_name(name: str) -> tuple[str, bool]:
    """A flag named the way rules and CG/PL name it -> (IMAP name, set?).

    ``"Read"`` -> (``\\Seen``, True); ``"Unseen"`` -> (``\\Seen``, False); an IMAP name
    or a custom keyword -> (itself, True).
    """
    key = name.lower()
    if key in _NEGATIVE:
        return _NEGATIVE[key], False
    if key in _BY_KEY:
        return _BY_KEY[key], True
    return normalize_flag(name), True


def merge_flags(current: frozenset[str], added: Iterable[str]) -> frozenset[str]:
    """``current`` plus ``added`` (case-insensitive union, existing spelling kept)."""
    keys = {flag_key(f) for f in current}
    return frozenset(current | {f for f in added if flag_key(f) not in keys})


def remove_flags(current: frozenset[str], removed: Iterable[str]) -> frozenset[str]:
    """``current`` without ``removed`` (case-insensitive)."""
    keys = {flag_key(f) for f in removed}
    return frozenset(f for f in current if flag_key(f) not in keys)


def visible(flags: frozenset[str], *, see_hidden: bool, service_visible: bool = False) -> bool:
    """May a user see a message with ``flags``? ``$Service`` messages only where service
    messages are shown; ``$Hidden`` ones only to a user who may see hidden messages (the
    owner, or the ``a`` right). The one rule for sessions' views and STATUS counters."""
    keys = {flag_key(f) for f in flags}
    if not service_visible and flag_key(SERVICE) in keys:
        return False
    return see_hidden or flag_key(HIDDEN) not in keys
