"""One POP3 session: the anyio loop around :class:`~unigate_pop.protocol.ServerConnection`.

The loop reads, feeds the core, answers each event through :class:`PopSession`'s
handlers and writes the replies. Logins go through the kernel's authentication service
(``server.auth``); the mailbox is a :class:`~unigate_pop.maildrop.Maildrop` over the
mailbox manager. A session that times out, is dropped or is shut down never reaches
the UPDATE state, so nothing it marked is deleted.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import Any

import anyio

from unigate.api import mailboxes, sasl

from . import protocol as p
from .gate import AccountGate
from .login import make_timestamp, split_login, verify_apop
from .maildrop import Maildrop, NoMessage
from .settings import PopSettings

__all__ = ["PopSession", "handle"]

SERVICE = "pop"
_TEMP = p.ResponseCode.SYS_TEMP


async def handle(connection: Any) -> None:
    """The listener handler of ``pop3`` and ``pop3s``."""
    await PopSession(connection, connection.server.settings.section("pop")).run()


def trace(event: p.Event) -> bytes:
    """The command an event stands for, for the protocol trace, with secrets masked."""
    if isinstance(event, p.Pass):
        text = f"PASS *** (for {event.user})"
    elif isinstance(event, p.Auth):
        text = f"AUTH {event.mechanism}" + (" ***" if event.initial is not None else "")
    elif isinstance(event, p.AuthResponse):
        text = "*" if event.data is None and not event.malformed else "*** (SASL response)"
    elif isinstance(event, p.ProtocolError):
        text = f"(rejected: {event.reply.text})"
    elif isinstance(event, p.Unknown):
        text = f"{event.keyword} {event.argument}".rstrip()
    elif isinstance(event, p.AuthList):
        text = "AUTH"
    else:
        values = [getattr(event, f.name) for f in dataclasses.fields(event)]
        words = [type(event).__name__.upper()] + [
            str(v) for v in values if isinstance(v, (int, str)) and not isinstance(v, bool)
        ]
        text = " ".join(words)
    return text.encode("utf-8", "replace")


def gate(server: Any) -> AccountGate:
    """The server's :class:`AccountGate` (made by ``unigate_startup``, or here on first use)."""
    found = server.state.get("pop")
    if found is None:
        settings: PopSettings = server.settings.section("pop")
        found = server.state["pop"] = AccountGate(
            settings.sessions_per_account, settings.login_limit, settings.login_window
        )
    return found  # type: ignore[no-any-return]


