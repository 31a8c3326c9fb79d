"""The sans-I/O SMTP/LMTP server core (RFC 5321 with the extensions in `Extensions`).

Pull loop, as in h11::

    conn = ServerConnection(hostname="mx.example.com", limits=Limits())
    out = conn.send(Reply(220, None, "mx.example.com ESMTP"))   # the banner
    while True:
        event = conn.next_event()
        if event is NEED_DATA:  conn.receive_data(await sock.receive())   # b"" at EOF
        elif event is PAUSED:   ...   # after STARTTLS: handshake, then conn.start_tls_done()
        elif isinstance(event, ProtocolError):  out = conn.send(event.reply)
        elif isinstance(event, ConnectionClosed): break
        else:                   out = conn.send(decide(event))   # exactly one Reply
        # write `out`; close when conn.state is ServerState.CLOSED

Each accepted command waits for exactly one `send(Reply)` (`next_event()` returns PAUSED
meanwhile), except the end of an LMTP message, which waits for one reply per accepted
recipient. Pipelined commands are parsed one by one from the buffer, so replies are simply
written in order. Errors the core can judge alone (syntax, sequence, limits, unknown
parameters) come out as `ProtocolError(reply, fatal)`; the loop sends `event.reply`.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from .address import AddressError, parse_path
from .dotstuff import MESSAGE_TOO_BIG, DotReader
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    Chunk,
    ConnectionClosed,
    DataStart,
    Event,
    Expn,
    Helo,
    Help,
    MailFrom,
    MessageData,
    Noop,
    OtherCommand,
    ProtocolError,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    Status,
    Vrfy,
)
from .limits import Extensions, Limits
from .params import (
    Body,
    MailParams,
    ParamError,
    RcptParams,
    parse_mail_params,
    parse_rcpt_params,
)
from .replies import Reply
from .state import (
    ALLOWED,
    DEFAULT_KINDS,
    DEFAULT_SEQUENCE_ERROR,
    EXPECTED_KINDS,
    SEQUENCE_ERRORS,
    TRANSITIONS,
    ReplyKind,
    ServerState,
    Verb,
)

_NO_EXTENSIONS = Extensions(
    pipelining=False,
    size=False,
    eightbitmime=False,
    smtputf8=False,
    enhancedstatuscodes=False,
    dsn=False,
    chunking=False,
    binarymime=False,
)
_MAIL_RE = re.compile(r"FROM: ?", re.IGNORECASE)
_RCPT_RE = re.compile(r"TO: ?", re.IGNORECASE)
_VERBS: dict[str, Verb] = {
    "HELO": Verb.HELO,
    "EHLO": Verb.HELO,
    "LHLO": Verb.HELO,
    "STARTTLS": Verb.STARTTLS,
    "AUTH": Verb.AUTH,
    "MAIL": Verb.MAIL,
    "RCPT": Verb.RCPT,
    "DATA": Verb.DATA,
    "BDAT": Verb.BDAT,
    "RSET": Verb.RSET,
    "NOOP": Verb.NOOP,
    "QUIT": Verb.QUIT,
    "VRFY": Verb.VRFY,
    "EXPN": Verb.EXPN,
    "HELP": Verb.HELP,
}
_TRANSACTION_STATES = (ServerState.MAIL, ServerState.RCPT, ServerState.CHUNKING)
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
TOO_MANY_ERRORS_TEXT = "Too many errors, closing connection"


class _Reject(RemoteProtocolError):
    """Internal: a command rejected by the core."""

    def __init__(
        self,
        reply: Reply,
        *,
        fatal: bool = False,
        counts: bool = True,
        next_state: ServerState | None = None,
        per_recipient: bool = False,
    ) -> None:
        super().__init__(reply.text, reply=reply, fatal=fatal)
        self.counts = counts
        self.next_state = next_state
        self.per_recipient = per_recipient  # end of an LMTP message: one reply per RCPT


def _syntax(text: str) -> _Reject:
    return _Reject(Reply(501, "5.5.4", text))


@dataclass(slots=True)
class _Pending:
    """The command (or core error) waiting for the application's reply."""

    verb: Verb
    event: Event | None
    replies_left: int = 1
    fatal: bool = False
    next_state: ServerState | None = None


