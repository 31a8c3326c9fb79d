"""Password verifiers: what an account stores instead of its password, and how to check one.

Account settings are the manual's text dictionaries, so every value here is a
string (or, for ``DigestHA1``, a dictionary of strings).  The ``Password`` setting
follows the manual's conventions (manual lines 3276-3320, 6390-6420, 9561-9725):

* no prefix: the clear-text password;
* ``\\001`` prefix: reversibly encrypted (the manual's ``A-crpt``); ours is
  AES-GCM under a server key, so APOP, CRAM-MD5 and DIGEST-MD5 can work;
* ``\\002`` prefix: a one-way hash.  New passwords get an argon2id PHC string;
  imported ones may be ``{SHA}``, ``{SSHA}``, ``{MD5}``, ``{SMD5}``,
  ``{NS-MTA-MD5}``, ``{crypt}``/``{WM-CRY}``, ``{LANM}``, ``{MSNT}``, or a bare
  crypt(3) string (``$1$``, ``$2a$``/``$2b$``/``$2y$``, ``$5$``, ``$6$``, DES).

Besides ``Password``, :func:`make_verifiers` stores the SCRAM keys (RFC 5803 form,
so SCRAM works without the clear password) and the SIP digest ``HA1`` per login
name.  An empty stored password never matches (manual line 6412).  Every
comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scramp.utils import ScramException, saslprep

from unigate.cryptschemes import (
    CRYPT_ALPHABET,
    crypt_scheme,
    crypt_verify,
    lm_hash,
    nt_hash,
    sha_crypt,
)

__all__ = [
    "ENCRYPTIONS",
    "HASHED_PREFIX",
    "REVERSIBLE_PREFIX",
    "SCRAM_ITERATIONS",
    "SCRAM_MECHANISMS",
    "ScramVerifier",
    "digest_ha1",
    "encrypt_reversible",
    "is_one_way",
    "make_scram_verifier",
    "make_verifiers",
    "needs_rehash",
    "parse_scram_verifier",
    "reveal_password",
    "scheme_of",
    "scram_password_bytes",
    "verify_password",
]

#: Prefix of a reversibly encrypted ``Password`` (the manual's ``\001``).
REVERSIBLE_PREFIX: Final = "\x01"
#: Prefix of a one-way hashed ``Password`` (the manual's ``\002``).
HASHED_PREFIX: Final = "\x02"

#: Password Encryption values :func:`make_verifiers` understands.  ``hashed``
#: (argon2id, our default) is new; ``U-crpt`` is stored as SHA-512 crypt rather
#: than DES crypt, which would silently drop all but 8 characters.
ENCRYPTIONS: Final = ("hashed", "clear", "A-crpt", "U-crpt", "UB-crpt")

#: SCRAM mechanisms we keep keys for, and their hash functions.
SCRAM_MECHANISMS: Final = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-1": hashlib.sha1}
SCRAM_ITERATIONS: Final = 4096
SCRAM_SALT_BYTES: Final = 16

_DEFAULT_HASHER = PasswordHasher()
_TOKEN_VERSION = b"\x01"
_TOKEN_AAD = b"unigate password v1"


# --------------------------------------------------------------------------
# Making verifiers
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScramVerifier:
    """The SCRAM keys of one mechanism (RFC 5802 section 3), parsed from settings."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes


def scram_password_bytes(password: str) -> bytes:
    """The password as SCRAM hashes it: SASLprep'd (RFC 4013) UTF-8.

    A password SASLprep rejects (control characters, say) is used as raw UTF-8,
    so such accounts can still log in with clients that skip the preparation.
    """
    try:
        prepared = saslprep(password)
    except ScramException:
        prepared = password
    return prepared.encode("utf-8")


