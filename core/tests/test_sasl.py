"""Server-side SASL exchanges (unigate.sasl), driven by real client computations.

SCRAM runs against scramp's client and against the RFC 5802 / RFC 7677 example
exchanges byte for byte; PLAIN and LOGIN messages are built by hand.  The
credential source is an in-memory account table made with make_verifiers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st
from scramp import ScramClient

from unigate.passwords import (
    make_scram_verifier,
    make_verifiers,
    parse_scram_verifier,
    verify_password,
)
from unigate.sasl import (
    CLEARTEXT_MECHANISMS,
    MECHANISMS,
    Challenge,
    ChannelBinding,
    CredentialSource,
    ExchangeFinished,
    Failure,
    SaslExchange,
    ScramKeys,
    Success,
    UnknownMechanism,
    advertised,
    scram_keys_from_settings,
    start,
)
from unigate.sasl.scram import ScramSha1, ScramSha256

T = TypeVar("T")
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class MemorySource:
    """Accounts by canonical name; ``john`` and ``john@doe.dom`` both log in as john@doe.dom."""

    def __init__(self, domain: str = "doe.dom") -> None:
        self.domain = domain
        self.settings: dict[str, dict[str, object]] = {}
        self.impersonators: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, ...]] = []

    def add(self, name: str, password: str) -> None:
        account = f"{name}@{self.domain}"
        self.settings[account] = make_verifiers(
            password, names=[account], realm=self.domain, hasher=FAST
        )

    def _canonical(self, authcid: str) -> str:
        return authcid if "@" in authcid else f"{authcid}@{self.domain}"

    async def verify_plain(self, authcid: str, password: str) -> str | None:
        self.calls.append(("plain", authcid))
        account = self._canonical(authcid)
        stored = self.settings.get(account, {}).get("Password", "")
        assert isinstance(stored, str)
        return account if verify_password(stored, password) else None

    async def scram_keys(self, authcid: str, mechanism: str) -> ScramKeys | None:
        self.calls.append(("scram", authcid, mechanism))
        account = self._canonical(authcid)
        text = self.settings.get(account, {}).get(mechanism)
        if not isinstance(text, str):
            return None
        v = parse_scram_verifier(text)
        return ScramKeys(account, v.salt, v.iterations, v.stored_key, v.server_key)

    async def authorize(self, account: str, authzid: str) -> bool:
        self.calls.append(("authorize", account, authzid))
        return (account, authzid) in self.impersonators


@pytest.fixture
def source() -> MemorySource:
    src = MemorySource()
    src.add("john", "pencil")
    src.add("admin", "s3cret")
    src.impersonators.add(("admin@doe.dom", "john@doe.dom"))
    return src


def test_memory_source_is_a_credential_source(source: MemorySource) -> None:
    assert isinstance(source, CredentialSource)


# -- PLAIN ----------------------------------------------------------------------


def test_plain_initial_response(source: MemorySource) -> None:
    exchange = start("PLAIN", source)
    assert exchange.cleartext
    step = run(exchange.step(b"\x00john\x00pencil"))
    assert step == Success("john@doe.dom", None, None)
    assert exchange.authcid == "john"
    with pytest.raises(ExchangeFinished):
        run(exchange.step(b"\x00john\x00pencil"))


def test_plain_without_initial_response(source: MemorySource) -> None:
    exchange = start("plain", source)

    async def go() -> list[object]:
        return [await exchange.step(None), await exchange.step(b"\x00john@doe.dom\x00pencil")]

    assert run(go()) == [Challenge(b""), Success("john@doe.dom")]


def test_plain_wrong_password(source: MemorySource) -> None:
    exchange = start("PLAIN", source)
    step = run(exchange.step(b"\x00john\x00Pencil"))
    assert isinstance(step, Failure) and not step.temporary
    assert exchange.authcid == "john"  # for the failed-login throttle


def test_plain_impersonation(source: MemorySource) -> None:
    allowed = run(start("PLAIN", source).step(b"john@doe.dom\x00admin\x00s3cret"))
    assert allowed == Success("admin@doe.dom", "john@doe.dom", None)
    denied = run(start("PLAIN", source).step(b"admin@doe.dom\x00john\x00pencil"))
    assert isinstance(denied, Failure)
    assert ("authorize", "john@doe.dom", "admin@doe.dom") in source.calls


def test_plain_authzid_naming_self_is_not_impersonation(source: MemorySource) -> None:
    for authzid in (b"john", b"john@doe.dom"):
        step = run(start("PLAIN", source).step(authzid + b"\x00john\x00pencil"))
        assert step == Success("john@doe.dom", None, None)
    assert not any(call[0] == "authorize" for call in source.calls)


@pytest.mark.parametrize(
    "message",
    [
        b"john\x00pencil",
        b"\x00john\x00pencil\x00",
        b"\x00\x00pencil",
        b"\x00john\x00",
        b"\x00jo\xffhn\x00pencil",
        b"",
        b"\x00" + b"j" * 256 + b"\x00pencil",
    ],
)
def test_plain_malformed(source: MemorySource, message: bytes) -> None:
    step = run(start("PLAIN", source).step(message))
    assert isinstance(step, Failure)
    assert not any(call[0] == "plain" for call in source.calls)


# -- LOGIN ----------------------------------------------------------------------


def test_login_challenges_byte_for_byte(source: MemorySource) -> None:
    exchange = start("LOGIN", source)

    async def go() -> list[object]:
        return [
            await exchange.step(None),
            await exchange.step(b"john"),
            await exchange.step(b"pencil"),
        ]

    assert run(go()) == [Challenge(b"Username:"), Challenge(b"Password:"), Success("john@doe.dom")]


def test_login_initial_response_is_the_user_name(source: MemorySource) -> None:
    exchange = start("LOGIN", source)

    async def go() -> list[object]:
        return [await exchange.step(b"john"), await exchange.step(b"bad")]

    first, second = run(go())
    assert first == Challenge(b"Password:")
    assert isinstance(second, Failure)
    assert exchange.authcid == "john"


def test_login_empty_user_name_fails(source: MemorySource) -> None:
    exchange = start("LOGIN", source)

    async def go() -> object:
        await exchange.step(None)
        return await exchange.step(b"")

    assert isinstance(run(go()), Failure)


# -- SCRAM with scramp's client ---------------------------------------------------


async def drive_scramp(
    exchange: SaslExchange,
    client: ScramClient,
    *,
    initial: bool = True,
) -> object:
    if not initial:
        assert await exchange.step(None) == Challenge(b"")
    first = await exchange.step(client.get_client_first().encode())
    if not isinstance(first, Challenge):
        return first
    client.set_server_first(first.data.decode())
    final = await exchange.step(client.get_client_final().encode())
    if isinstance(final, Success):
        assert final.additional is not None
        client.set_server_final(final.additional.decode())  # raises if the signature is wrong
    return final


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
@pytest.mark.parametrize("initial", [True, False])
def test_scram_with_scramp_client(source: MemorySource, mechanism: str, initial: bool) -> None:
    client = ScramClient([mechanism], "john", "pencil")
    exchange = start(mechanism, source)
    assert not exchange.cleartext
    result = run(drive_scramp(exchange, client, initial=initial))
    assert isinstance(result, Success)
    assert result.account == "john@doe.dom" and result.authzid is None
    assert ("scram", "john", mechanism) in source.calls


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_wrong_password(source: MemorySource, mechanism: str) -> None:
    exchange = start(mechanism, source)
    result = run(drive_scramp(exchange, ScramClient([mechanism], "john", "pencil!")))
    assert result == Failure("invalid-proof")
    assert exchange.authcid == "john"


def test_scram_unknown_user_fails_only_at_the_end(source: MemorySource) -> None:
    async def server_first(name: str) -> bytes:
        exchange = start("SCRAM-SHA-256", source)
        step = await exchange.step(f"n,,n={name},r=abcdefgh".encode())
        assert isinstance(step, Challenge)
        return step.data

    first, again = run(server_first("nobody")), run(server_first("nobody"))
    # A stable fake salt, so probing twice does not reveal the account is missing.
    assert first.split(b",")[1] == again.split(b",")[1]
    result = run(
        drive_scramp(start("SCRAM-SHA-256", source), ScramClient(["SCRAM-SHA-256"], "nobody", "x"))
    )
    assert result == Failure("invalid-proof")


def test_scram_sasl_prepared_password() -> None:
    # U+00AD (soft hyphen) is mapped to nothing by SASLprep on both sides.
    src = MemorySource()
    src.add("ann", "pass\u00adword")
    result = run(
        drive_scramp(start("SCRAM-SHA-256", src), ScramClient(["SCRAM-SHA-256"], "ann", "password"))
    )
    assert isinstance(result, Success)


# -- SCRAM byte for byte: the RFC examples -----------------------------------------


class FixedSource:
    """One user "user" with password "pencil" and a fixed salt, as in the RFCs."""

    def __init__(self, mechanism: str, salt_b64: str) -> None:
        self.verifier = parse_scram_verifier(
            make_scram_verifier("pencil", mechanism, salt=base64.b64decode(salt_b64))
        )

    async def verify_plain(self, authcid: str, password: str) -> str | None:
        return None

    async def scram_keys(self, authcid: str, mechanism: str) -> ScramKeys | None:
        v = self.verifier
        return ScramKeys(authcid, v.salt, v.iterations, v.stored_key, v.server_key)

    async def authorize(self, account: str, authzid: str) -> bool:
        return False


def test_rfc5802_example_exchange() -> None:
    exchange = ScramSha1(FixedSource("SCRAM-SHA-1", "QSXCR+Q6sek8bf92"), nonce="3rfcNHYJY1ZVvWVs7j")

    async def go() -> list[object]:
        return [
            await exchange.step(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"),
            await exchange.step(
                b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
            ),
        ]

    assert run(go()) == [
        Challenge(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"),
        Success("user", None, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    ]


def test_rfc7677_example_exchange() -> None:
    exchange = ScramSha256(
        FixedSource("SCRAM-SHA-256", "W22ZaJ0SNY7soEsUEjb6gQ=="),
        nonce="%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    )
    nonce = b"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

    async def go() -> list[object]:
        return [
            await exchange.step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
            await exchange.step(
                b"c=biws,r=" + nonce + b",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
            ),
        ]

    assert run(go()) == [
        Challenge(b"r=" + nonce + b",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
        Success("user", None, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
    ]


# -- SCRAM: authzid, channel binding, malformed messages -----------------------------


def hand_client_final(
    password: str,
    salt: bytes,
    iterations: int,
    client_first_bare: str,
    server_first: str,
    cbind_input: bytes,
) -> tuple[str, bytes]:
    """Compute a SCRAM-SHA-256 client-final message and the expected server signature."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    nonce = server_first.split(",")[0][2:]
    without_proof = f"c={base64.b64encode(cbind_input).decode()},r={nonce}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    return final, b"v=" + base64.b64encode(server_signature)


