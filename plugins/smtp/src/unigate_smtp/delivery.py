"""The SMTP delivery module: queued mail for remote domains, sent with the client core.

The queue key is the route's queue: a domain (``remote.test``), a host (``host:port``)
or an address literal (``[192.0.2.1]``). The static host table of ``[smtp] hosts`` is
looked up first (tests and closed networks need no DNS); otherwise MX records, then the
domain's own A/AAAA records (RFC 5321 §5.1), each host tried in preference order.
Opportunistic STARTTLS (no certificate check: it protects against passive listeners,
as RFC 7435 describes), pipelined MAIL/RCPT when offered, and one result per recipient
with the remote reply quoted; the Queue retries and writes the DSNs.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import ByteStream
from anyio.streams.tls import TLSStream

from unigate_hookspecs.delivery import (
    DeferQueue,
    DeliveryBatch,
    DeliveryModule,
    DeliveryOutcome,
    RecipientResult,
)
from unigate_smtp.protocol import (
    Body,
    ClientConnection,
    ClientState,
    ConnectionClosed,
    Notify,
    RemoteProtocolError,
    Ret,
    ServerReply,
)
from unigate_smtp.settings import SmtpSettings

RELAYED = DeliveryOutcome.RELAYED
TEMPORARY = DeliveryOutcome.TEMPORARY
PERMANENT = DeliveryOutcome.PERMANENT


class _Failed(Exception):
    """This host cannot take the message now; try the next one."""


_ERRORS = (
    _Failed,
    OSError,
    TimeoutError,
    RemoteProtocolError,
    anyio.EndOfStream,
    anyio.BrokenResourceError,
)


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    address: str
    port: int


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """``"127.0.0.2:2525"``, ``"[::1]:25"``, ``"[192.0.2.1]"`` or ``"mx.test"``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host.removeprefix("IPv6:"), int(port) if port else default_port
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, default_port


def outcome_of(reply: ServerReply) -> DeliveryOutcome:
    if reply.is_positive:
        return RELAYED
    return PERMANENT if reply.is_permanent else TEMPORARY


def quote(reply: ServerReply) -> str:
    """The remote reply as the DSN's Diagnostic-Code quotes it."""
    status = f" {reply.status}" if reply.status else ""
    return f"{reply.code}{status} {' '.join(reply.lines)}".strip()


