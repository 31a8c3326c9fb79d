"""Password verifiers and the legacy hash schemes (unigate.passwords, unigate.cryptschemes).

Vectors come from published sources: Drepper's SHA-crypt specification, the
classic DES test vector, RFC 1320 (MD4), RFC 2617 (digest HA1), the OpenWall
bcrypt vectors, and the FreeRADIUS NS-MTA-MD5 example.  Where Python 3.11
still ships the ``crypt`` module, the C library is used as a second oracle.
"""

from __future__ import annotations

import base64
import hashlib
import os
import warnings

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st
from scramp import ScramMechanism

from unigate.cryptschemes import (
    crypt_scheme,
    crypt_verify,
    des_crypt,
    des_encrypt_block,
    lm_hash,
    md4,
    md5_crypt,
    nt_hash,
    sha_crypt,
)
from unigate.passwords import (
    HASHED_PREFIX,
    digest_ha1,
    encrypt_reversible,
    is_one_way,
    make_scram_verifier,
    make_verifiers,
    needs_rehash,
    parse_scram_verifier,
    reveal_password,
    scheme_of,
    verify_password,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt as libc_crypt  # removed in Python 3.13
    except ImportError:  # pragma: no cover - newer Pythons
        libc_crypt = None  # type: ignore[assignment]

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
KEY = bytes(range(32))

# -- crypt(3) vectors ---------------------------------------------------------

SHA_CRYPT_VECTORS = [
    # Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512", test vectors.
    ("$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    (
        "$5$rounds=10000$saltstringsaltstring",
        "Hello world!",
        "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
    ),
    (
        "$5$rounds=5000$toolongsaltstring",
        "Hello world!",
        "$5$rounds=5000$toolongsaltstrin$0vuwUia3Nx9V/DqToMS8YLcfXpEXmSaC8wgguLIbus2",
    ),
    (
        "$5$rounds=10$roundstoolow",
        "the minimum number is still observed",
        "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
    ),
    (
        "$6$saltstring",
        "Hello world!",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    ),
    (
        "$6$rounds=10$roundstoolow",
        "the minimum number is still observed",
        "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
    ),
]

MD5_CRYPT_VECTORS = [
    ("$1$saltstring", "password", "$1$saltstri$qQY4WxjABChYG1ccLpfkz/"),
    ("$1$", "x", "$1$$LP5.V3ajGqHDdXW6XwZQy."),
]

DES_CRYPT_VECTORS = [
    ("As", "test", "As5VdeS30m5N6"),
    ("ab", "foobar", "abVbJXzHUY99s"),
    ("ab", "", "abmF1QH4PEr.E"),
    ("Xz", "password12345", "XzxaQei6hAl2U"),
    ("Xz", "password", "XzxaQei6hAl2U"),  # only 8 characters count
]


@pytest.mark.parametrize(("setting", "password", "expected"), SHA_CRYPT_VECTORS)
def test_sha_crypt_drepper_vectors(setting: str, password: str, expected: str) -> None:
    assert sha_crypt(password.encode(), setting) == expected
    assert crypt_verify(password.encode(), expected)
    assert not crypt_verify(b"Hello world?", expected)


@pytest.mark.parametrize(("setting", "password", "expected"), MD5_CRYPT_VECTORS)
def test_md5_crypt_vectors(setting: str, password: str, expected: str) -> None:
    assert md5_crypt(password.encode(), setting) == expected
    assert crypt_verify(password.encode(), expected)


def test_apr1_matches_openssl_passwd() -> None:
    # `openssl passwd -apr1 -salt abcdefgh 'Hello world!'`
    expected = "$apr1$abcdefgh$Unf1zc.jsgCbBQDCL104q."
    assert md5_crypt(b"Hello world!", "$apr1$abcdefgh", "$apr1$") == expected
    assert crypt_verify(b"Hello world!", expected)


@pytest.mark.parametrize(("salt", "password", "expected"), DES_CRYPT_VECTORS)
def test_des_crypt_vectors(salt: str, password: str, expected: str) -> None:
    assert des_crypt(password.encode(), salt) == expected
    assert crypt_verify(password.encode(), expected)
    assert not crypt_verify(b"wrong", expected)


def test_des_block_textbook_vector() -> None:
    key = bytes.fromhex("133457799BBCDFF1")
    assert des_encrypt_block(key, bytes.fromhex("0123456789ABCDEF")).hex() == "85e813540f0ab405"


def test_des_crypt_rejects_bad_salt() -> None:
    with pytest.raises(ValueError):
        des_crypt(b"pw", "a")
    with pytest.raises(ValueError):
        des_crypt(b"pw", "a!")
    assert not crypt_verify(b"pw", "!!5VdeS30m5N6")


def test_bcrypt_openwall_vector_and_variants() -> None:
    hashed = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
    assert crypt_verify(b"U*U", hashed)
    assert crypt_verify(b"U*U", "$2b$" + hashed[4:])
    assert crypt_verify(b"U*U", "$2y$" + hashed[4:])
    assert not crypt_verify(b"U*V", hashed)
    assert not crypt_verify(b"U*U", "$2a$05$garbage")
    assert crypt_scheme(hashed) == "bcrypt"


def test_md4_rfc1320_and_windows_hashes() -> None:
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"
    assert nt_hash("password").hex() == "8846f7eaee8fb117ad06bdd830b7586c"
    assert lm_hash("password").hex() == "e52cac67419a9a224a3b108f3fa6cb6d"


@pytest.mark.skipif(libc_crypt is None, reason="no crypt module to compare with")
@settings(max_examples=40, deadline=None)
@given(
    password=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24),
    salt=st.text(
        alphabet="./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        min_size=2,
        max_size=16,
    ),
    kind=st.sampled_from(["des", "$1$", "$5$", "$6$"]),
)
def test_crypt_matches_libc(password: str, salt: str, kind: str) -> None:
    setting = salt[:2] if kind == "des" else kind + salt
    expected = libc_crypt.crypt(password, setting)
    if expected is None or expected.startswith("*"):
        return  # this libc does not offer the scheme
    mine = {
        "des": des_crypt,
        "$1$": md5_crypt,
        "$5$": sha_crypt,
        "$6$": sha_crypt,
    }[kind](password.encode(), setting)
    assert mine == expected