def scram_by_hand(
    exchange: SaslExchange, password: str, gs2: str, user: str, cbind_data: bytes = b""
) -> object:
    bare = f"n={user},r=clientnonce123"

    async def go() -> object:
        first = await exchange.step(f"{gs2}{bare}".encode())
        if not isinstance(first, Challenge):
            return first
        server_first = first.data.decode()
        fields = dict(part.split("=", 1) for part in server_first.split(","))
        final, expected_v = hand_client_final(
            password,
            base64.b64decode(fields["s"]),
            int(fields["i"]),
            bare,
            server_first,
            gs2.encode() + cbind_data,
        )
        result = await exchange.step(final.encode())
        if isinstance(result, Success):
            assert result.additional == expected_v
        return result

    return run(go())


def test_scram_authzid_impersonation(source: MemorySource) -> None:
    allowed = scram_by_hand(start("SCRAM-SHA-256", source), "s3cret", "n,a=john@doe.dom,", "admin")
    assert isinstance(allowed, Success)
    assert (allowed.account, allowed.authzid) == ("admin@doe.dom", "john@doe.dom")
    denied = scram_by_hand(start("SCRAM-SHA-256", source), "pencil", "n,a=admin@doe.dom,", "john")
    assert isinstance(denied, Failure)
    escaped = scram_by_hand(start("SCRAM-SHA-256", source), "pencil", "n,a=jo=2Chn,", "john")
    assert isinstance(escaped, Failure)
    assert ("authorize", "john@doe.dom", "jo,hn") in source.calls


