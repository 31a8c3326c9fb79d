"""Mailbox access rights: the ``lrswipcda`` letters, ACL identifiers and effective rights.

Why: foreign mailbox access (IMAP ACL, shared INBOXes, public folders) is decided here,
once, for every protocol. The rules are the manual's (Access Control Lists):

* identifiers: ``null@null`` (guests), ``anyone`` (every authenticated account),
  ``anyone@`` (the owner's domain), ``anyone@domain``, ``account`` (the owner's domain),
  ``account@domain``, ``#group`` (the owner's domain), ``#group@domain``; each may carry a
  ``+`` or ``-`` prefix;
* the owner always has every right;
* an unprefixed entry naming the user exactly gives exactly its rights;
* otherwise: (union of matching unprefixed entries - union of matching ``-`` entries)
  + union of matching ``+`` entries.

An ACL is a ``dict[str, str]``: identifier -> rights letters, as stored on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import InvalidMailboxName

__all__ = [
    "ALL_RIGHTS",
    "GUEST",
    "RIGHT_NAMES",
    "apply_rights_change",
    "effective_rights",
    "normalize_identifier",
    "normalize_rights",
]

#: every mailbox right, in the manual's order
ALL_RIGHTS = "lrswipcda"
RIGHT_NAMES = {
    "l": "Lookup",
    "r": "Read/Select",
    "s": "Seen",
    "w": "Write/Flags",
    "i": "Insert",
    "p": "Post",
    "c": "Create",
    "d": "Delete",
    "a": "Administer",
}
#: the identity of a non-authenticated user
GUEST = "null@null"


def normalize_rights(rights: str) -> str:
    """Validate and sort a rights string (``"rl"`` -> ``"lr"``); ValueError if unknown letters."""
    bad = set(rights) - set(ALL_RIGHTS)
    if bad:
        raise ValueError(f"unknown access rights: {''.join(sorted(bad))}")
    return "".join(r for r in ALL_RIGHTS if r in rights)


def normalize_identifier(identifier: str) -> str:
    """Lower-case an ACL identifier and check its shape."""
    ident = identifier.strip().lower()
    body = ident[1:] if ident[:1] in "+-" else ident
    if not body or any(c.isspace() for c in body) or body.count("@") > 1:
        raise InvalidMailboxName(f"bad ACL identifier {identifier!r}")
    if body.startswith("#") and len(body) == 1:
        raise InvalidMailboxName(f"bad ACL identifier {identifier!r}")
    return ident


def apply_rights_change(current: str, change: str) -> str:
    """IMAP SETACL semantics: ``+xy`` adds, ``-xy`` removes, plain replaces."""
    if change.startswith("+"):
        return normalize_rights(current + normalize_rights(change[1:]))
    if change.startswith("-"):
        removed = set(normalize_rights(change[1:]))
        return "".join(r for r in current if r not in removed)
    return normalize_rights(change)


def _domain(account: str) -> str:
    return account.partition("@")[2]


def _matches(body: str, user: str, owner: str, groups: Callable[[], set[str]]) -> tuple[bool, bool]:
    """Does the identifier ``body`` (no prefix) match ``user``? -> (matches, names the user exactly)."""
    if user == GUEST:
        return body == GUEST, body == GUEST
    if body == GUEST:
        return False, False
    if body == "anyone":
        return True, False
    if body.startswith("anyone@"):
        dom = body[len("anyone@") :] or _domain(owner)
        return dom == _domain(user), False
    if body.startswith("#"):
        group = body[1:]
        if "@" not in group:
            group = f"{group}@{_domain(owner)}"
        return group in groups(), False
    name = body if "@" in body else f"{body}@{_domain(owner)}"
    return name == user, name == user


def effective_rights(
    acl: Mapping[str, str],
    user: str,
    owner: str,
    groups: Callable[[], set[str]] = set,
) -> str:
    """The rights ``user`` has on a mailbox of ``owner`` with this ``acl`` (not counting admins).

    ``groups`` is called at most once, lazily, for the user's ``group@domain`` set.
    """
    user = user.lower()
    if user == owner.lower():
        return ALL_RIGHTS
    cache: list[set[str]] = []

    def lazy_groups() -> set[str]:
        if not cache:
            cache.append({g.lower() for g in groups()})
        return cache[0]

    direct: set[str] = set()
    removed: set[str] = set()
    added: set[str] = set()
    exact_rights: set[str] | None = None
    for ident, rights in acl.items():
        ident = ident.lower()
        prefix = ident[:1] if ident[:1] in "+-" else ""
        body = ident[1:] if prefix else ident
        matches, exact = _matches(body, user, owner.lower(), lazy_groups)
        if not matches:
            continue
        if exact and not prefix:
            # "john" and "john@owner-domain" name the same account: both count
            exact_rights = (exact_rights or set()) | set(rights)
            continue
        {"": direct, "-": removed, "+": added}[prefix].update(rights)
    if exact_rights is not None:
        return "".join(r for r in ALL_RIGHTS if r in exact_rights)
    return "".join(r for r in ALL_RIGHTS if (r in direct and r not in removed) or r in added)
