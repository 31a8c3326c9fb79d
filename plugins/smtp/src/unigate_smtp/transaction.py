"""What the server answers to each SMTP command: the application half of a session.

`SmtpSession.decide(conn, event)` takes one command event from the sans-I/O core and
returns the replies (one; one per recipient at the end of an LMTP message). It routes
recipients, applies the relay rules (Protection: relay only for authenticated users,
client addresses, or routes carrying the relay marker), runs SASL, calls the
``smtp_*`` judging hooks, builds the `Envelope` and waits for the Queue to fsync the
message before saying 250.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from unigate.api import sasl
from unigate_hookspecs import CONTINUE, Verdict
from unigate_hookspecs.delivery import Envelope, Recipient
from unigate_hookspecs.routing import FailureKind, Route, RouteFailure, RouteOp
from unigate_smtp.policy import SmtpState, protocol_name, received_header, verdict_reply
from unigate_smtp.protocol import (
    Auth,
    AuthResponse,
    Chunk,
    DataStart,
    Event,
    Expn,
    Extensions,
    Helo,
    Help,
    MailFrom,
    MessageData,
    Noop,
    Quit,
    RcptTo,
    Reply,
    Rset,
    ServerConnection,
    StartTLS,
    Vrfy,
)

#: listener name -> (LMTP, AUTH required before MAIL)
MODES = {
    "smtp": (False, False),
    "submission": (False, True),
    "smtps": (False, False),
    "lmtp": (True, False),
}
# the replies every message gets, made (and validated) once
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
START_INPUT = Reply(354, None, "Enter message, end with <CRLF>.<CRLF>")

_LOCAL_FAILURES = (FailureKind.UNKNOWN, FailureKind.ERROR, FailureKind.UNROUTABLE)


@dataclass
class _Transaction:
    sender: str
    params: Any
    recipients: list[Recipient] = field(default_factory=list)
    chunks: bytearray = field(default_factory=bytearray)


class SmtpSession:
    """The per-connection policy; the I/O loop (`unigate_smtp.session`) drives it."""

    def __init__(self, connection: Any, state: SmtpState, mode: str) -> None:
        self.connection = connection
        self.server = connection.server
        self.state = state
        self.settings = state.settings
        self.mode = mode
        self.peer = connection.peer
        self.lmtp, self.auth_required = MODES.get(mode, (False, False))
        if mode == "submission" and not self.settings.require_auth_on_submission:
            self.auth_required = False
        self.account: str | None = None
        self.txn: _Transaction | None = None
        self._sasl: Any = None
        #: routing decisions of this session (a client often sends many messages to the
        #: same recipients; the account database is asked once per session and address)
        self._routes: dict[str, Route] = {}

    # ------------------------------------------------------------------ setup

    def extensions(self) -> Extensions:
        """The ESMTP keywords for the current TLS state."""
        klass = self.peer.address_class
        mechanisms = self.server.auth.mechanisms(secure=self.connection.secure, address_class=klass)
        tls = self.server.tls_context is not None and not self.connection.tls_active
        return Extensions(starttls=tls, auth=tuple(mechanisms))

    @property
    def trusted(self) -> bool:
        klass = self.peer.address_class
        return self.account is not None or (self.settings.relay_for_trusted and klass.trusted)

    # --------------------------------------------------------------- commands

    async def decide(self, conn: ServerConnection, event: Event) -> list[Reply]:
        if isinstance(event, Helo):
            self.txn = None
            refused = verdict_reply(await self._judge("smtp_helo", helo=event.name))
            return [refused or conn.ehlo_reply()]
        if isinstance(event, MailFrom):
            return [await self._mail(event)]
        if isinstance(event, RcptTo):
            return [await self._rcpt(event)]
        if isinstance(event, DataStart):
            return [START_INPUT]
        if isinstance(event, MessageData):
            return await self._message(conn, event.data)
        if isinstance(event, Chunk):
            if self.txn is None:
                return [Reply(503, "5.5.1", "No transaction")]
            self.txn.chunks += event.data
            if not event.last:
                return [Reply(250, "2.0.0", f"{len(event.data)} octets received")]
            data, self.txn.chunks = bytes(self.txn.chunks), bytearray()
            return await self._message(conn, data)
        if isinstance(event, Auth | AuthResponse):
            return [await self._auth(event)]
        if isinstance(event, StartTLS):
            return [Reply(220, "2.0.0", "Ready to start TLS")]
        if isinstance(event, Rset):
            self.txn = None
            return [Reply(250, "2.0.0", "OK")]
        if isinstance(event, Noop):
            return [Reply(250, "2.0.0", "OK")]
        if isinstance(event, Quit):
            return [Reply(221, "2.0.0", f"{self.state.hostname} closing connection")]
        if isinstance(event, Vrfy):
            return [Reply(252, "2.5.0", "Cannot VRFY user; try RCPT")]
        if isinstance(event, Expn):
            return [Reply(502, "5.5.1", "EXPN not available")]
        if isinstance(event, Help):
            return [Reply(214, "2.0.0", "See RFC 5321")]
        return [Reply(502, "5.5.1", "Command not implemented")]

    async def _judge(self, hook: str, **kwargs: Any) -> Verdict:
        caller = getattr(self.server.pm.hook, hook, None)
        if caller is None or not caller.get_hookimpls():
            return CONTINUE  # the hot path: nobody judges
        return await self.server.judge(hook, server=self.server, session=self, **kwargs)

    async def _mail(self, event: MailFrom) -> Reply:
        self.txn = None
        if self.auth_required and self.account is None:
            return Reply(530, "5.7.0", "Authentication required")
        if self.state.rate_exceeded(self.peer.ip):
            return Reply(451, "4.7.1", "Too many messages from your address, try later")
        refused = verdict_reply(await self._judge("smtp_mail", sender=event.address))
        if refused is not None:
            return refused
        self.txn = _Transaction(event.address, event.params)
        return SENDER_OK

    async def _rcpt(self, event: RcptTo) -> Reply:
        txn = self.txn
        assert txn is not None
        address = event.address
        if self.peer.address_class.blacklisted and self.account is None:
            return Reply(550, "5.7.1", "Your address is blacklisted")
        route = self._routes.get(address)
        if route is None:
            route = await self.server.routing.route(address, RouteOp.MAIL)
            if isinstance(route, Route) and len(self._routes) < 1000:
                self._routes[address] = route
        if isinstance(route, RouteFailure):
            if route.temporary:
                return Reply(451, "4.4.3", f"<{address}>: {route.text}")
            if route.kind in _LOCAL_FAILURES:
                return Reply(550, "5.1.1", f"<{address}>: {route.text}")
            return Reply(550, "5.7.1", f"<{address}>: {route.text}")
        if route.module in ("SMTP", "SIP") and not (route.relay or self.trusted):
            return Reply(550, "5.7.1", f"<{address}>: relaying prohibited")
        refused = verdict_reply(await self._judge("smtp_rcpt", recipient=address, route=route))
        if refused is not None:
            return refused
        params = event.params
        notify = None
        if params.notify is not None:
            notify = frozenset(n.value for n in params.notify) or frozenset({"NEVER"})
        orcpt = f"{params.orcpt[0]};{params.orcpt[1]}" if params.orcpt else None
        queue = self.server.service("queue")
        destination = queue.destination(route, address) if queue is not None else None
        txn.recipients.append(Recipient(address, orcpt, notify, destination))
        return RECIPIENT_OK

    async def _message(self, conn: ServerConnection, data: bytes) -> list[Reply]:
        txn, self.txn = self.txn, None
        count = conn.recipients if conn.lmtp else 1
        if txn is None or not txn.recipients:
            return [Reply(554, "5.5.1", "No valid recipients")] * count
        reply = await self._submit(conn, txn, data)
        return [reply] * count

    async def _submit(self, conn: ServerConnection, txn: _Transaction, data: bytes) -> Reply:
        queue = self.server.service("queue")
        if queue is None:
            return Reply(451, "4.3.0", "No delivery modules installed")
        params = txn.params
        envelope = Envelope(
            return_path=txn.sender,
            recipients=tuple(txn.recipients),
            envid=params.envid,
            ret=params.ret.value if params.ret else None,
            body=params.body.value if params.body else "7BIT",
            smtputf8=params.smtputf8,
            auth_account=self.account,
            source="SMTP",
            client_address=self.peer.ip,
        )
        refused = verdict_reply(await self._judge("smtp_data", envelope=envelope, message=data))
        if refused is not None:
            return refused
        protocol = protocol_name(
            lmtp=conn.lmtp,
            extended=conn.extended,
            tls=self.connection.tls_active,
            auth=self.account is not None,
        )
        single = txn.recipients[0].address if len(txn.recipients) == 1 else None
        trace = received_header(
            helo=conn.helo_name,
            ip=self.peer.ip,
            by=self.state.hostname,
            protocol=protocol,
            session_id=self.connection.session_id,
            recipient=single,
        )
        try:
            queue_id = await queue.submit(envelope, trace + data)
        except Exception as error:  # SubmitRejected/QueueFull carry status and text
            status = getattr(error, "status", None)
            if status is None:
                self.connection.log.problem(f"queue submission failed: {error!r}")
                return Reply(451, "4.3.0", "Local error in processing, try again later")
            return Reply(554 if status[0] == "5" else 452, status, str(getattr(error, "text", "")))
        self.state.count_message(self.peer.ip)
        self.connection.log.info(
            f"{queue_id} <{txn.sender}> {len(data)} bytes to {len(txn.recipients)} recipient(s)"
        )
        return Reply(250, "2.0.0", f"{queue_id} message accepted for delivery")

    # --------------------------------------------------------------------- AUTH

    async def _auth(self, event: Auth | AuthResponse) -> Reply:
        if isinstance(event, Auth):
            try:
                self._sasl = self.server.auth.start_sasl(
                    event.mechanism,
                    service="smtp",
                    peer_ip=self.peer.ip,
                    local_ip=self.peer.local_ip,
                    secure=self.connection.secure,
                )
            except sasl.UnknownMechanism:
                return Reply(504, "5.5.4", "Unrecognized authentication type")
            response = event.initial
        else:
            if event.data is None:
                await self._sasl.cancel()
                self._sasl = None
                return Reply(501, "5.7.0", "Authentication cancelled")
            response = event.data
        step = await self._sasl.step(response)
        if isinstance(step, sasl.Challenge):
            return Reply(334, None, base64.b64encode(step.data).decode("ascii"))
        self._sasl = None
        outcome = step.outcome
        if outcome.account is not None:
            self.account = outcome.account
            return Reply(235, "2.7.0", "Authentication successful")
        if outcome.temporary:
            return Reply(454, "4.7.0", "Temporary authentication failure")
        return Reply(535, "5.7.8", "Authentication credentials invalid")


def route_is_local(route: Route) -> bool:
    """True for routes that end on this server (no relaying involved)."""
    return route.module not in ("SMTP", "SIP")
