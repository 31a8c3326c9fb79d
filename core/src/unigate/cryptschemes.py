"""Unix ``crypt(3)`` password hashes, written out by hand.

The manual lets an administrator import password hashes from older systems
(``\\002`` prefix, manual lines 3276-3320): traditional DES crypt (13 characters,
only the first 8 password bytes count), FreeBSD/PHK md5-crypt (``$1$``, and the
Apache ``$apr1$`` variant), and Drepper's SHA-crypt (``$5$`` and ``$6$``).
Python's ``crypt`` module wrapped the C library and is gone in 3.13, so the
algorithms live here as pure functions: ``password`` bytes and the stored
setting in, the full hash string out.  Blowfish (``$2a$``/``$2b$``/``$2y$``) is
delegated to the ``bcrypt`` package by :func:`crypt_verify`.

These hashes are legacy formats kept for migration; new passwords are stored
with argon2 by :mod:`unigate.passwords`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

import bcrypt

__all__ = [
    "CRYPT_ALPHABET",
    "crypt_scheme",
    "crypt_verify",
    "des_encrypt_block",
    "des_crypt",
    "lm_hash",
    "md4",
    "nt_hash",
    "md5_crypt",
    "sha_crypt",
]

#: The ``./0-9A-Za-z`` alphabet shared by every crypt(3) scheme.
CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CRYPT_INDEX = {c: i for i, c in enumerate(CRYPT_ALPHABET)}


def _to64(value: int, count: int) -> str:
    """Encode the low ``6 * count`` bits of ``value``, least significant first."""
    out = []
    for _ in range(count):
        out.append(CRYPT_ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(out)


# --------------------------------------------------------------------------
# md5-crypt ($1$, $apr1$)
# --------------------------------------------------------------------------


def md5_crypt(password: bytes, setting: str, magic: str = "$1$") -> str:
    """Return the PHK md5-crypt hash of ``password``.

    ``setting`` is either a bare salt or a previous hash starting with ``magic``;
    the salt is the text up to the next ``$``, at most 8 characters.
    """
    salt_text = setting[len(magic) :] if setting.startswith(magic) else setting
    salt_text = salt_text.split("$", 1)[0][:8]
    salt = salt_text.encode("ascii")
    magic_b = magic.encode("ascii")

    alternate = hashlib.md5(password + salt + password).digest()
    ctx = bytearray(password + magic_b + salt)
    remaining = len(password)
    while remaining > 0:
        ctx += alternate[: min(16, remaining)]
        remaining -= 16
    bits = len(password)
    while bits:
        ctx += b"\x00" if bits & 1 else password[:1]
        bits >>= 1
    final = hashlib.md5(ctx).digest()

    for i in range(1000):
        block = bytearray(password if i & 1 else final)
        if i % 3:
            block += salt
        if i % 7:
            block += password
        block += final if i & 1 else password
        final = hashlib.md5(block).digest()

    encoded = "".join(
        _to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    encoded += _to64(final[11], 2)
    return f"{magic}{salt_text}${encoded}"


# --------------------------------------------------------------------------
# SHA-crypt ($5$, $6$) -- "Unix crypt using SHA-256 and SHA-512", U. Drepper
# --------------------------------------------------------------------------

_SHA_ROUNDS_DEFAULT = 5000
_SHA_ROUNDS_MIN = 1000
_SHA_ROUNDS_MAX = 999_999_999

_SHA256_ORDER: Sequence[tuple[int, int, int]] = (
    (0, 10, 20),
    (21, 1, 11),
    (12, 22, 2),
    (3, 13, 23),
    (24, 4, 14),
    (15, 25, 5),
    (6, 16, 26),
    (27, 7, 17),
    (18, 28, 8),
    (9, 19, 29),
)
_SHA512_ORDER: Sequence[tuple[int, int, int]] = (
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
)


def _repeat_to(digest: bytes, length: int) -> bytes:
    whole, rest = divmod(length, len(digest))
    return digest * whole + digest[:rest]


def sha_crypt(password: bytes, setting: str) -> str:
    """Return the SHA-crypt hash of ``password`` for a ``$5$`` or ``$6$`` setting.

    ``setting`` is ``$5$[rounds=N$]salt[$...]``; the salt is cut at 16 characters
    and the rounds clamped to 1000..999999999, as in the reference.
    """
    if setting.startswith("$5$"):
        prefix, hash_fn, order = "$5$", hashlib.sha256, _SHA256_ORDER
    elif setting.startswith("$6$"):
        prefix, hash_fn, order = "$6$", hashlib.sha512, _SHA512_ORDER
    else:
        raise ValueError("not a SHA-crypt setting")
    rest = setting[3:]
    rounds = _SHA_ROUNDS_DEFAULT
    custom_rounds = False
    if rest.startswith("rounds="):
        number, sep, after = rest[len("rounds=") :].partition("$")
        if sep and number.isdigit():
            rounds = min(max(int(number), _SHA_ROUNDS_MIN), _SHA_ROUNDS_MAX)
            custom_rounds = True
            rest = after
    salt_text = rest.split("$", 1)[0][:16]
    salt = salt_text.encode("ascii")
    size = hash_fn().digest_size

    digest_b = hash_fn(password + salt + password).digest()
    ctx_a = bytearray(password + salt)
    ctx_a += _repeat_to(digest_b, len(password))
    length = len(password)
    while length:
        ctx_a += digest_b if length & 1 else password
        length >>= 1
    digest_a = hash_fn(ctx_a).digest()

    p_bytes = _repeat_to(hash_fn(password * len(password)).digest(), len(password))
    s_bytes = _repeat_to(hash_fn(salt * (16 + digest_a[0])).digest(), len(salt))

    current = digest_a
    for i in range(rounds):
        block = bytearray(p_bytes if i & 1 else current)
        if i % 3:
            block += s_bytes
        if i % 7:
            block += p_bytes
        block += current if i & 1 else p_bytes
        current = hash_fn(block).digest()

    encoded = "".join(
        _to64((current[a] << 16) | (current[b] << 8) | current[c], 4) for a, b, c in order
    )
    if size == 32:
        encoded += _to64((current[31] << 8) | current[30], 3)
    else:
        encoded += _to64(current[63], 2)
    rounds_part = f"rounds={rounds}$" if custom_rounds else ""
    return f"{prefix}{rounds_part}{salt_text}${encoded}"


# --------------------------------------------------------------------------
# Traditional DES crypt
# --------------------------------------------------------------------------

_IP = (
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
    62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
    57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
    61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
)  # fmt: skip
_FP = (
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
    38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
    36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
)  # fmt: skip
_E = (
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9,
    8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25,
    24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
)  # fmt: skip
_P = (
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
    2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
)  # fmt: skip
_PC1 = (
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
    10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
    14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
)  # fmt: skip
_PC2 = (
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
    23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
    44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
)  # fmt: skip
_SHIFTS = (1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1)
_SBOX = (
    (14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
     0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
     15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13),
    (15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
     3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
     13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9),
    (10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
     13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
     1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12),
    (7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
     13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
     3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14),
    (2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
     14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
     11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3),
    (12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
     10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
     4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13),
    (4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
     13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
     6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12),
    (13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
     1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
     2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11),
)  # fmt: skip


def _permute(value: int, table: Sequence[int], width: int) -> int:
    """Apply a DES bit table; bit 1 is the most significant of ``width`` bits."""
    out = 0
    for position in table:
        out = (out << 1) | ((value >> (width - position)) & 1)
    return out


def _des_subkeys(key: int) -> list[int]:
    """The sixteen 48-bit round keys of a 64-bit DES key."""
    permuted = _permute(key, _PC1, 64)
    c, d = permuted >> 28, permuted & 0x0FFFFFFF
    subkeys = []
    for shift in _SHIFTS:
        c = ((c << shift) | (c >> (28 - shift))) & 0x0FFFFFFF
        d = ((d << shift) | (d >> (28 - shift))) & 0x0FFFFFFF
        subkeys.append(_permute((c << 28) | d, _PC2, 56))
    return subkeys


def _des_encrypt(block: int, subkeys: Sequence[int], expansion: Sequence[int]) -> int:
    """Encrypt one 64-bit block; ``expansion`` is the (possibly salted) E table."""
    block = _permute(block, _IP, 64)
    left, right = block >> 32, block & 0xFFFFFFFF
    for subkey in subkeys:
        mixed = _permute(right, expansion, 32) ^ subkey
        substituted = 0
        for box in range(8):
            six = (mixed >> (42 - 6 * box)) & 0x3F
            row = ((six >> 4) & 2) | (six & 1)
            column = (six >> 1) & 0xF
            substituted = (substituted << 4) | _SBOX[box][row * 16 + column]
        left, right = right, left ^ _permute(substituted, _P, 32)
    return _permute((right << 32) | left, _FP, 64)


def des_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Plain single DES (ECB, one 8-byte block); exposed for LAN Manager hashes and tests."""
    if len(key) != 8 or len(block) != 8:
        raise ValueError("DES key and block are 8 bytes")
    subkeys = _des_subkeys(int.from_bytes(key, "big"))
    return _des_encrypt(int.from_bytes(block, "big"), subkeys, _E).to_bytes(8, "big")