def make_scram_verifier(
    password: str,
    mechanism: str,
    *,
    salt: bytes | None = None,
    iterations: int = SCRAM_ITERATIONS,
) -> str:
    """Return ``"<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>"`` (RFC 5803)."""
    hash_fn = SCRAM_MECHANISMS[mechanism]
    if salt is None:
        salt = secrets.token_bytes(SCRAM_SALT_BYTES)
    salted = hashlib.pbkdf2_hmac(hash_fn().name, scram_password_bytes(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_fn).digest()
    stored_key = hash_fn(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_fn).digest()
    b64 = base64.b64encode
    return (
        f"{iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def parse_scram_verifier(text: str) -> ScramVerifier:
    """Parse the RFC 5803 form written by :func:`make_scram_verifier`; ValueError if malformed."""
    try:
        head, keys = text.split("$", 1)
        iterations_text, salt_text = head.split(":", 1)
        stored_text, server_text = keys.split(":", 1)
        iterations = int(iterations_text)
        verifier = ScramVerifier(
            iterations=iterations,
            salt=base64.b64decode(salt_text, validate=True),
            stored_key=base64.b64decode(stored_text, validate=True),
            server_key=base64.b64decode(server_text, validate=True),
        )
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"malformed SCRAM verifier: {exc}") from None
    if iterations < 1 or not verifier.salt or not verifier.stored_key:
        raise ValueError("malformed SCRAM verifier")
    return verifier


def _login_names(names: Iterable[str]) -> list[str]:
    """Each name, plus the bare user part of every ``user@domain``, without repeats."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
        if "@" in name:
            seen.setdefault(name.split("@", 1)[0], None)
    return list(seen)


def digest_ha1(name: str, realm: str, password: str) -> str:
    """HTTP/SIP digest ``HA1 = MD5(name:realm:password)`` in lower-case hex (RFC 2617)."""
    return hashlib.md5(f"{name}:{realm}:{password}".encode()).hexdigest()


def encrypt_reversible(password: str, server_key: bytes) -> str:
    """Encrypt ``password`` under ``server_key`` (16, 24 or 32 bytes): ``"\\x01" + token``."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(server_key).encrypt(nonce, password.encode("utf-8"), _TOKEN_AAD)
    token = base64.urlsafe_b64encode(_TOKEN_VERSION + nonce + sealed).decode("ascii")
    return REVERSIBLE_PREFIX + token


def _decrypt_reversible(token: str, server_key: bytes) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (ValueError, binascii.Error):
        return None
    if len(raw) < 1 + 12 + 16 or raw[:1] != _TOKEN_VERSION:
        return None
    try:
        clear = AESGCM(server_key).decrypt(raw[1:13], raw[13:], _TOKEN_AAD)
    except (InvalidTag, ValueError):
        return None
    return clear.decode("utf-8", "replace")


def _random_crypt_salt(length: int) -> str:
    return "".join(secrets.choice(CRYPT_ALPHABET) for _ in range(length))


def _make_password_value(
    password: str, encryption: str, server_key: bytes | None, hasher: PasswordHasher
) -> str:
    kind = encryption.lower()
    if kind == "clear":
        return password
    if kind == "hashed":
        return HASHED_PREFIX + hasher.hash(password)
    if kind == "a-crpt":
        if server_key is None:
            raise ValueError("A-crpt encryption needs a server key")
        return encrypt_reversible(password, server_key)
    if kind == "u-crpt":
        return HASHED_PREFIX + sha_crypt(password.encode("utf-8"), "$6$" + _random_crypt_salt(16))
    if kind == "ub-crpt":
        hashed = bcrypt.hashpw(password.encode("utf-8")[:72], bcrypt.gensalt())
        return HASHED_PREFIX + hashed.decode("ascii")
    raise ValueError(f"unknown password encryption {encryption!r}; expected one of {ENCRYPTIONS}")


def make_verifiers(
    password: str,
    *,
    names: list[str],
    realm: str,
    encryption: str = "hashed",
    server_key: bytes | None = None,
    hasher: PasswordHasher | None = None,
) -> dict[str, object]:
    """Return the account settings that stand for ``password``.

    Keys: ``Password`` (per ``encryption``, see :data:`ENCRYPTIONS`),
    ``SCRAM-SHA-256`` and ``SCRAM-SHA-1`` (RFC 5803 strings, 4096 iterations,
    16-byte salt), and ``DigestHA1``: login name -> hex ``MD5(name:realm:password)``
    for every name in ``names`` and the bare user part of each ``user@domain``.
    ``hasher`` overrides the argon2 cost parameters.  The caller stores the
    whole dictionary, replacing any older verifiers.
    """
    return {
        "Password": _make_password_value(
            password, encryption, server_key, hasher or _DEFAULT_HASHER
        ),
        "SCRAM-SHA-256": make_scram_verifier(password, "SCRAM-SHA-256"),
        "SCRAM-SHA-1": make_scram_verifier(password, "SCRAM-SHA-1"),
        "DigestHA1": {name: digest_ha1(name, realm, password) for name in _login_names(names)},
    }


# --------------------------------------------------------------------------
# Checking the Password setting
# --------------------------------------------------------------------------


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None


_PLAIN_DIGESTS = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
_SALTED_DIGESTS = {
    "SMD5": hashlib.md5,
    "SSHA": hashlib.sha1,
    "SSHA256": hashlib.sha256,
    "SSHA512": hashlib.sha512,
}


def _split_braced(hashed: str) -> tuple[str, str] | None:
    if not hashed.startswith("{") or "}" not in hashed:
        return None
    name, _, body = hashed[1:].partition("}")
    return name.upper(), body


def _verify_argon2(phc: str, password: str) -> bool:
    try:
        return _DEFAULT_HASHER.verify(phc, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _verify_hex(expected_hex: str, digest: bytes) -> bool:
    try:
        expected = bytes.fromhex(expected_hex.strip())
    except ValueError:
        return False
    return _same(expected, digest)


def _verify_braced(name: str, body: str, password: str) -> bool:
    pw = password.encode("utf-8")
    if name in ("CRYPT", "WM-CRY"):
        return crypt_verify(pw, body)
    if name == "ARGON2":
        return _verify_argon2(body, password)
    if name in _PLAIN_DIGESTS:
        expected = _b64(body)
        return expected is not None and _same(expected, _PLAIN_DIGESTS[name](pw).digest())
    if name in _SALTED_DIGESTS:
        hash_fn = _SALTED_DIGESTS[name]
        raw = _b64(body)
        size = hash_fn().digest_size
        if raw is None or len(raw) <= size:
            return False
        digest, salt = raw[:size], raw[size:]
        return _same(digest, hash_fn(pw + salt).digest())
    if name == "NS-MTA-MD5":
        if len(body) != 64:
            return False
        salt = body[32:].encode("ascii", "replace")
        return _verify_hex(body[:32], hashlib.md5(salt + b"\x59" + pw + b"\xf7" + salt).digest())
    if name == "LANM":
        return len(body) == 32 and _verify_hex(body, lm_hash(password))
    if name == "MSNT":
        return len(body) == 32 and _verify_hex(body, nt_hash(password))
    if name in ("CLEARTEXT", "PLAIN"):
        return bool(body) and _same(body.encode("utf-8"), pw)
    return False


def _verify_one_way(hashed: str, password: str) -> bool:
    if hashed.startswith("$argon2"):
        return _verify_argon2(hashed, password)
    braced = _split_braced(hashed)
    if braced is not None:
        return _verify_braced(*braced, password)
    return crypt_verify(password.encode("utf-8"), hashed)


def verify_password(stored: str, password: str, *, server_key: bytes | None = None) -> bool:
    """True if ``password`` matches the stored ``Password`` setting, in any scheme.

    An empty ``stored`` never matches; a ``\\001`` value needs ``server_key``.
    """
    if not stored:
        return False
    if stored.startswith(HASHED_PREFIX):
        return _verify_one_way(stored[1:], password)
    if stored.startswith(REVERSIBLE_PREFIX):
        clear = reveal_password(stored, server_key)
        return clear is not None and _same(clear.encode("utf-8"), password.encode("utf-8"))
    return _same(stored.encode("utf-8"), password.encode("utf-8"))


def reveal_password(stored: str, server_key: bytes | None) -> str | None:
    """The clear password for challenge-response methods (APOP, CRAM-MD5), or None.

    Only clear and ``\\001`` values can be revealed; one-way and empty ones cannot,
    nor a ``\\001`` value without the right key.
    """
    if not stored or stored.startswith(HASHED_PREFIX):
        return None
    if stored.startswith(REVERSIBLE_PREFIX):
        if server_key is None:
            return None
        return _decrypt_reversible(stored[1:], server_key)
    return stored


def is_one_way(stored: str) -> bool:
    """True for a ``\\002`` value: secure SASL methods needing the secret cannot work."""
    return stored.startswith(HASHED_PREFIX)


def scheme_of(stored: str) -> str:
    """Name the storage scheme of a ``Password`` value.

    ``"none"`` (empty), ``"clear"``, ``"A-crpt"``, or for one-way values
    ``"argon2"``, a crypt scheme (``"des-crypt"``, ``"md5-crypt"``, ``"apr1"``,
    ``"bcrypt"``, ``"sha256-crypt"``, ``"sha512-crypt"``), a braced scheme in
    lower case (``"ssha"``, ``"ns-mta-md5"``, ...; ``{crypt}`` reports the
    crypt scheme inside), or ``"unknown"``.
    """
    if not stored:
        return "none"
    if stored.startswith(REVERSIBLE_PREFIX):
        return "A-crpt"
    if not stored.startswith(HASHED_PREFIX):
        return "clear"
    hashed = stored[1:]
    if hashed.startswith("$argon2"):
        return "argon2"
    braced = _split_braced(hashed)
    if braced is not None:
        name, body = braced
        if name in ("CRYPT", "WM-CRY"):
            return crypt_scheme(body) or "unknown"
        known = {"ARGON2", "LANM", "MSNT", "NS-MTA-MD5", "CLEARTEXT", "PLAIN"}
        if name in known or name in _PLAIN_DIGESTS or name in _SALTED_DIGESTS:
            return name.lower()
        return "unknown"
    return crypt_scheme(hashed) or "unknown"


def needs_rehash(stored: str, *, hasher: PasswordHasher | None = None) -> bool:
    """True if a one-way value should be replaced at the next successful login.

    That is any one-way scheme but argon2, or argon2 with outdated parameters.
    Clear and reversible values follow the Password Encryption setting, which
    the manual says is applied only when the password changes (line 6404).
    """
    if not is_one_way(stored):
        return False
    hashed = stored[1:]
    if not hashed.startswith("$argon2"):
        return True
    try:
        return (hasher or _DEFAULT_HASHER).check_needs_rehash(hashed)
    except (InvalidHashError, ValueError):
        return True
