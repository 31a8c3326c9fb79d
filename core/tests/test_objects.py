"""The account database: layout, names, layered settings, aliases, login resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate import dataformat
from unigate.objects import ObjectError, ObjectStore
from unigate.passwords import verify_password


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    objects = ObjectStore(tmp_path)
    objects.set_main_domain("example.test")
    return objects


def test_layout_matches_the_manual(store: ObjectStore, tmp_path: Path) -> None:
    store.add_account("alice@example.test", password="s3cret!")
    store.add_domain("client1.test")
    store.add_account("bob@client1.test")
    assert (tmp_path / "Accounts" / "alice.macnt" / "account.settings").is_file()
    assert (tmp_path / "Accounts" / "alice.macnt" / "account.info").is_file()
    assert (tmp_path / "Domains" / "client1.test" / "bob.macnt").is_dir()
    assert (tmp_path / "Domains" / "client1.test" / "Settings" / "Domain.settings").is_file()
    assert store.domains() == ["example.test", "client1.test"]
    settings = dataformat.read_file(tmp_path / "Accounts" / "alice.macnt" / "account.settings")
    assert settings["Password"].startswith("\x02$argon2")


def test_password_is_never_stored_in_clear(store: ObjectStore, tmp_path: Path) -> None:
    store.add_account("alice@example.test", password="Unique-Pa55word")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"Unique-Pa55word" not in path.read_bytes(), path
    stored = store.account_settings("alice@example.test")["Password"]
    assert verify_password(stored, "Unique-Pa55word")
    assert not verify_password(stored, "wrong")


def test_names_are_case_insensitive_and_checked(store: ObjectStore) -> None:
    assert store.add_account("John@Example.TEST") == "john@example.test"
    assert (store.data_dir / "Accounts" / "john.macnt").is_dir()
    with pytest.raises(ObjectError):
        store.add_account("JOHN@example.test")
    for bad in (".x@example.test", "a b@example.test", "null@example.test", "x@nosuch.test"):
        with pytest.raises(ObjectError):
            store.add_account(bad)


def test_one_namespace_per_domain(store: ObjectStore) -> None:
    store.add_account("j.smith@example.test")
    store.add_alias("smith@example.test", "j.smith@example.test")
    store.add_forwarder("js@example.test", "john@other.test")
    store.add_group("sales@example.test", ["j.smith"])
    for taken in ("smith", "js", "sales", "j.smith"):
        with pytest.raises(ObjectError):
            store.add_account(f"{taken}@example.test")
    assert store.lookup("example.test", "smith").kind.value == "alias"
    assert store.lookup("example.test", "js").target == "john@other.test"
    assert store.lookup("example.test", "sales").members == ("j.smith@example.test",)
    assert store.groups_of("j.smith@example.test") == {"sales"}


def test_rename_moves_aliases_not_forwarders(store: ObjectStore) -> None:
    # Objects, L8638-8642: aliases follow a rename; a forwarder is a Router record and does not.
    store.add_account("j.smith@example.test")
    store.add_alias("smith@example.test", "j.smith@example.test")
    store.add_forwarder("js@example.test", "j.smith@example.test")
    store.rename_account("j.smith@example.test", "james.smith@example.test")
    assert store.resolve("smith@example.test") == "james.smith@example.test"
    assert store.lookup("example.test", "js").target == "j.smith@example.test"
    assert store.resolve("j.smith@example.test") is None


def test_remove_account_removes_its_aliases(store: ObjectStore) -> None:
    store.add_account("a@example.test")
    store.add_alias("b@example.test", "a@example.test")
    store.add_group("g@example.test", ["a"])
    store.remove_account("a@example.test")
    assert store.lookup("example.test", "b") is None
    assert store.groups()["g"]["Members"] == []


def test_settings_layers_keep_not_set_apart_from_default(store: ObjectStore) -> None:
    # Digest 03 testable behaviour 9: server 10MB, company.dom 30MB, client1.dom default.
    store.add_domain("company.dom")
    store.add_domain("client1.dom")
    store.update_account_defaults({"MaxAccountSize": "10M"})
    store.update_account_defaults({"MaxAccountSize": "30M"}, domain="company.dom")
    store.add_account("a@company.dom")
    store.add_account("b@client1.dom")
    store.add_account("c@client1.dom", settings={"MaxAccountSize": "unlimited"})
    assert store.setting("a@company.dom", "MaxAccountSize") == "30M"
    assert store.setting("b@client1.dom", "MaxAccountSize") == "10M"
    assert store.setting("c@client1.dom", "MaxAccountSize") == "unlimited"
    assert "MaxAccountSize" not in store.account_settings("b@client1.dom")
    store.update_account_settings("c@client1.dom", {"MaxAccountSize": None})
    assert store.setting("c@client1.dom", "MaxAccountSize") == "10M"


def test_services_need_domain_and_account(store: ObjectStore) -> None:
    # Digest 03 behaviour 8: POP off in the domain wins over an account's explicit setting.
    store.add_domain("d.test", {"DomainAccessModes": ["IMAP", "SMTP"]})
    store.add_account("x@d.test", settings={"AccessModes": ["POP", "IMAP"]})
    assert store.service_enabled("x@d.test", "imap")
    assert not store.service_enabled("x@d.test", "pop")
    assert not store.service_enabled("x@d.test", "smtp")


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("alice", "alice@example.test"),
        ("ALICE@example.test", "alice@example.test"),
        ("alice%example.test", "alice@example.test"),
        ("ally", "alice@example.test"),
        ("info%client2.test", "info@client2.test"),
        ("info@c2.test", "info@client2.test"),
        ("info", None),
        ("fwd", None),
        ("team", None),
        ("nobody", None),
        ("alice@elsewhere.test", None),
    ],
)
def test_login_names_resolve_as_the_manual_says(
    store: ObjectStore, login: str, expected: str | None
) -> None:
    store.add_account("alice@example.test")
    store.add_alias("ally@example.test", "alice@example.test")
    store.add_forwarder("fwd@example.test", "alice@example.test")
    store.add_group("team@example.test", ["alice"])
    store.add_domain("client2.test")
    store.add_domain_alias("c2.test", "client2.test")
    store.add_account("info@client2.test")
    assert store.resolve_login(login) == expected


def test_bare_name_takes_the_domain_of_the_local_address(store: ObjectStore) -> None:
    store.add_domain("client1.test", {"IPAddresses": ["192.0.0.2"]})
    store.add_account("info@client1.test")
    store.add_account("info@example.test")
    assert store.resolve_login("info", local_ip="192.0.0.2") == "info@client1.test"
    assert store.resolve_login("info", local_ip="192.0.0.1") == "info@example.test"


def test_changes_by_another_process_are_seen(store: ObjectStore, tmp_path: Path) -> None:
    store.add_account("alice@example.test")
    assert store.setting("alice@example.test", "RealName") == ""
    other = ObjectStore(tmp_path)
    other.update_account_settings("alice@example.test", {"RealName": "Alice A."})
    assert store.setting("alice@example.test", "RealName") == "Alice A."


def test_password_encryption_setting_given_at_creation_applies(store: ObjectStore) -> None:
    store.add_account(
        "c@example.test", password="plain-pw", settings={"PasswordEncryption": "clear"}
    )
    assert store.account_settings("c@example.test")["Password"] == "plain-pw"
    store.add_account("h@example.test", password="hashed-pw")
    assert store.account_settings("h@example.test")["Password"].startswith("\x02$argon2")