def des_crypt(password: bytes, setting: str) -> str:
    """Return the 13-character traditional DES crypt of ``password``.

    The first two characters of ``setting`` are the salt; only the first 8
    password bytes count, each contributing its low 7 bits.
    """
    if len(setting) < 2 or setting[0] not in _CRYPT_INDEX or setting[1] not in _CRYPT_INDEX:
        raise ValueError("DES crypt salt must be two characters of ./0-9A-Za-z")
    salt_text = setting[:2]
    key_bytes = bytes((b << 1) & 0xFF for b in password[:8]).ljust(8, b"\x00")
    subkeys = _des_subkeys(int.from_bytes(key_bytes, "big"))

    expansion = list(_E)
    for half, char in enumerate(salt_text):
        value = _CRYPT_INDEX[char]
        for bit in range(6):
            if (value >> bit) & 1:
                i = 6 * half + bit
                expansion[i], expansion[i + 24] = expansion[i + 24], expansion[i]

    block = 0
    for _ in range(25):
        block = _des_encrypt(block, subkeys, expansion)
    bits = block << 2  # 66 bits, read six at a time from the top
    encoded = "".join(CRYPT_ALPHABET[(bits >> (60 - 6 * i)) & 0x3F] for i in range(11))
    return salt_text + encoded


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------