def test_scram_plus_channel_binding(source: MemorySource) -> None:
    binding = ChannelBinding("tls-exporter", b"\x01" * 32)
    with pytest.raises(UnknownMechanism):
        start("SCRAM-SHA-256-PLUS", source)
    good = scram_by_hand(
        start("SCRAM-SHA-256-PLUS", source, channel_binding=binding),
        "pencil",
        "p=tls-exporter,,",
        "john",
        binding.data,
    )
    assert isinstance(good, Success)
    wrong_data = scram_by_hand(
        start("SCRAM-SHA-256-PLUS", source, channel_binding=binding),
        "pencil",
        "p=tls-exporter,,",
        "john",
        b"\x02" * 32,
    )
    assert wrong_data == Failure("channel-bindings-dont-match")
    wrong_type = scram_by_hand(
        start("SCRAM-SHA-256-PLUS", source, channel_binding=binding),
        "pencil",
        "p=tls-unique,,",
        "john",
        binding.data,
    )
    assert wrong_type == Failure("unsupported-channel-binding-type")
    # A client that could bind ("y") talking to a server that can: a downgrade.
    downgrade = scram_by_hand(
        start("SCRAM-SHA-256", source, channel_binding=binding), "pencil", "y,,", "john"
    )
    assert downgrade == Failure("server-does-support-channel-binding")
    # Without binding on our side, "y" is fine.
    assert isinstance(
        scram_by_hand(start("SCRAM-SHA-256", source), "pencil", "y,,", "john"), Success
    )
    # "p=" on a plain mechanism is refused.
    refused = scram_by_hand(start("SCRAM-SHA-256", source), "pencil", "p=tls-exporter,,", "john")
    assert refused == Failure("channel-binding-not-supported")