def _status(reply: ServerReply) -> str:
    if reply.status:
        return reply.status
    return {2: "2.0.0", 4: "4.0.0", 5: "5.0.0"}.get(reply.code // 100, "4.0.0")


class SmtpDelivery(DeliveryModule):
    """Relays queued mail to other SMTP servers."""

    name = "SMTP"
    max_recipients = 100

    def __init__(self, server: Any, settings: SmtpSettings, hostname: str) -> None:
        self.server = server
        self.settings = settings
        self.hostname = settings.helo_name or hostname
        self.concurrency = settings.concurrency
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.tls_context = context
        self._idle: dict[Target, list[tuple[float, _Exchange]]] = {}
        self._closing: list[_Exchange] = []

    # ---------------------------------------------------------------- targets

    async def targets(self, key: str) -> list[Target]:
        """The hosts to try for a queue key, best first (static table, MX, A/AAAA)."""
        default = self.settings.default_port
        static = self.settings.hosts.get(key) or self.settings.hosts.get(key.lower())
        if static is not None:
            host, port = parse_hostport(static, default)
            return [Target(host, address, port) for address in await self._addresses(host)]
        host, port = parse_hostport(key, default)
        if key.startswith("[") or ":" in key.strip("[]") or host.replace(".", "").isdigit():
            return [Target(host, host, port)]
        return await self._mx_targets(host, port)

    async def _addresses(self, host: str) -> list[str]:
        try:
            import ipaddress

            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        return await self._resolve_a(host)

    async def _resolve_a(self, host: str) -> list[str]:
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        found: list[str] = []
        for kind in ("A", "AAAA"):
            try:
                answer = await dns.asyncresolver.resolve(
                    host, kind, lifetime=self.settings.dns_timeout
                )
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
                continue
            except dns.exception.Timeout:
                raise DeferQueue(f"DNS timeout resolving {host}", status="4.4.3") from None
            found.extend(str(rr) for rr in answer)
        return found

    async def _mx_targets(self, domain: str, port: int) -> list[Target]:
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        try:
            answer = await dns.asyncresolver.resolve(
                domain, "MX", lifetime=self.settings.dns_timeout
            )
            records = sorted((rr.preference, str(rr.exchange).rstrip(".")) for rr in answer)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            records = [(0, domain)]
        except dns.exception.Timeout:
            raise DeferQueue(f"DNS timeout resolving {domain}", status="4.4.3") from None
        if records and records[0][1] in ("", "."):
            return []  # RFC 7505 null MX: the domain accepts no mail
        targets: list[Target] = []
        for _, host in records:
            targets.extend(Target(host, address, port) for address in await self._resolve_a(host))
        return targets

    # ---------------------------------------------------------------- delivery

    async def deliver(self, batch: DeliveryBatch) -> Sequence[RecipientResult]:
        targets = await self.targets(batch.queue)
        if not targets:
            return [
                batch.result(i, PERMANENT, "5.1.2", f"no mail servers for {batch.queue}")
                for i in range(len(batch.indexes))
            ]
        data = await batch.read()
        problems: list[str] = []
        for target in targets:
            idle = self._take_idle(target)
            if idle is not None:
                try:
                    return await self._transact(target, idle, batch, data)
                except _ERRORS:
                    pass  # the remote closed the idle connection: open a new one
            for tls in (True, False):
                try:
                    exchange = await self._open(target, tls=tls)
                    return await self._transact(target, exchange, batch, data)
                except ssl.SSLError as error:  # opportunistic: retry this host in clear
                    problems.append(f"{target.host}: TLS failed ({error})")
                    continue
                except _ERRORS as error:
                    problems.append(f"{target.host}[{target.address}]:{target.port}: {error}")
                break
        raise DeferQueue("; ".join(problems)[:900] or "no host answered", status="4.4.1")

    async def _open(self, target: Target, *, tls: bool) -> _Exchange:
        """Connect and greet (EHLO, STARTTLS, EHLO)."""
        with anyio.fail_after(self.settings.connect_timeout):
            stream: ByteStream = await anyio.connect_tcp(target.address, target.port)
        exchange = _Exchange(self, target, stream, ClientConnection(), tls)
        try:
            await exchange.greet()
        except BaseException:
            await exchange.close()
            raise
        return exchange

    async def _transact(
        self, target: Target, exchange: _Exchange, batch: DeliveryBatch, data: bytes
    ) -> list[RecipientResult]:
        """One transaction; the connection is kept for the next batch, or closed."""
        try:
            results = await exchange.transact(batch, data)
        except BaseException:
            await exchange.close()
            raise
        await self._park(target, exchange)
        return results

    # -------------------------------------------------------- connection reuse

    def _take_idle(self, target: Target) -> _Exchange | None:
        """A parked connection to ``target`` that is not older than ``reuse_idle``."""
        parked = self._idle.get(target)
        while parked:
            since, exchange = parked.pop()
            if anyio.current_time() - since <= self.settings.reuse_idle:
                return exchange
            self._closing.append(exchange)
        return None

    async def _park(self, target: Target, exchange: _Exchange) -> None:
        stale, self._closing = self._closing, []
        for old in stale:
            await old.quit()
        if self.settings.reuse_idle <= 0 or not exchange.ready:
            await exchange.quit()
            return
        parked = self._idle.setdefault(target, [])
        if len(parked) >= self.concurrency:
            await exchange.quit()
            return
        parked.append((anyio.current_time(), exchange))

    async def close_idle(self) -> None:
        """QUIT every parked connection (at shutdown)."""
        idle, self._idle = self._idle, {}
        stale, self._closing = self._closing, []
        for exchange in stale + [e for parked in idle.values() for _, e in parked]:
            await exchange.quit()


class _Exchange:
    """One client connection: greeting, EHLO, STARTTLS, then transactions, then QUIT."""

    batch: DeliveryBatch
    data: bytes

    def __init__(
        self,
        module: SmtpDelivery,
        target: Target,
        stream: ByteStream,
        client: ClientConnection,
        tls: bool = True,
    ) -> None:
        self.tls = tls
        self.module = module
        self.target = target
        self.stream = stream
        self.client = client
        self.mta = target.host

    @property
    def ready(self) -> bool:
        """Greeted, no transaction open: may carry another message."""
        return self.client.state is ClientState.READY and not self.client.pending_replies

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.stream.aclose()

    async def quit(self) -> None:
        """QUIT politely (a courtesy: errors ignored), then close."""
        try:
            with anyio.move_on_after(5):
                await self.command(self.client.quit())
        except Exception:  # noqa: BLE001 - the transaction is over; QUIT is a courtesy
            pass
        await self.close()

    async def reply(self) -> ServerReply:
        while True:
            event = self.client.next_event()
            if isinstance(event, ServerReply):
                return event
            if isinstance(event, ConnectionClosed):
                raise _Failed("connection closed by the remote server")
            with anyio.fail_after(self.module.settings.send_timeout):
                try:
                    chunk = await self.stream.receive(65536)
                except anyio.EndOfStream:
                    chunk = b""
            self.client.receive_data(chunk)

    async def command(self, data: bytes) -> ServerReply:
        await self.stream.send(data)
        return await self.reply()

    async def greet(self) -> None:
        client, name = self.client, self.module.hostname
        reply = await self.reply()
        if not reply.is_positive:
            raise _Failed(f"greeting: {quote(reply)}")
        reply = await self.command(client.ehlo(name))
        if not reply.is_positive:
            reply = await self.command(client.helo(name))
            if not reply.is_positive:
                raise _Failed(f"HELO: {quote(reply)}")
        if self.tls and self.module.settings.starttls and client.supports("STARTTLS"):
            reply = await self.command(client.starttls())
            if reply.code == 220:
                self.stream = await TLSStream.wrap(
                    self.stream,
                    hostname=self.target.host,
                    ssl_context=self.module.tls_context,
                    standard_compatible=False,
                )
                client.start_tls_done()
                reply = await self.command(client.ehlo(name))
                if not reply.is_positive:
                    raise _Failed(f"EHLO after STARTTLS: {quote(reply)}")

    def _mail_command(self) -> bytes:
        client, envelope = self.client, self.batch.envelope
        body: Body | None = None
        if envelope.body == "8BITMIME" and client.supports("8BITMIME"):
            body = Body.EIGHT_BIT_MIME
        elif envelope.body == "BINARYMIME" and client.supports("BINARYMIME"):
            body = Body.BINARY_MIME
        dsn = client.supports("DSN")
        return client.mail(
            envelope.return_path,
            size=len(self.data),
            body=body,
            smtputf8=envelope.smtputf8 and client.supports("SMTPUTF8"),
            ret=Ret(envelope.ret) if dsn and envelope.ret else None,
            envid=envelope.envid if dsn else None,
        )

    def _rcpt_command(self, position: int) -> bytes:
        recipient = self.batch.recipients[position]
        address = recipient.route.address if recipient.route is not None else recipient.address
        notify = orcpt = None
        if self.client.supports("DSN"):
            if recipient.notify is not None:
                notify = frozenset(Notify(k) for k in recipient.notify if k != "NEVER")
            if recipient.orcpt and ";" in recipient.orcpt:
                kind, _, value = recipient.orcpt.partition(";")
                orcpt = (kind, value)
        return self.client.rcpt(address, notify=notify, orcpt=orcpt)

    def result(self, position: int, reply: ServerReply) -> RecipientResult:
        outcome = outcome_of(reply)
        return self.batch.result(
            position,
            outcome,
            _status(reply),
            " ".join(reply.lines),
            remote_mta=self.mta,
            diagnostic=None if outcome is RELAYED else quote(reply),
            notify_passed_on=outcome is RELAYED and self.client.supports("DSN"),
        )

    async def transact(self, batch: DeliveryBatch, data: bytes) -> list[RecipientResult]:
        """MAIL, RCPTs, DATA for one batch; the connection is left READY when it can be."""
        self.batch, self.data = batch, data
        client = self.client
        count = len(self.batch.indexes)
        if client.max_size is not None and len(self.data) > client.max_size:
            return [
                self.batch.result(
                    i,
                    PERMANENT,
                    "5.3.4",
                    "message too big for the remote server",
                    remote_mta=self.mta,
                )
                for i in range(count)
            ]
        pipelining = client.supports("PIPELINING")
        commands = [self._mail_command()]
        if pipelining:
            commands.extend(self._rcpt_command(i) for i in range(count))
            await self.stream.send(b"".join(commands))
            mail = await self.reply()
            replies = [await self.reply() for _ in range(count)]
        else:
            mail = await self.command(commands[0])
            replies = (
                [await self.command(self._rcpt_command(i)) for i in range(count)]
                if mail.is_positive
                else []
            )
        if not mail.is_positive:
            return [self.result(i, mail) for i in range(count)]
        results: dict[int, RecipientResult] = {}
        accepted = []
        for position, reply in enumerate(replies):
            if reply.is_positive:
                accepted.append(position)
            else:
                results[position] = self.result(position, reply)
        if accepted:
            reply = await self.command(client.data())
            if reply.code == 354:
                reply = await self.command(client.message(self.data))
            for position in accepted:
                results[position] = self.result(position, reply)
        elif client.state is not ClientState.READY:
            await self.command(client.rset())
        return [results[i] for i in range(count)]
