"""The authentication service: the one place every protocol verifies a login.

It owns the security invariants so protocol plugins cannot get them wrong (the
template-method lesson of Radicale's ``BaseAuth.login``):

* login names resolve the manual's way (``%`` = ``@``, bare names take the Main Domain
  or the domain of the local address, aliases log in, only accounts log in);
* failed logins are throttled per address and per account; an address over its limit is
  temporarily blocked in the address-classification service;
* a failure costs the same whether the account exists or not, and says nothing more than
  "Incorrect Account Name or Password";
* clear-text logins on an insecure channel are refused when the account requires
  secure methods (``RequireAPOP`` -- the manual's "Secure Only");
* the service must be enabled for the domain and the account;
* the authentication hook (external helpers) decides what the stored verifiers cannot,
  and the login-check hook may veto a login.

SASL exchanges (``unigate.sasl``) use :class:`Authenticator` as their credential source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from unigate import sasl
from unigate.passwords import verify_password
from unigate.sasl import ScramKeys
from unigate.throttle import LoginThrottle
from unigate_hookspecs.authentication import AuthMethod, AuthResult, LoginRequest

if TYPE_CHECKING:
    from unigate.server import Server

FAILURE_TEXT = "Incorrect Account Name or Password"
FAILURE_DELAY = 0.25


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """The answer to a login: ``account`` on success, else ``reason`` (and ``temporary``)."""

    account: str | None
    reason: str = ""
    temporary: bool = False

    @property
    def ok(self) -> bool:
        return self.account is not None


class Authenticator:
    """Verifies logins for every protocol (see the module docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        settings = server.settings.protection
        self.throttle = LoginThrottle(
            per_address=tuple(settings.failed_logins),
            per_account=tuple(settings.failed_logins_account),
        )

    @property
    def objects(self) -> Any:
        return self.server.objects

    def resolve(self, login: str, local_ip: str | None = None) -> str | None:
        """The canonical account a login name means, or None."""
        return self.objects.resolve_login(login, local_ip=local_ip)

    async def login(
        self,
        login: str,
        password: str,
        *,
        service: str,
        peer_ip: str | None = None,
        local_ip: str | None = None,
        secure: bool = True,
    ) -> LoginOutcome:
        """Verify a clear-text login (LOGIN, USER/PASS, SASL PLAIN/LOGIN)."""
        account = self.resolve(login, local_ip)
        now = time.monotonic()
        if self.throttle.blocked(peer_ip or "", account, now) > 0:
            await anyio.sleep(FAILURE_DELAY)
            return LoginOutcome(None, "Too many failed logins; try again later", temporary=True)
        verified = False
        if account is not None:
            stored = self.objects.account_settings(account).get("Password")
            if isinstance(stored, str) and stored:
                verified = await anyio.to_thread.run_sync(
                    lambda: verify_password(stored, password, server_key=self._server_key(stored))
                )
        if not verified:
            request = LoginRequest(
                login_name=login,
                account=account,
                method=AuthMethod.PLAIN,
                service=service,
                password=password,
                peer_ip=peer_ip,
                secure=secure,
            )
            decided = await self.server.call_first(
                "unigate_authenticate", server=self.server, request=request
            )
            if isinstance(decided, AuthResult) and decided.ok and decided.account:
                account, verified = decided.account, True
        if not verified or account is None:
            return await self._failed(peer_ip, account, service, login)
        if not secure and str(self.objects.setting(account, "RequireAPOP")).upper() in (
            "YES",
            "TRUE",
            "1",
        ):
            return await self._failed(
                peer_ip, account, service, login, "Secure login method required"
            )
        return await self.authorize(account, service=service, peer_ip=peer_ip)

    async def login_apop(
        self,
        login: str,
        timestamp: str,
        digest: str,
        *,
        service: str,
        peer_ip: str | None = None,
        local_ip: str | None = None,
        secure: bool = False,
    ) -> LoginOutcome:
        """Verify an APOP login: MD5(timestamp + secret) against the stored secret.

        Works only for passwords stored clear or reversibly (``A-crpt``): a one-way
        verifier cannot answer a challenge, which is why APOP is advertised only where it
        can work. Throttling, failure delay and the post-login checks are the same as for
        :meth:`login`.
        """
        import hashlib
        import hmac

        from unigate.passwords import reveal_password

        account = self.resolve(login, local_ip)
        if self.throttle.blocked(peer_ip or "", account, time.monotonic()) > 0:
            await anyio.sleep(FAILURE_DELAY)
            return LoginOutcome(None, "Too many failed logins; try again later", temporary=True)
        secret = None
        if account is not None:
            stored = self.objects.account_settings(account).get("Password")
            if isinstance(stored, str) and stored:
                secret = reveal_password(stored, self._server_key(stored))
        expected = hashlib.md5((timestamp + (secret or "")).encode()).hexdigest()
        if account is None or secret is None or not hmac.compare_digest(expected, digest.lower()):
            return await self._failed(peer_ip, account, service, login)
        return await self.authorize(account, service=service, peer_ip=peer_ip)

    def can_reveal(self, account: str) -> bool:
        """True when the account's password is stored clear or reversibly (APOP, CRAM-MD5 work)."""
        from unigate.passwords import is_one_way

        stored = self.objects.account_settings(account).get("Password")
        return isinstance(stored, str) and bool(stored) and not is_one_way(stored)

    async def authorize(self, account: str, *, service: str, peer_ip: str | None) -> LoginOutcome:
        """Checks after the credentials proved ``account``: enabled services and plugin vetoes."""
        if not self.objects.service_enabled(account, service):
            return LoginOutcome(None, f"{service.upper()} access is not enabled for this account")
        verdict = await self.server.judge(
            "unigate_login_check",
            server=self.server,
            account=account,
            service=service,
            peer_ip=peer_ip,
        )
        if verdict.final and verdict.decision.value in ("reject", "defer", "disconnect"):
            return LoginOutcome(
                None, verdict.text or "Login refused", temporary=verdict.decision.value == "defer"
            )
        self.throttle.success(peer_ip or "", account, time.monotonic())
        self.server.logs.logger("ACCOUNT").major(
            f"'{account}' logged in via {service} from [{peer_ip}]"
        )
        return LoginOutcome(account)

    async def _failed(
        self,
        peer_ip: str | None,
        account: str | None,
        service: str,
        login: str,
        reason: str = FAILURE_TEXT,
    ) -> LoginOutcome:
        now = time.monotonic()
        self.throttle.failure(peer_ip or "", account, now)
        if peer_ip and self.throttle.blocked(peer_ip, None, now) > 0:
            self.server.classifier.block_temporarily(peer_ip)
        self.server.logs.logger("ACCOUNT").problem(
            f"{service} login as '{login}' from [{peer_ip}] failed: {reason}"
        )
        await anyio.sleep(FAILURE_DELAY)
        return LoginOutcome(None, reason)

    def _server_key(self, stored: str) -> bytes | None:
        return self.objects.server_key() if stored.startswith("\x01") else None

    def cleartext_allowed(self, *, secure: bool, address_class: Any = None) -> bool:
        """May a clear-text password be sent on this connection (advertise PLAIN/LOGIN)?"""
        policy = self.server.settings.protection.cleartext_logins
        if policy == "always" or secure:
            return True
        if policy == "secure_or_trusted" and address_class is not None:
            return bool(address_class.local or address_class.client)
        return False

    def mechanisms(self, *, secure: bool, address_class: Any = None) -> list[str]:
        """The SASL mechanisms to advertise on a connection."""
        return sasl.advertised(
            tls=secure,
            allow_cleartext_without_tls=self.cleartext_allowed(
                secure=secure, address_class=address_class
            ),
        )

    def start_sasl(
        self,
        mechanism: str,
        *,
        service: str,
        peer_ip: str | None = None,
        local_ip: str | None = None,
        secure: bool = True,
    ) -> SaslLogin:
        """Begin a SASL login; raises ``sasl.UnknownMechanism``. Drive it with ``step``."""
        credentials = self.credentials(
            service=service, peer_ip=peer_ip, local_ip=local_ip, secure=secure
        )
        exchange = sasl.start(mechanism, credentials)
        return SaslLogin(self, exchange, credentials, service=service, peer_ip=peer_ip)

    def credentials(
        self,
        *,
        service: str,
        peer_ip: str | None = None,
        local_ip: str | None = None,
        secure: bool = True,
    ) -> SessionCredentials:
        """A SASL credential source bound to one session's service and addresses."""
        return SessionCredentials(
            self, service=service, peer_ip=peer_ip, local_ip=local_ip, secure=secure
        )


class SessionCredentials:
    """``unigate.sasl.CredentialSource`` for one session, backed by the Authenticator."""

    def __init__(
        self,
        auth: Authenticator,
        *,
        service: str,
        peer_ip: str | None,
        local_ip: str | None,
        secure: bool,
    ) -> None:
        self.auth = auth
        self.service = service
        self.peer_ip = peer_ip
        self.local_ip = local_ip
        self.secure = secure
        self.last_outcome: LoginOutcome | None = None

    async def verify_plain(self, authcid: str, password: str) -> str | None:
        outcome = await self.auth.login(
            authcid,
            password,
            service=self.service,
            peer_ip=self.peer_ip,
            local_ip=self.local_ip,
            secure=self.secure,
        )
        self.last_outcome = outcome
        return outcome.account

    async def scram_keys(self, authcid: str, mechanism: str) -> ScramKeys | None:
        from unigate.sasl import scram_keys_from_settings

        account = self.auth.resolve(authcid, self.local_ip)
        if account is None:
            return None
        settings = self.auth.objects.account_settings(account)
        return scram_keys_from_settings(account, mechanism, settings)

    async def authorize(self, account: str, authzid: str) -> bool:
        target = self.auth.resolve(authzid, self.local_ip)
        return target == account


@dataclass(frozen=True, slots=True)
class SaslDone:
    """The end of a SASL login: the outcome, and server-final data to send (SCRAM)."""

    outcome: LoginOutcome
    additional: bytes | None = None


class SaslLogin:
    """One SASL login of a session: wraps an exchange with the service's security checks.

    ``await step(response)`` returns a ``sasl.Challenge`` to send to the client, or a
    :class:`SaslDone`. Throttling, the enabled-services check and plugin vetoes apply to
    every mechanism, whether it verified a clear-text password or a SCRAM proof.
    """

    def __init__(
        self,
        auth: Authenticator,
        exchange: sasl.SaslExchange,
        credentials: SessionCredentials,
        *,
        service: str,
        peer_ip: str | None,
    ) -> None:
        self.auth = auth
        self.exchange = exchange
        self.credentials = credentials
        self.service = service
        self.peer_ip = peer_ip

    @property
    def mechanism(self) -> str:
        return self.exchange.name

    @property
    def authcid(self) -> str | None:
        """The identity the client claimed, once the exchange has seen it."""
        return getattr(self.exchange, "authcid", None)

    async def step(self, response: bytes | None) -> sasl.Challenge | SaslDone:
        result = await self.exchange.step(response)
        if isinstance(result, sasl.Challenge):
            return result
        if isinstance(result, sasl.Success):
            if self.exchange.cleartext:
                outcome = self.credentials.last_outcome or LoginOutcome(result.account)
            else:
                outcome = await self.auth.authorize(
                    result.account, service=self.service, peer_ip=self.peer_ip
                )
            return SaslDone(outcome, result.additional)
        if self.exchange.cleartext and self.credentials.last_outcome is not None:
            return SaslDone(self.credentials.last_outcome)
        authcid = getattr(self.exchange, "authcid", None) or ""
        account = self.auth.resolve(authcid) if authcid else None
        outcome = await self.auth._failed(self.peer_ip, account, self.service, authcid or "?")
        return SaslDone(LoginOutcome(None, outcome.reason, temporary=result.temporary))

    async def cancel(self) -> LoginOutcome:
        """The client cancelled (``*``): counts as a failed login."""
        return await self.auth._failed(
            self.peer_ip, None, self.service, "?", "Authentication cancelled"
        )