def test_scram_plus_with_scramp_client(source: MemorySource) -> None:
    data = b"\x07" * 32
    client = ScramClient(
        ["SCRAM-SHA-256-PLUS"], "john", "pencil", channel_binding=("tls-unique", data)
    )
    exchange = start(
        "SCRAM-SHA-256-PLUS", source, channel_binding=ChannelBinding("tls-unique", data)
    )
    assert isinstance(run(drive_scramp(exchange, client)), Success)


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (b"n,,m=ext,n=john,r=abc", "extensions-not-supported"),
        (b"n,,n=jo=3xhn,r=abc", "invalid-username-encoding"),
        (b"n,,n=,r=abc", "invalid-username-encoding"),
        (b"x,,n=john,r=abc", "other-error"),
        (b"n,,r=abc,n=john", "other-error"),
        (b"n,,n=john", "other-error"),
        (b"n,n=john,r=abc", "other-error"),
        (b"n,,n=john,r=a\x01c", "other-error"),
        (b"n,,n=\xff,r=abc", "invalid-encoding"),
    ],
)
def test_scram_bad_client_first(source: MemorySource, first: bytes, reason: str) -> None:
    assert run(start("SCRAM-SHA-256", source).step(first)) == Failure(reason)


@pytest.mark.parametrize(
    "final",
    [
        b"c=biws,r=wrongnonce,p=AAAA",
        b"c=eSws,r={nonce},p=AAAA",
        b"c=biws,r={nonce}",
        b"c=biws,r={nonce},p=!!!!",
        b"c=biws,r={nonce},p=AAAA",
        b"p=AAAA",
    ],
)
def test_scram_bad_client_final(source: MemorySource, final: bytes) -> None:
    exchange = start("SCRAM-SHA-256", source)

    async def go() -> object:
        first = await exchange.step(b"n,,n=john,r=abc")
        assert isinstance(first, Challenge)
        nonce = first.data.split(b",")[0][2:]
        return await exchange.step(final.replace(b"{nonce}", nonce))

    result = run(go())
    assert isinstance(result, Failure)