@dataclass(slots=True)
class _Bdat:
    remaining: int
    last: bool
    error: _Reject | None
    data: bytearray


class ServerConnection:
    """One SMTP or LMTP server session, without I/O.

    :param hostname: our name, used in the EHLO reply and the 421 texts.
    :param lmtp: LMTP-only endpoint (only LHLO is accepted). Otherwise HELO, EHLO and LHLO
        are all accepted and LHLO switches the session into LMTP mode.
    :param limits: buffer and policy limits (`Limits`).
    :param extensions: offered ESMTP extensions (`Extensions`); may be replaced between
        commands through the `extensions` attribute.
    :param tls_active: the connection is already encrypted (implicit TLS, port 465).
    """

    def __init__(
        self,
        *,
        hostname: str,
        lmtp: bool = False,
        limits: Limits | None = None,
        extensions: Extensions | None = None,
        tls_active: bool = False,
    ) -> None:
        self.hostname = hostname
        self.lmtp_only = lmtp
        self.limits = limits if limits is not None else Limits()
        self.extensions = extensions if extensions is not None else Extensions()
        self.tls_active = tls_active
        self.state = ServerState.GREETING
        self.lmtp = lmtp  # the session speaks LMTP (LHLO accepted)
        self.extended = False  # EHLO/LHLO accepted: ESMTP in force
        self.helo_name: str | None = None
        self.authenticated = False
        self.bad_commands = 0
        self.mail_params: MailParams | None = None
        self.recipients = 0  # accepted RCPTs in the current transaction
        self.chunked_size = 0  # BDAT octets accepted in the current transaction
        self._buf = bytearray()
        self._scan = 0
        self._skipping = False
        self._eof = False
        self._pending: _Pending | None = _Pending(Verb.GREETING, None)
        self._data: DotReader | None = None
        self._bdat: _Bdat | None = None

    # ------------------------------------------------------------------ input

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the client; ``b""`` signals EOF. Never parses."""
        if self._eof and data:
            raise LocalProtocolError("data received after EOF")
        if not data:
            self._eof = True
        else:
            self._buf += data

    @property
    def has_buffered_data(self) -> bool:
        """Unparsed client bytes are buffered (e.g. the client talked before the banner)."""
        return bool(self._buf)

    def next_event(self) -> Event | Status:
        """The next event, `NEED_DATA` or `PAUSED`. Never raises for bad client input."""
        if self.state is ServerState.CLOSED:
            return ConnectionClosed()
        if self._pending is not None or self.state is ServerState.TLS:
            return PAUSED
        try:
            if self.state is ServerState.DATA:
                return self._next_message()
            if self._bdat is not None:
                return self._next_chunk()
            if self.state is ServerState.AUTH:
                try:
                    line = self._next_line(self.limits.max_auth_line)
                except _Reject as exc:
                    exc.next_state = ServerState.READY  # abort the SASL exchange
                    raise
                if line is None:
                    return ConnectionClosed() if self._close_on_eof() else NEED_DATA
                return self._auth_response(line)
            line = self._next_line(self._line_limit())
        except _Reject as exc:
            return self._reject(exc)
        if line is None:
            return ConnectionClosed() if self._close_on_eof() else NEED_DATA
        try:
            return self._command(line)
        except _Reject as exc:
            return self._reject(exc)

    def _close_on_eof(self) -> bool:
        if self._eof:
            self.state = ServerState.CLOSED
        return self._eof

    def _line_limit(self) -> int:
        if self._buf[:5].upper() == b"AUTH ":
            return self.limits.max_auth_line
        if self.extended:
            return self.limits.max_extended_command_line
        return self.limits.max_command_line

    def _next_line(self, limit: int) -> bytes | None:
        buf = self._buf
        if self._skipping:
            i = buf.find(b"\n")
            if i < 0:
                buf.clear()
                return None
            del buf[: i + 1]
            self._skipping = False
            self._scan = 0
        i = buf.find(b"\n", self._scan)
        if i < 0:
            if len(buf) >= limit:
                buf.clear()
                self._skipping = True
                self._scan = 0
                raise _Reject(LINE_TOO_LONG)
            self._scan = len(buf)
            return None
        self._scan = 0
        if i + 1 > limit:
            del buf[: i + 1]
            raise _Reject(LINE_TOO_LONG)
        line = bytes(buf[:i])
        del buf[: i + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _reject(self, exc: _Reject) -> ProtocolError:
        reply, fatal = exc.reply, exc.fatal
        assert reply is not None
        if exc.counts:
            self.bad_commands += 1
            limit = self.limits.max_bad_commands
            if limit is not None and self.bad_commands >= limit:
                reply, fatal = Reply(421, "4.7.0", f"{self.hostname} {TOO_MANY_ERRORS_TEXT}"), True
        replies = self.recipients if self.lmtp and exc.per_recipient else 1
        self._pending = _Pending(
            Verb.ERROR, None, max(1, replies), fatal=fatal, next_state=exc.next_state
        )
        return ProtocolError(reply, fatal)

    # -------------------------------------------------------------- commands

    def _command(self, raw: bytes) -> Event | Status:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Reject(Reply(500, "5.5.2", "Invalid UTF-8 in command")) from None
        if "\r" in line or "\0" in line:
            raise _Reject(Reply(500, "5.5.2", "Invalid character in command"))
        word, _, arg = line.partition(" ")
        name = word.upper()
        verb = _VERBS.get(name)
        if verb is None:
            if name in self.extensions.extra_commands and name.isascii():
                verb = Verb.OTHER
            else:
                raise _Reject(Reply(500, "5.5.2", "Command unrecognized"))
        if verb is Verb.BDAT:
            return self._bdat_command(arg)
        self._check_offered(verb)
        self._check_sequence(verb)
        event = self._parse(verb, name, arg)
        self._pending = _Pending(verb, event)
        return event

    def _check_offered(self, verb: Verb) -> None:
        ext = self.extensions
        if verb is Verb.STARTTLS:
            if self.tls_active:
                raise _Reject(Reply(503, "5.5.1", "TLS already active"))
            if not ext.starttls:
                raise _Reject(Reply(502, "5.5.1", "Command not implemented"))
        elif verb is Verb.AUTH:
            if not ext.auth:
                raise _Reject(Reply(502, "5.5.1", "Command not implemented"))
            if self.authenticated:
                raise _Reject(Reply(503, "5.5.1", "Already authenticated"))

    def _check_sequence(self, verb: Verb) -> None:
        if verb not in ALLOWED.get(self.state, frozenset()):
            text = SEQUENCE_ERRORS.get((self.state, verb), DEFAULT_SEQUENCE_ERROR)
            raise _Reject(Reply(503, "5.5.1", text))

    def _parse(self, verb: Verb, name: str, arg: str) -> Event:
        if verb is Verb.HELO:
            return self._helo(name, arg.strip())
        if verb is Verb.MAIL:
            return self._mail(arg)
        if verb is Verb.RCPT:
            return self._rcpt(arg)
        if verb is Verb.AUTH:
            return self._auth(arg)
        if verb in (Verb.VRFY, Verb.EXPN):
            if not arg.strip():
                raise _syntax(f"Syntax: {name} string")
            return Vrfy(arg.strip()) if verb is Verb.VRFY else Expn(arg.strip())
        if verb is Verb.NOOP:
            return Noop(arg)
        if verb is Verb.HELP:
            return Help(arg.strip() or None)
        if verb is Verb.OTHER:
            return OtherCommand(name, arg.strip())
        if arg.strip():
            raise _syntax(f"Syntax: {name}")
        if verb is Verb.DATA:
            if self.mail_params is not None and self.mail_params.body is Body.BINARY_MIME:
                raise _Reject(Reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT"))
            return DataStart()
        if verb is Verb.STARTTLS:
            return StartTLS()
        if verb is Verb.RSET:
            return Rset()
        return Quit()

    def _helo(self, name: str, arg: str) -> Helo:
        if not arg or " " in arg or "\t" in arg:
            raise _syntax(f"Syntax: {name} hostname")
        if self.lmtp_only and name != "LHLO":
            raise _Reject(Reply(500, "5.5.1", "This is an LMTP server: use LHLO"))
        return Helo(arg, extended=name != "HELO", lmtp=name == "LHLO")

    def _mail(self, arg: str) -> MailFrom:
        m = _MAIL_RE.match(arg)
        if not m:
            raise _syntax("Syntax: MAIL FROM:<address>")
        try:
            address, end = parse_path(arg, m.end(), null_ok=True, postmaster_ok=False)
        except AddressError as exc:
            raise _Reject(Reply(501, "5.1.7", f"Bad sender address syntax: {exc}")) from None
        params = self._mail_params(arg, end)
        if not address.isascii() and not params.smtputf8:
            raise _Reject(Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"))
        return MailFrom(address, params)

    def _rcpt(self, arg: str) -> RcptTo:
        m = _RCPT_RE.match(arg)
        if not m:
            raise _syntax("Syntax: RCPT TO:<address>")
        try:
            address, end = parse_path(arg, m.end(), null_ok=False, postmaster_ok=True)
        except AddressError as exc:
            raise _Reject(Reply(501, "5.1.3", f"Bad recipient address syntax: {exc}")) from None
        params = self._rcpt_params(arg, end)
        if not address.isascii() and not (self.mail_params and self.mail_params.smtputf8):
            raise _Reject(Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"))
        limit = self.limits.max_recipients
        if limit is not None and self.recipients >= limit:
            raise _Reject(Reply(452, "4.5.3", "Too many recipients"), counts=False)
        return RcptTo(address, params)

    def _param_words(self, arg: str, end: int) -> tuple[list[str], Extensions]:
        rest = arg[end:]
        if rest and not rest[0].isspace():
            raise _syntax("Syntax error after address")
        return rest.split(), self.extensions if self.extended else _NO_EXTENSIONS

    def _mail_params(self, arg: str, end: int) -> MailParams:
        words, ext = self._param_words(arg, end)
        try:
            return parse_mail_params(words, ext, max_size=self.limits.max_message_size)
        except ParamError as exc:
            raise _Reject(exc.reply, counts=exc.reply.code != 552) from None

    def _rcpt_params(self, arg: str, end: int) -> RcptParams:
        words, ext = self._param_words(arg, end)
        try:
            return parse_rcpt_params(words, ext)
        except ParamError as exc:
            raise _Reject(exc.reply) from None

    def _auth(self, arg: str) -> Auth:
        parts = arg.split()
        if not 1 <= len(parts) <= 2:
            raise _syntax("Syntax: AUTH mechanism [initial-response]")
        mechanism = parts[0].upper()
        if mechanism not in {m.upper() for m in self.extensions.auth}:
            raise _Reject(Reply(504, "5.5.4", "Unrecognized authentication type"))
        initial = None if len(parts) == 1 else _b64(parts[1], allow_equals=True)
        return Auth(mechanism, initial)

    def _auth_response(self, raw: bytes) -> Event:
        try:
            text = raw.decode("ascii").strip()
            event = AuthResponse(None if text == "*" else _b64(text, allow_equals=False))
        except (UnicodeDecodeError, _Reject):
            return self._reject(
                _Reject(Reply(501, "5.5.2", "Invalid base64 data"), next_state=ServerState.READY)
            )
        self._pending = _Pending(Verb.AUTH_RESPONSE, event)
        return event

    # ------------------------------------------------------------------ BDAT

    def _bdat_command(self, arg: str) -> Event | Status:
        parts = arg.split()
        if (
            not 1 <= len(parts) <= 2
            or not parts[0].isascii()
            or not parts[0].isdigit()
            or len(parts[0]) > 18
            or (len(parts) == 2 and parts[1].upper() != "LAST")
        ):
            # The chunk size is unknown: the stream cannot be resynchronised.
            raise _Reject(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"), fatal=True)
        size, last = int(parts[0]), len(parts) == 2
        error: _Reject | None = None
        try:
            if not (self.extensions.chunking and self.extended):
                raise _Reject(Reply(502, "5.5.1", "Command not implemented"))
            self._check_sequence(Verb.BDAT_LAST if last else Verb.BDAT)
            limit = self.limits.max_message_size
            if limit is not None and self.chunked_size + size > limit:
                raise _Reject(MESSAGE_TOO_BIG, counts=False, next_state=ServerState.READY)
        except _Reject as exc:
            error = exc
        self._bdat = _Bdat(size, last, error, bytearray())
        return self._next_chunk()

    def _next_chunk(self) -> Event | Status:
        bdat = self._bdat
        assert bdat is not None
        take = min(bdat.remaining, len(self._buf))
        if take:
            if bdat.error is None and not bdat.data and take == len(self._buf):
                bdat.data, self._buf = self._buf, bytearray()  # whole buffer: no copy
            else:
                if bdat.error is None:
                    bdat.data += self._buf[:take]
                del self._buf[:take]
            bdat.remaining -= take
        if bdat.remaining:
            return ConnectionClosed() if self._close_on_eof() else NEED_DATA
        self._bdat = None
        self._scan = 0
        if bdat.error is not None:
            bdat.error.per_recipient = bdat.last and bdat.error.next_state is ServerState.READY
            return self._reject(bdat.error)
        data = bytes(bdat.data)
        if not self._eight_bit_ok(data):
            return self._reject(_eight_bit_error(per_recipient=bdat.last))
        self.chunked_size += len(data)
        event = Chunk(data, bdat.last)
        replies = self.recipients if bdat.last and self.lmtp else 1
        self._pending = _Pending(Verb.BDAT_LAST if bdat.last else Verb.BDAT, event, replies)
        return event

    # ------------------------------------------------------------------ DATA

    def _next_message(self) -> Event | Status:
        reader = self._data
        assert reader is not None
        chunk, self._buf = self._buf, bytearray()
        leftover = reader.feed(chunk)
        if leftover is None:
            return ConnectionClosed() if self._close_on_eof() else NEED_DATA
        self._buf = bytearray(leftover)
        self._scan = 0
        self._data = None
        if reader.error is not None:
            return self._reject(
                _Reject(
                    reader.error, counts=False, next_state=ServerState.READY, per_recipient=True
                )
            )
        assert reader.message is not None
        if not self._eight_bit_ok(reader.message):
            return self._reject(_eight_bit_error(per_recipient=True))
        event = MessageData(reader.message)
        self._pending = _Pending(Verb.MESSAGE, event, self.recipients if self.lmtp else 1)
        return event

    def _eight_bit_ok(self, data: bytes) -> bool:
        if not self.limits.reject_8bit_without_8bitmime or data.isascii():
            return True
        params = self.mail_params
        return params is not None and (
            params.smtputf8 or params.body in (Body.EIGHT_BIT_MIME, Body.BINARY_MIME)
        )

    # ---------------------------------------------------------------- output

    def send(self, reply: Reply) -> bytes:
        """Serialise the reply to the pending command and advance the state.

        A ``421`` may also be sent unprompted (shutdown, idle timeout); it closes the session.
        The reply to a core `ProtocolError` may be any reply (normally ``event.reply``); at the
        end of an LMTP message it is repeated once per accepted recipient.
        """
        if not isinstance(reply, Reply):
            raise LocalProtocolError(f"send() takes a Reply, not {type(reply).__name__}")
        pending = self._pending
        if pending is None:
            if reply.code == 421:
                self.state = ServerState.CLOSED
                return reply.to_bytes(enhanced=self._enhanced(None))
            raise LocalProtocolError(f"no command is waiting for a reply (state {self.state.name})")
        kind = ReplyKind.of(reply.code)
        verb = pending.verb
        if verb is not Verb.ERROR:
            if kind not in EXPECTED_KINDS.get(verb, DEFAULT_KINDS):
                raise LocalProtocolError(f"{reply.code} is not a valid reply to {verb.name}")
            if (verb is Verb.DATA and kind is ReplyKind.INTERMEDIATE and reply.code != 354) or (
                verb is Verb.STARTTLS and kind is ReplyKind.POSITIVE and reply.code != 220
            ):
                raise LocalProtocolError(f"{reply.code} is not a valid reply to {verb.name}")
        out = reply.to_bytes(enhanced=self._enhanced(verb))
        if verb is Verb.ERROR:
            out *= pending.replies_left
            pending.replies_left = 1
        pending.replies_left -= 1
        if pending.replies_left > 0:
            return out
        self._pending = None
        if reply.code == 421 or pending.fatal:
            self.state = ServerState.CLOSED
        elif verb is Verb.ERROR:
            if pending.next_state is not None:
                self._enter(pending.next_state)
        else:
            self._apply(pending, kind)
        return out

    def _enhanced(self, verb: Verb | None) -> bool:
        return (
            self.extensions.enhancedstatuscodes
            and self.extended
            and verb not in (Verb.GREETING, Verb.HELO)
        )

    def _apply(self, pending: _Pending, kind: ReplyKind) -> None:
        event = pending.event
        positive = kind is ReplyKind.POSITIVE
        if positive:
            if isinstance(event, Helo):
                self.extended = event.extended
                self.lmtp = event.lmtp or self.lmtp_only
                self.helo_name = event.name
            elif isinstance(event, MailFrom):
                self.mail_params = event.params
            elif isinstance(event, RcptTo):
                self.recipients += 1
            elif isinstance(event, Auth | AuthResponse):
                self.authenticated = True
        self._enter(TRANSITIONS.get((self.state, pending.verb, kind), self.state))

    def _enter(self, state: ServerState) -> None:
        if state in (ServerState.READY, ServerState.CONNECTED):
            self.mail_params = None
            self.recipients = 0
            self.chunked_size = 0
        elif state is ServerState.DATA:
            self._data = DotReader(
                max_size=self.limits.max_message_size, max_line=self.limits.max_text_line
            )
        self.state = state

    # ----------------------------------------------------------- EHLO, TLS

    def ehlo_reply(self, text: str | None = None) -> Reply:
        """The 250 reply to the pending HELO/EHLO/LHLO: our name (+ `text`), then keywords."""
        pending = self._pending
        if pending is None or not isinstance(pending.event, Helo):
            raise LocalProtocolError("no HELO/EHLO/LHLO is waiting for a reply")
        first = f"{self.hostname} {text}" if text else self.hostname
        if not pending.event.extended:
            return Reply(250, None, first)
        keywords = self.extensions.keywords(
            max_size=self.limits.max_message_size, tls_active=self.tls_active
        )
        return Reply(250, None, [first, *keywords])

    def start_tls_done(self) -> int:
        """The TLS handshake after our 220 succeeded: reset to CONNECTED (RFC 3207 §4.2).

        Discards every byte buffered before the handshake, so plaintext pipelined after
        STARTTLS can never be taken for a command sent under TLS (CVE-2011-0411 class).
        Returns the number of discarded octets (for logging).
        """
        if self.state is not ServerState.TLS:
            raise LocalProtocolError("start_tls_done() without an accepted STARTTLS")
        discarded = len(self._buf)
        self._buf = bytearray()
        self._scan = 0
        self._skipping = False
        self.tls_active = True
        self.extended = False
        self.helo_name = None
        self.authenticated = False
        self.lmtp = self.lmtp_only
        self._enter(ServerState.CONNECTED)
        return discarded


def _b64(text: str, *, allow_equals: bool) -> bytes:
    if allow_equals and text == "=":
        return b""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True) if text else b""
    except (binascii.Error, UnicodeEncodeError):
        raise _Reject(Reply(501, "5.5.2", "Invalid base64 data")) from None


def _eight_bit_error(*, per_recipient: bool) -> _Reject:
    return _Reject(
        Reply(554, "5.6.1", "8-bit content requires BODY=8BITMIME"),
        counts=False,
        next_state=ServerState.READY,
        per_recipient=per_recipient,
    )