# -- the Password setting -----------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_verify_clear_and_empty() -> None:
    assert verify_password("secret", "secret")
    assert not verify_password("secret", "Secret")
    assert not verify_password("", "")  # an empty stored password never matches
    assert not verify_password("", "anything")
    assert scheme_of("") == "none"
    assert scheme_of("secret") == "clear"


def test_verify_published_ldap_digests() -> None:
    # Well-known LDAP forms of "password".
    assert verify_password("\x02{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password")
    assert verify_password("\x02{MD5}X03MO1qnZdYdgyfeuILPmQ==", "password")
    assert verify_password("\x02{sha}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password")
    assert not verify_password("\x02{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "Password")
    assert not verify_password("\x02{SHA}not base64!", "password")


def test_verify_salted_digests() -> None:
    salt = b"\x01\x02\x03\x04\xfe"
    ssha = _b64(hashlib.sha1(b"hunter2" + salt).digest() + salt)
    smd5 = _b64(hashlib.md5(b"hunter2" + salt).digest() + salt)
    assert verify_password(f"\x02{{SSHA}}{ssha}", "hunter2")
    assert verify_password(f"\x02{{SMD5}}{smd5}", "hunter2")
    assert not verify_password(f"\x02{{SSHA}}{ssha}", "hunter3")
    assert not verify_password("\x02{SSHA}" + _b64(b"short"), "hunter2")
    assert scheme_of(f"\x02{{SSHA}}{ssha}") == "ssha"


def test_verify_ns_mta_md5_freeradius_example() -> None:
    stored = "\x02{NS-MTA-MD5}f8b4eac9f051a61eebe266f9c29a193626d8eb25c2598c55c8874260b24eb435"
    assert verify_password(stored, "testpass")
    assert not verify_password(stored, "testpasS")
    assert not verify_password("\x02{NS-MTA-MD5}f8b4", "testpass")
    assert scheme_of(stored) == "ns-mta-md5"


def test_verify_windows_hashes() -> None:
    assert verify_password("\x02{MSNT}8846F7EAEE8FB117AD06BDD830B7586C", "password")
    assert verify_password("\x02{LANM}e52cac67419a9a224a3b108f3fa6cb6d", "PassWord")
    assert not verify_password("\x02{MSNT}8846F7EAEE8FB117AD06BDD830B7586C", "Password")


@pytest.mark.parametrize(
    ("stored", "password", "scheme"),
    [
        ("\x02As5VdeS30m5N6", "test", "des-crypt"),
        ("\x02{crypt}As5VdeS30m5N6", "test", "des-crypt"),
        ("\x02{WM-CRY}As5VdeS30m5N6", "test", "des-crypt"),
        ("\x02{CRYPT}$1$saltstri$qQY4WxjABChYG1ccLpfkz/", "password", "md5-crypt"),
        ("\x02$1$saltstri$qQY4WxjABChYG1ccLpfkz/", "password", "md5-crypt"),
        ("\x02$apr1$abcdefgh$Unf1zc.jsgCbBQDCL104q.", "Hello world!", "apr1"),
        ("\x02$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", "bcrypt"),
        (
            "\x02{crypt}$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "U*U",
            "bcrypt",
        ),
        ("\x02" + SHA_CRYPT_VECTORS[0][2], "Hello world!", "sha256-crypt"),
        ("\x02{crypt}" + SHA_CRYPT_VECTORS[4][2], "Hello world!", "sha512-crypt"),
    ],
)
def test_verify_imported_crypt_forms(stored: str, password: str, scheme: str) -> None:
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert scheme_of(stored) == scheme
    assert is_one_way(stored)
    assert reveal_password(stored, KEY) is None
    assert needs_rehash(stored)


def test_unknown_one_way_forms_never_match() -> None:
    for stored in ("\x02", "\x02{FOO}abc", "\x02$9$abc", "\x02As1UzT1JkPsocc"):
        assert not verify_password(stored, "")
        assert not verify_password(stored, "abc")
    assert scheme_of("\x02{FOO}abc") == "unknown"


def test_hashed_default_is_argon2id() -> None:
    verifiers = make_verifiers("pa55 wörd", names=["john@doe.dom"], realm="doe.dom", hasher=FAST)
    stored = verifiers["Password"]
    assert isinstance(stored, str)
    assert stored.startswith(HASHED_PREFIX + "$argon2id$")
    assert verify_password(stored, "pa55 wörd")
    assert not verify_password(stored, "pa55 word")
    assert scheme_of(stored) == "argon2"
    assert is_one_way(stored)
    assert reveal_password(stored, KEY) is None
    assert needs_rehash(stored)  # FAST's parameters are below the defaults
    strong = make_verifiers("pw", names=[], realm="r")["Password"]
    assert isinstance(strong, str) and not needs_rehash(strong)
    assert verify_password("\x02{ARGON2}" + stored[1:], "pa55 wörd")


def test_clear_encryption() -> None:
    stored = make_verifiers("plain", names=[], realm="r", encryption="clear")["Password"]
    assert stored == "plain"
    assert reveal_password("plain", None) == "plain"
    assert not is_one_way("plain")
    assert not needs_rehash("plain")


def test_reversible_encryption_round_trip() -> None:
    stored = make_verifiers("s3cret", names=[], realm="r", encryption="A-crpt", server_key=KEY)[
        "Password"
    ]
    assert isinstance(stored, str) and stored.startswith("\x01")
    assert "s3cret" not in stored
    assert scheme_of(stored) == "A-crpt"
    assert reveal_password(stored, KEY) == "s3cret"
    assert verify_password(stored, "s3cret", server_key=KEY)
    assert not verify_password(stored, "s3cret")  # no key, no match
    assert not verify_password(stored, "s3cret", server_key=bytes(32))
    assert reveal_password(stored, bytes(32)) is None
    middle = len(stored) // 2
    tampered = stored[:middle] + ("A" if stored[middle] != "A" else "B") + stored[middle + 1 :]
    assert reveal_password(tampered, KEY) is None
    assert reveal_password("\x01!!!", KEY) is None
    # Two encryptions of one password differ (random nonce).
    assert encrypt_reversible("s3cret", KEY) != encrypt_reversible("s3cret", KEY)
    with pytest.raises(ValueError):
        make_verifiers("x", names=[], realm="r", encryption="A-crpt")


def test_unix_encryptions() -> None:
    u = make_verifiers("legacy", names=[], realm="r", encryption="U-crpt")["Password"]
    ub = make_verifiers("legacy", names=[], realm="r", encryption="ub-crpt")["Password"]
    assert isinstance(u, str) and u.startswith("\x02$6$")
    assert isinstance(ub, str) and ub.startswith("\x02$2b$")
    assert verify_password(u, "legacy") and verify_password(ub, "legacy")
    with pytest.raises(ValueError):
        make_verifiers("x", names=[], realm="r", encryption="rot13")


def test_scram_verifiers_match_scramp() -> None:
    verifiers = make_verifiers("pencil", names=[], realm="r", hasher=FAST)
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        text = verifiers[mechanism]
        assert isinstance(text, str)
        parsed = parse_scram_verifier(text)
        assert parsed.iterations == 4096
        assert len(parsed.salt) == 16
        salt, stored_key, server_key, iterations = ScramMechanism(mechanism).make_auth_info(
            "pencil", iteration_count=4096, salt=parsed.salt
        )
        assert (parsed.stored_key, parsed.server_key) == (stored_key, server_key)
        assert text == (f"4096:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}")


def test_scram_verifier_rfc5802_keys() -> None:
    # RFC 5802 section 5 example: user "user", password "pencil".
    text = make_scram_verifier("pencil", "SCRAM-SHA-1", salt=base64.b64decode("QSXCR+Q6sek8bf92"))
    parsed = parse_scram_verifier(text)
    assert parsed.salt == base64.b64decode("QSXCR+Q6sek8bf92")
    with pytest.raises(ValueError):
        parse_scram_verifier("4096:abc")
    with pytest.raises(ValueError):
        parse_scram_verifier("x:QSXCR+Q6sek8bf92$AAAA:AAAA")


def test_digest_ha1_rfc2617_and_names() -> None:
    assert digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )
    verifiers = make_verifiers(
        "pw", names=["john@doe.dom", "jd@doe.dom", "john"], realm="doe.dom", hasher=FAST
    )
    ha1 = verifiers["DigestHA1"]
    assert isinstance(ha1, dict)
    assert list(ha1) == ["john@doe.dom", "john", "jd@doe.dom", "jd"]
    assert ha1["jd"] == hashlib.md5(b"jd:doe.dom:pw").hexdigest()