# -- registry --------------------------------------------------------------------


def test_registry(source: MemorySource) -> None:
    assert set(MECHANISMS) == {
        "PLAIN",
        "LOGIN",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256-PLUS",
    }
    assert {"PLAIN", "LOGIN"} == CLEARTEXT_MECHANISMS
    with pytest.raises(UnknownMechanism) as info:
        start("CRAM-MD5", source)
    assert info.value.name == "CRAM-MD5"
    assert start("scram-sha-1", source).name == "SCRAM-SHA-1"


def test_advertised() -> None:
    assert advertised(tls=False, allow_cleartext_without_tls=False) == [
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
    ]
    assert advertised(tls=True, allow_cleartext_without_tls=False) == [
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "PLAIN",
        "LOGIN",
    ]
    assert advertised(tls=False, allow_cleartext_without_tls=True)[-2:] == ["PLAIN", "LOGIN"]
    assert advertised(tls=True, allow_cleartext_without_tls=False, channel_binding=True)[:2] == [
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-1-PLUS",
    ]
    assert "SCRAM-SHA-256-PLUS" not in advertised(
        tls=False, allow_cleartext_without_tls=True, channel_binding=True
    )


def test_plain_none_twice_fails(source: MemorySource) -> None:
    exchange = start("PLAIN", source)

    async def go() -> list[object]:
        return [await exchange.step(None), await exchange.step(None)]

    first, second = run(go())
    assert first == Challenge(b"") and isinstance(second, Failure)


@settings(max_examples=200, deadline=None)
@given(
    mechanism=st.sampled_from(["PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-1"]),
    messages=st.lists(
        st.one_of(
            st.none(),
            st.binary(max_size=64),
            st.sampled_from([b"n,,n=john,r=abc", b"c=biws,r=abc,p=AAAA", b"\x00john\x00x"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_any_client_bytes_give_a_step_never_an_exception(
    mechanism: str, messages: list[bytes | None]
) -> None:
    src = MemorySource()
    src.add("john", "pencil")
    exchange = start(mechanism, src)

    async def go() -> None:
        for message in messages:
            step = await exchange.step(message)
            assert isinstance(step, (Challenge, Success, Failure))
            if not isinstance(step, Challenge):
                assert not isinstance(step, Success)
                return

    run(go())


def test_scram_keys_from_settings() -> None:
    settings = make_verifiers("pencil", names=["john@doe.dom"], realm="doe.dom", hasher=FAST)
    keys = scram_keys_from_settings("john@doe.dom", "SCRAM-SHA-256-PLUS", settings)
    assert keys is not None and keys.account == "john@doe.dom"
    expected = parse_scram_verifier(str(settings["SCRAM-SHA-256"]))
    assert (keys.salt, keys.iterations, keys.stored_key) == (
        expected.salt,
        expected.iterations,
        expected.stored_key,
    )
    assert scram_keys_from_settings("a", "SCRAM-SHA-1", {}) is None
    assert scram_keys_from_settings("a", "SCRAM-SHA-1", {"SCRAM-SHA-1": "junk"}) is None
