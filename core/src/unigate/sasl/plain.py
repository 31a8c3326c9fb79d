"""The clear-text mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).

Both carry the password itself, so they are advertised only over TLS unless
the administrator allows otherwise (see :func:`unigate.sasl.advertised`), and
both mark themselves ``cleartext`` for the account's "Secure Only" check.
"""

from __future__ import annotations

import enum

from unigate.sasl.base import Challenge, CredentialSource, Failure, SaslExchange, SaslStep

__all__ = ["LoginExchange", "PlainExchange"]

#: RFC 4616 limits the identities to 255 octets; passwords get more room.
MAX_IDENTITY = 255
MAX_PASSWORD = 1024

_BAD_CREDENTIALS = "authentication failed"


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class PlainExchange(SaslExchange):
    """PLAIN: one message ``[authzid] NUL authcid NUL passwd``."""

    name = "PLAIN"
    cleartext = True

    def __init__(self, source: CredentialSource) -> None:
        super().__init__(source)
        self._challenged = False

    async def _step(self, response: bytes | None) -> SaslStep:
        if response is None:
            if self._challenged:
                return Failure("malformed PLAIN message")
            self._challenged = True
            return Challenge(b"")
        parts = response.split(b"\x00")
        if len(parts) != 3:
            return Failure("malformed PLAIN message")
        authzid, authcid, password = (_text(p) for p in parts)
        if authzid is None or authcid is None or password is None:
            return Failure("PLAIN message is not UTF-8")
        if not authcid or not password:
            return Failure("malformed PLAIN message")
        if (
            len(parts[0]) > MAX_IDENTITY
            or len(parts[1]) > MAX_IDENTITY
            or len(parts[2]) > MAX_PASSWORD
        ):
            return Failure("PLAIN message too long")
        self.authcid = authcid
        account = await self.source.verify_plain(authcid, password)
        if account is None:
            return Failure(_BAD_CREDENTIALS)
        return await self._finish(account, authzid or None)


class _LoginState(enum.Enum):
    START = enum.auto()
    USERNAME = enum.auto()
    PASSWORD = enum.auto()


class LoginExchange(SaslExchange):
    """LOGIN: challenges ``Username:`` then ``Password:``; an initial response is the user name."""

    name = "LOGIN"
    cleartext = True

    def __init__(self, source: CredentialSource) -> None:
        super().__init__(source)
        self._state = _LoginState.START

    async def _step(self, response: bytes | None) -> SaslStep:
        if self._state is _LoginState.START:
            if response is None:
                self._state = _LoginState.USERNAME
                return Challenge(b"Username:")
            return self._take_username(response)
        if self._state is _LoginState.USERNAME:
            return self._take_username(response or b"")
        password = _text(response or b"")
        if password is None or not password or len(response or b"") > MAX_PASSWORD:
            return Failure("malformed LOGIN password")
        assert self.authcid is not None
        account = await self.source.verify_plain(self.authcid, password)
        if account is None:
            return Failure(_BAD_CREDENTIALS)
        return await self._finish(account, None)

    def _take_username(self, response: bytes) -> SaslStep:
        username = _text(response)
        if not username or len(response) > MAX_IDENTITY or "\x00" in username:
            return Failure("malformed LOGIN user name")
        self.authcid = username
        self._state = _LoginState.PASSWORD
        return Challenge(b"Password:")
