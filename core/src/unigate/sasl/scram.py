"""SCRAM-SHA-1 and SCRAM-SHA-256, server side (RFC 5802, RFC 7677), with -PLUS variants.

The server works from the stored keys only (StoredKey, ServerKey, salt,
iteration count; see :func:`unigate.passwords.make_scram_verifier`), never the
password.  It is written here rather than driving ``scramp.ScramServer``
because that class rejects a non-empty ``a=`` authzid in the GS2 header
(needed for impersonation) and looks keys up through a synchronous callback,
while our :class:`~unigate.sasl.base.CredentialSource` is async.  The tests
run ``scramp``'s client against it.

Channel binding (``-PLUS``) is supported when the protocol passes the TLS
binding data in a :class:`ChannelBinding`; without it only the plain
mechanisms can be started.  Failure reasons are RFC 5802 ``server-error``
values (``invalid-proof``, ...), so a protocol may send ``e=<reason>``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from scramp.utils import ScramException, saslprep

from unigate.passwords import parse_scram_verifier
from unigate.sasl.base import (
    Challenge,
    CredentialSource,
    Failure,
    SaslExchange,
    SaslStep,
    ScramKeys,
)

__all__ = [
    "ChannelBinding",
    "ScramExchange",
    "ScramSha1",
    "ScramSha1Plus",
    "ScramSha256",
    "ScramSha256Plus",
    "scram_keys_from_settings",
]

#: A per-process secret for the fake salts of unknown users (RFC 5802 section 9:
#: do not reveal whether an account exists by failing early).
_FAKE_SECRET = secrets.token_bytes(32)
MAX_MESSAGE = 4096


@dataclass(frozen=True, slots=True)
class ChannelBinding:
    """TLS channel-binding data, e.g. ``ChannelBinding("tls-exporter", data)`` (RFC 9266)."""

    kind: str
    data: bytes


class _State(enum.Enum):
    START = enum.auto()
    CLIENT_FIRST = enum.auto()
    CLIENT_FINAL = enum.auto()


def _unescape_saslname(text: str) -> str | None:
    """RFC 5802 ``saslname``: ``=2C`` is ``,`` and ``=3D`` is ``=``; any other ``=`` is invalid."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "=":
            code = text[i + 1 : i + 3]
            if code == "2C":
                out.append(",")
            elif code == "3D":
                out.append("=")
            else:
                return None
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _printable_nonce(nonce: str) -> bool:
    return bool(nonce) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)