def test_make_verifiers_keys_and_randomness() -> None:
    # a password with characters no base64 hash or salt holds: "pw" turned up by
    # chance inside the random argon2 salt and hash, about one run in 60
    secret = "p w!"
    one = make_verifiers(secret, names=["a@b"], realm="b", hasher=FAST)
    two = make_verifiers(secret, names=["a@b"], realm="b", hasher=FAST)
    assert set(one) == {"Password", "SCRAM-SHA-256", "SCRAM-SHA-1", "DigestHA1"}
    assert one["SCRAM-SHA-256"] != two["SCRAM-SHA-256"]  # fresh salt each time
    assert one["Password"] != two["Password"]
    assert secret not in repr(one["Password"])


def test_long_password_bcrypt_uses_72_bytes() -> None:
    ub = make_verifiers("x" * 100, names=[], realm="r", encryption="UB-crpt")["Password"]
    assert isinstance(ub, str)
    assert verify_password(ub, "x" * 100)
    assert verify_password(ub, "x" * 72)  # bcrypt's own limit


def test_random_bytes_never_crash() -> None:
    for _ in range(50):
        junk = os.urandom(20).decode("latin-1")
        for prefix in ("", "\x01", "\x02", "\x02{SSHA}", "\x02{crypt}", "\x02$1$", "\x02$5$"):
            verify_password(prefix + junk, "pw", server_key=KEY)
            scheme_of(prefix + junk)