def _bcrypt_check(password: bytes, hashed: str) -> bool:
    # bcrypt only ever used the first 72 bytes; the package now refuses longer input.
    try:
        return bcrypt.checkpw(password[:72], hashed.encode("ascii"))
    except ValueError:
        return False


_DOLLAR_SCHEMES: dict[str, Callable[[bytes, str], str]] = {
    "$1$": md5_crypt,
    "$apr1$": lambda pw, setting: md5_crypt(pw, setting, "$apr1$"),
    "$5$": sha_crypt,
    "$6$": sha_crypt,
}


def crypt_scheme(hashed: str) -> str | None:
    """Name the crypt(3) scheme of ``hashed``: ``md5-crypt``, ``bcrypt``, ``sha256-crypt``,
    ``sha512-crypt``, ``apr1``, ``des-crypt``, or None if unrecognised."""
    if hashed.startswith(("$2a$", "$2b$", "$2y$", "$2x$")):
        return "bcrypt"
    for prefix, name in (
        ("$1$", "md5-crypt"),
        ("$apr1$", "apr1"),
        ("$5$", "sha256-crypt"),
        ("$6$", "sha512-crypt"),
    ):
        if hashed.startswith(prefix):
            return name
    if len(hashed) == 13 and all(c in _CRYPT_INDEX for c in hashed):
        return "des-crypt"
    return None


def crypt_verify(password: bytes, hashed: str) -> bool:
    """Check ``password`` against any crypt(3) string this module knows."""
    scheme = crypt_scheme(hashed)
    if scheme is None:
        return False
    if scheme == "bcrypt":
        return _bcrypt_check(password, hashed)
    try:
        if scheme == "des-crypt":
            computed = des_crypt(password, hashed)
        else:
            prefix = next(p for p in _DOLLAR_SCHEMES if hashed.startswith(p))
            computed = _DOLLAR_SCHEMES[prefix](password, hashed)
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(computed.encode("ascii"), hashed.encode("ascii", "replace"))


# --------------------------------------------------------------------------
# Microsoft hashes: {MSNT} (MD4 of UTF-16LE) and {LANM} (LAN Manager)
# --------------------------------------------------------------------------


def _rotl(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320); OpenSSL 3 no longer offers it, and only NT hashes need it."""
    message = (
        data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + (8 * len(data)).to_bytes(8, "little")
    )
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(message), 64):
        x = [
            int.from_bytes(message[offset + 4 * i : offset + 4 * i + 4], "little")
            for i in range(16)
        ]
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):  # round 1: F(x,y,z) = xy | ~x z
            k, s = i, (3, 7, 11, 19)[i % 4]
            a = _rotl(a + ((b & c) | (~b & d)) + x[k], s)
            a, b, c, d = d, a, b, c
        for i in range(16):  # round 2: G(x,y,z) = xy | xz | yz
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a = _rotl(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, s)
            a, b, c, d = d, a, b, c
        for i in range(16):  # round 3: H(x,y,z) = x ^ y ^ z
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            a = _rotl(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, s)
            a, b, c, d = d, a, b, c
        a, b, c, d = (
            (a + aa) & 0xFFFFFFFF,
            (b + bb) & 0xFFFFFFFF,
            (c + cc) & 0xFFFFFFFF,
            (d + dd) & 0xFFFFFFFF,
        )
    return b"".join(v.to_bytes(4, "little") for v in (a, b, c, d))


def nt_hash(password: str) -> bytes:
    """The Windows NT hash: MD4 of the UTF-16LE password."""
    return md4(password.encode("utf-16-le"))


def _lm_key(seven: bytes) -> bytes:
    bits = int.from_bytes(seven, "big")
    return bytes((((bits >> (49 - 7 * i)) & 0x7F) << 1) for i in range(8))


def lm_hash(password: str) -> bytes:
    """The LAN Manager hash: DES of ``KGS!@#$%`` under the upper-cased, 14-byte password."""
    raw = password.upper().encode("latin-1", "replace")[:14].ljust(14, b"\x00")
    magic = b"KGS!@#$%"
    return des_encrypt_block(_lm_key(raw[:7]), magic) + des_encrypt_block(_lm_key(raw[7:]), magic)
