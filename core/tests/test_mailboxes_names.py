"""Mailbox names and the on-disk layout, checked on examples and with hypothesis."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate.mailboxes import InvalidMailboxName, effective_rights
from unigate.mailboxes.acl import ALL_RIGHTS
from unigate.mailboxes.names import (
    folder_path,
    normalize_name,
    parent_of,
    scan,
    split_extension,
    storage_path,
)

component = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="/\\"
    ),
    min_size=1,
    max_size=12,
).filter(lambda c: not c.startswith(".") and c.isprintable())
mailbox_name = st.lists(component, min_size=1, max_size=4).map("/".join)


def test_examples() -> None:
    assert normalize_name("inbox") == ("INBOX", False)
    assert normalize_name("Inbox/Sub") == ("INBOX/Sub", False)
    assert normalize_name("INBOXES") == ("INBOXES", False)
    assert normalize_name("ABCDEF/") == ("ABCDEF", True)
    assert normalize_name("$money") == ("$money", False)
    for bad in ("", "/", "a//b", "/a", "a/../b", ".x", "a/.x", "~x/y", "$Trash$", "a\tb", "a\\b"):
        with pytest.raises(InvalidMailboxName):
            normalize_name(bad)
    assert parent_of("a/b/c") == "a/b" and parent_of("a") is None
    assert split_extension("Proposals.mdir", ["mdir"]) == ("Proposals", "mdir")
    assert split_extension("x/y.mbox", ["mbox"]) == ("x/y", "mbox")
    assert split_extension("my.box", ["mbox"]) == ("my.box", None)
    assert split_extension(".mbox", ["mbox"]) == (".mbox", None)
    root = Path("/r")
    assert storage_path(root, "a/b/c", "mslc") == Path("/r/a.folder/b.folder/c.mslc")
    assert folder_path(root, "a/b") == Path("/r/a.folder/b.folder")


@given(mailbox_name)
def test_normalize_is_idempotent_and_paths_stay_inside(name: str) -> None:
    try:
        canonical, _ = normalize_name(name)
    except InvalidMailboxName:
        return
    assert normalize_name(canonical) == (canonical, False)
    root = Path("/accounts/bob.macnt")
    path = storage_path(root, canonical, "mslc")
    assert root in path.parents
    assert ".." not in path.parts


@settings(max_examples=40, deadline=None)
@given(st.sets(mailbox_name, min_size=1, max_size=6), st.sampled_from(["mbox", "mslc"]))
def test_scan_finds_what_was_laid_out(names: set[str], ext: str) -> None:
    canonical = set()
    for n in names:
        try:
            canonical.add(normalize_name(n)[0])
        except InvalidMailboxName:
            continue
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in canonical:
            p = storage_path(root, n, ext)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")
            (p.parent / (p.name + ".bdx")).write_bytes(b"")  # a sidecar is not a mailbox
        found = scan(root, ["mbox", "mslc"])
        stored = {n for n, e in found.items() if e.path is not None}
        assert stored == canonical
        for n, e in found.items():
            if e.path is None:  # only the parents created on the way
                assert any(c.startswith(n + "/") for c in canonical)


identifiers = st.sampled_from(
    [
        "anyone",
        "anyone@",
        "anyone@a.com",
        "anyone@b.com",
        "u",
        "u@a.com",
        "u@b.com",
        "#g",
        "#g@b.com",
    ]
)
rights = st.text(alphabet=ALL_RIGHTS, max_size=5)
acls = st.dictionaries(
    st.tuples(st.sampled_from(["", "+", "-"]), identifiers).map("".join), rights, max_size=6
)


@given(acls, st.sampled_from(["u@a.com", "v@a.com", "u@b.com"]))
def test_effective_rights_properties(acl: dict[str, str], user: str) -> None:
    owner = "boss@a.com"
    result = effective_rights(acl, user, owner, lambda: {"g@a.com"})
    assert set(result) <= set(ALL_RIGHTS)
    assert effective_rights(acl, owner, owner) == ALL_RIGHTS
    # an exact unprefixed entry decides alone
    same = {user, user.partition("@")[0]} if user.endswith("@a.com") else {user}
    exact = {k: v for k, v in acl.items() if k not in same} | {user: "lr"}
    assert effective_rights(exact, user, owner, lambda: {"g@a.com"}) == "lr"
    # "+" entries only add, "-" entries only remove
    plus = {**acl, "+" + user: "a"}
    if not same & set(acl):
        assert "a" in effective_rights(plus, user, owner, lambda: {"g@a.com"})