class PopSession:
    """The application side of one POP3 connection."""

    def __init__(self, connection: Any, settings: PopSettings) -> None:
        self.connection = connection
        self.server = connection.server
        self.settings = settings
        self.core = p.ServerConnection(
            limits=p.Limits(settings.max_command_line, settings.max_auth_line, settings.max_errors),
            tls_active=connection.tls_active,
        )
        self.timestamp = make_timestamp(socket.gethostname() or "localhost")
        self.maildrop: Maildrop | None = None
        self._sasl: Any = None
        self._sasl_mailbox = "INBOX"
        self._sasl_done: Any = None  # an outcome waiting for the client's empty response
        self._admitted: str | None = None  # the account counted in the gate

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        greeting = "Unigate POP3 server ready" + (
            f" {self.timestamp}" if self.settings.apop else ""
        )
        await self._write(self.core.send(p.ok(greeting)))
        try:
            while self.core.state is not p.PopState.CLOSED:
                event = self.core.next_event()
                if event is p.NEED_DATA:
                    await self._read()
                    continue
                if event is p.PAUSED or isinstance(event, p.ConnectionClosed):
                    break
                assert isinstance(event, p.Event)
                self.connection.log.data("inp", trace(event))
                reply = await self.dispatch(event)
                await self._write(self.core.send(reply))
                if self.core.state is p.PopState.STARTTLS and not await self._start_tls():
                    break
        finally:
            if self._admitted is not None:
                gate(self.server).release(self._admitted)
            if self.maildrop is not None:
                with anyio.CancelScope(shield=True):
                    await self.maildrop.close()

    async def _read(self) -> None:
        """Feed the core the next bytes; at end of stream, shutdown or idle timeout, an EOF."""
        try:
            data = await self.connection.receive(65536, self.settings.idle_timeout)
        except TimeoutError:
            await self._write(p.err("autologout: idle for too long", _TEMP).encode())
            self.core.receive_data(b"")
            return
        if not data and self.connection.closing:
            await self._write(p.err("server shutting down", _TEMP).encode())
        self.core.receive_data(data)

    async def _start_tls(self) -> bool:
        try:
            await self.connection.start_tls()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:  # noqa: BLE001 - ssl, timeout, broken stream: end the session
            self.connection.log.problem(f"STLS handshake failed: {type(exc).__name__}: {exc}")
            return False
        self.core.start_tls_done()
        return True

    async def _write(self, data: bytes) -> None:
        self.connection.log.data("out", data if len(data) < 512 else data[: data.find(b"\n") + 1])
        await self.connection.send(data)

    # -- dispatch ---------------------------------------------------------------------------

    async def dispatch(self, event: p.Event) -> p.Reply | p.Challenge:
        handler = getattr(self, "on_" + type(event).__name__.lower(), None)
        if handler is None:
            return p.err("command not implemented")
        try:
            return await handler(event)
        except NoMessage as exc:
            return p.err(str(exc))
        except mailboxes.PermissionDenied as exc:
            return p.err(str(exc))
        except mailboxes.MailboxError as exc:
            self.connection.log.problem(f"mailbox error: {exc}")
            return p.err(f"mailbox error: {exc}", _TEMP)

    async def on_protocolerror(self, event: p.ProtocolError) -> p.Reply:
        return event.reply

    async def on_unknown(self, event: p.Unknown) -> p.Reply:
        return p.err(f"unknown command {event.keyword}")

    async def on_capa(self, event: p.Capa) -> p.Reply:
        return p.listing("capability list follows", self.capabilities())

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.core.state is p.PopState.AUTHORIZATION:
            if self._cleartext_allowed():
                caps.append("USER")
            mechanisms = self._mechanisms()
            if mechanisms:
                caps.append("SASL " + " ".join(mechanisms))
            if self._stls_possible():
                caps.append("STLS")
        if self.settings.login_limit:
            delay = int(self.settings.login_window // self.settings.login_limit)
            caps.append(f"LOGIN-DELAY {delay}")
        caps.append("IMPLEMENTATION Unigate")
        return caps

    def _secure(self) -> bool:
        return bool(self.connection.secure)

    def _cleartext_allowed(self) -> bool:
        return bool(
            self.server.auth.cleartext_allowed(
                secure=self._secure(), address_class=self.connection.peer.address_class
            )
        )

    def _mechanisms(self) -> list[str]:
        return list(
            self.server.auth.mechanisms(
                secure=self._secure(), address_class=self.connection.peer.address_class
            )
        )

    def _stls_possible(self) -> bool:
        mode = getattr(getattr(self.connection, "tls_mode", None), "value", "starttls")
        return (
            not self.connection.tls_active
            and mode != "external"
            and self.server.tls_context is not None
        )

    # -- AUTHORIZATION ----------------------------------------------------------------------

    async def on_stls(self, event: p.Stls) -> p.Reply:
        if not self._stls_possible():
            return p.err("STLS is not available")
        return p.ok("begin TLS negotiation")

    async def on_user(self, event: p.User) -> p.Reply:
        if not self._cleartext_allowed():
            return p.err("clear-text logins are disabled on this connection; use STLS or AUTH")
        return p.ok("send pass")

    async def on_pass(self, event: p.Pass) -> p.Reply:
        mailbox, login = split_login(event.user)
        peer = self.connection.peer
        outcome = await self.server.auth.login(
            login,
            event.password,
            service=SERVICE,
            peer_ip=peer.ip,
            local_ip=peer.local_ip,
            secure=self._secure(),
        )
        return await self._logged_in(outcome, mailbox)

    async def on_apop(self, event: p.Apop) -> p.Reply:
        if not self.settings.apop:
            return p.err("APOP is not enabled")
        mailbox, login = split_login(event.name)
        peer = self.connection.peer
        outcome = await verify_apop(
            self.server,
            login,
            self.timestamp,
            event.digest,
            service=SERVICE,
            peer_ip=peer.ip,
            local_ip=peer.local_ip,
            secure=self._secure(),
        )
        return await self._logged_in(outcome, mailbox)

    async def on_authlist(self, event: p.AuthList) -> p.Reply:
        return p.listing("SASL mechanisms follow", self._mechanisms())

    async def on_auth(self, event: p.Auth) -> p.Reply | p.Challenge:
        if event.mechanism not in self._mechanisms():
            return p.err(f"mechanism {event.mechanism} is not available")
        peer = self.connection.peer
        try:
            self._sasl = self.server.auth.start_sasl(
                event.mechanism,
                service=SERVICE,
                peer_ip=peer.ip,
                local_ip=peer.local_ip,
                secure=self._secure(),
            )
        except sasl.UnknownMechanism:
            return p.err(f"mechanism {event.mechanism} is not available")
        return await self._sasl_step(event.initial)

    async def on_authresponse(self, event: p.AuthResponse) -> p.Reply | p.Challenge:
        login, done = self._sasl, self._sasl_done
        if done is not None:
            self._sasl = self._sasl_done = None
            if event.data == b"":
                return await self._logged_in(done, self._sasl_mailbox)
            return p.err("authentication failed", p.ResponseCode.AUTH)
        if login is None:
            return p.err("no authentication in progress")
        if event.data is None:
            self._sasl = None
            await login.cancel()
            return p.err("invalid base64 data" if event.malformed else "authentication cancelled")
        return await self._sasl_step(event.data)

    async def _sasl_step(self, data: bytes | None) -> p.Reply | p.Challenge:
        step = await self._sasl.step(data)
        if isinstance(step, sasl.Challenge):
            return p.Challenge(step.data)
        if step.outcome.ok and step.additional:
            self._sasl_done = step.outcome  # RFC 5034: additional data as a last challenge
            return p.Challenge(step.additional)
        self._sasl = None
        return await self._logged_in(step.outcome, self._sasl_mailbox)

    async def _logged_in(self, outcome: Any, mailbox: str) -> p.Reply:
        if not outcome.ok:
            code = _TEMP if outcome.temporary else p.ResponseCode.AUTH
            return p.err(outcome.reason or "authentication failed", code)
        manager = self.server.service("mailboxes")
        if manager is None:
            return p.err("no mailbox storage is available", _TEMP)
        refusal = gate(self.server).admit(outcome.account, time.monotonic())
        if refusal is not None:
            code = p.ResponseCode.IN_USE if refusal.in_use else p.ResponseCode.LOGIN_DELAY
            self.connection.log.problem(f"{outcome.account}: login refused: {refusal.text}")
            return p.err(refusal.text, code)
        try:
            self.maildrop = await Maildrop.open(manager, outcome.account, mailbox)
        except mailboxes.MailboxError as exc:
            gate(self.server).release(outcome.account)
            if isinstance(exc, mailboxes.PermissionDenied):
                return p.err(f"no right to read mailbox {mailbox}", p.ResponseCode.SYS_PERM)
            return p.err(f"mailbox {mailbox} does not exist", p.ResponseCode.SYS_PERM)
        self._admitted = outcome.account
        self.server.classifier.trust_temporarily(self.connection.peer.ip)
        count, octets = self.maildrop.stat()
        self.connection.log.major(
            f"{outcome.account} opened {self.maildrop.mailbox}: {count} message(s)"
        )
        return p.ok(f"{count} message(s) ({octets} octets)")

    # -- TRANSACTION ------------------------------------------------------------------------

    @property
    def _drop(self) -> Maildrop:
        assert self.maildrop is not None
        return self.maildrop

    async def on_stat(self, event: p.Stat) -> p.Reply:
        count, octets = self._drop.stat()
        return p.ok(f"{count} {octets}")

    async def on_list(self, event: p.List) -> p.Reply:
        drop = self._drop
        if event.number is not None:
            return p.ok(f"{event.number} {drop.size(event.number)}")
        count, octets = drop.stat()
        return p.listing(
            f"{count} messages ({octets} octets)", [f"{n} {drop.size(n)}" for n in drop.numbers()]
        )

    async def on_uidl(self, event: p.Uidl) -> p.Reply:
        drop = self._drop
        if event.number is not None:
            return p.ok(f"{event.number} {drop.unique_id(event.number)}")
        return p.listing(
            "unique-id listing follows", [f"{n} {drop.unique_id(n)}" for n in drop.numbers()]
        )

    async def on_retr(self, event: p.Retr) -> p.Reply:
        data = await self._drop.retrieve(event.number)
        return p.content(f"{len(data)} octets", data)

    async def on_top(self, event: p.Top) -> p.Reply:
        data = await self._drop.read(event.number)
        return p.content("top of message follows", p.top_of(data, event.lines))

    async def on_dele(self, event: p.Dele) -> p.Reply:
        self._drop.delete(event.number)
        return p.ok(f"message {event.number} deleted")

    async def on_noop(self, event: p.Noop) -> p.Reply:
        return p.ok()

    async def on_rset(self, event: p.Rset) -> p.Reply:
        self._drop.reset()
        count, octets = self._drop.stat()
        return p.ok(f"maildrop has {count} messages ({octets} octets)")

    async def on_last(self, event: p.Last) -> p.Reply:
        return p.ok(str(self._drop.last_accessed))

    async def on_quit(self, event: p.Quit) -> p.Reply:
        if not event.update or self.maildrop is None:
            return p.ok("Unigate POP3 server signing off")
        try:
            with anyio.CancelScope(shield=True):
                removed = await self.maildrop.commit()
        except mailboxes.MailboxError as exc:
            self.connection.log.problem(f"UPDATE failed: {exc}")
            return p.err("some deleted messages were not removed", _TEMP)
        self.connection.log.major(f"session ended, {removed} message(s) removed")
        return p.ok(f"Unigate POP3 server signing off ({removed} messages deleted)")