class ScramExchange(SaslExchange):
    """The SCRAM state machine; subclasses fix the hash and whether binding is required."""

    hash_fn: ClassVar[Callable[..., hashlib._Hash]]
    base_mechanism: ClassVar[str]
    plus: ClassVar[bool] = False

    def __init__(
        self,
        source: CredentialSource,
        *,
        channel_binding: ChannelBinding | None = None,
        nonce: str | None = None,
    ) -> None:
        super().__init__(source)
        if self.plus and channel_binding is None:
            raise ValueError(f"{self.name} needs channel-binding data")
        if nonce is not None and not _printable_nonce(nonce):
            raise ValueError("server nonce must be printable ASCII without ','")
        self.channel_binding = channel_binding
        self._server_nonce = nonce or secrets.token_urlsafe(18)
        self._state = _State.START
        self._keys: ScramKeys | None = None
        self._known = False
        self._gs2_header = ""
        self._binding_used = False
        self._authzid: str | None = None
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""

    async def _step(self, response: bytes | None) -> SaslStep:
        if self._state is _State.START and response is None:
            self._state = _State.CLIENT_FIRST
            return Challenge(b"")
        if self._state in (_State.START, _State.CLIENT_FIRST):
            return await self._client_first(response or b"")
        return await self._client_final(response or b"")

    # -- client-first-message -------------------------------------------------

    def _check_gs2(self, flag: str) -> Failure | None:
        if flag == "n":
            return Failure("server-does-support-channel-binding") if self.plus else None
        if flag == "y":
            # The client could bind but thinks we cannot: a downgrade if we can.
            if self.channel_binding is not None:
                return Failure("server-does-support-channel-binding")
            return None
        if flag.startswith("p="):
            if not self.plus or self.channel_binding is None:
                return Failure("channel-binding-not-supported")
            if flag[2:] != self.channel_binding.kind:
                return Failure("unsupported-channel-binding-type")
            self._binding_used = True
            return None
        return Failure("other-error")

    async def _client_first(self, response: bytes) -> SaslStep:
        if len(response) > MAX_MESSAGE:
            return Failure("other-error")
        try:
            message = response.decode("utf-8")
        except UnicodeDecodeError:
            return Failure("invalid-encoding")
        parts = message.split(",", 2)
        if len(parts) != 3:
            return Failure("other-error")
        flag, authz, bare = parts
        failure = self._check_gs2(flag)
        if failure is not None:
            return failure
        if authz:
            if not authz.startswith("a="):
                return Failure("other-error")
            authzid = _unescape_saslname(authz[2:])
            if not authzid:
                return Failure("invalid-username-encoding")
            self._authzid = authzid
        self._gs2_header = f"{flag},{authz},"

        attributes = bare.split(",")
        if attributes[0].startswith("m="):
            return Failure("extensions-not-supported")
        if (
            len(attributes) < 2
            or not attributes[0].startswith("n=")
            or not attributes[1].startswith("r=")
        ):
            return Failure("other-error")
        username = _unescape_saslname(attributes[0][2:])
        if not username:
            return Failure("invalid-username-encoding")
        try:
            username = saslprep(username)
        except ScramException:
            return Failure("invalid-username-encoding")
        client_nonce = attributes[1][2:]
        if not _printable_nonce(client_nonce):
            return Failure("other-error")
        self.authcid = username
        self._client_first_bare = bare

        keys = await self.source.scram_keys(username, self.base_mechanism)
        self._known = keys is not None
        if keys is None:
            keys = self._fake_keys(username)
        self._keys = keys
        self._nonce = client_nonce + self._server_nonce
        salt = base64.b64encode(keys.salt).decode("ascii")
        self._server_first = f"r={self._nonce},s={salt},i={keys.iterations}"
        self._state = _State.CLIENT_FINAL
        return Challenge(self._server_first.encode("ascii"))

    def _fake_keys(self, username: str) -> ScramKeys:
        salt = hmac.new(_FAKE_SECRET, username.encode("utf-8"), hashlib.sha256).digest()[:16]
        size = self.hash_fn().digest_size
        return ScramKeys(
            account="",
            salt=salt,
            iterations=4096,
            stored_key=secrets.token_bytes(size),
            server_key=secrets.token_bytes(size),
        )

    # -- client-final-message -------------------------------------------------

    async def _client_final(self, response: bytes) -> SaslStep:
        assert self._keys is not None
        if len(response) > MAX_MESSAGE:
            return Failure("other-error")
        try:
            message = response.decode("ascii")
        except UnicodeDecodeError:
            return Failure("invalid-encoding")
        attributes = message.split(",")
        if (
            len(attributes) < 3
            or not attributes[0].startswith("c=")
            or not attributes[1].startswith("r=")
            or not attributes[-1].startswith("p=")
        ):
            return Failure("other-error")
        without_proof = message[: message.rindex(",p=")]
        try:
            binding = base64.b64decode(attributes[0][2:], validate=True)
            proof = base64.b64decode(attributes[-1][2:], validate=True)
        except (ValueError, binascii.Error):
            return Failure("invalid-encoding")

        expected_binding = self._gs2_header.encode("utf-8")
        if self._binding_used:
            assert self.channel_binding is not None
            expected_binding += self.channel_binding.data
        if not hmac.compare_digest(binding, expected_binding):
            return Failure("channel-bindings-dont-match")
        if attributes[1][2:] != self._nonce:
            return Failure("other-error")

        hash_fn = self.hash_fn
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        client_signature = hmac.new(self._keys.stored_key, auth_message, hash_fn).digest()
        if len(proof) != len(client_signature):
            return Failure("invalid-proof")
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
        matches = hmac.compare_digest(hash_fn(client_key).digest(), self._keys.stored_key)
        if not (matches and self._known):
            return Failure("invalid-proof")
        server_signature = hmac.new(self._keys.server_key, auth_message, hash_fn).digest()
        additional = b"v=" + base64.b64encode(server_signature)
        return await self._finish(self._keys.account, self._authzid, additional)


class ScramSha1(ScramExchange):
    name = "SCRAM-SHA-1"
    base_mechanism = "SCRAM-SHA-1"
    hash_fn = hashlib.sha1


class ScramSha256(ScramExchange):
    name = "SCRAM-SHA-256"
    base_mechanism = "SCRAM-SHA-256"
    hash_fn = hashlib.sha256


class ScramSha1Plus(ScramExchange):
    name = "SCRAM-SHA-1-PLUS"
    base_mechanism = "SCRAM-SHA-1"
    hash_fn = hashlib.sha1
    plus = True


class ScramSha256Plus(ScramExchange):
    name = "SCRAM-SHA-256-PLUS"
    base_mechanism = "SCRAM-SHA-256"
    hash_fn = hashlib.sha256
    plus = True


def scram_keys_from_settings(
    account: str, mechanism: str, settings: Mapping[str, object]
) -> ScramKeys | None:
    """Build :class:`ScramKeys` from account settings written by ``make_verifiers``.

    ``mechanism`` may carry ``-PLUS`` (the keys are the same).  Returns None when
    the account has no verifier for it, or the stored one is malformed.
    """
    base = mechanism.upper().removesuffix("-PLUS")
    text = settings.get(base)
    if not isinstance(text, str):
        return None
    try:
        verifier = parse_scram_verifier(text)
    except ValueError:
        return None
    return ScramKeys(
        account=account,
        salt=verifier.salt,
        iterations=verifier.iterations,
        stored_key=verifier.stored_key,
        server_key=verifier.server_key,
    )
