"""The sans-I/O SMTP/LMTP client core that the delivery module drives.

Commands are built by methods that return the bytes to write (`ehlo()`, `mail()`, `rcpt()`,
`data()`, `message()`, `bdat()`...); the server's replies go in through `receive_data()`
and come out of `next_event()` as `ServerReply` events, each labelled with the command it
answers, in order. The core tracks what the server offered in its EHLO reply, refuses
(LocalProtocolError) commands and parameters the server did not offer, and allows several
commands in flight only when PIPELINING was offered and no pending command is a
synchronisation point (RFC 2920 §3.1). After an LMTP end of data it expects one reply per
accepted recipient and labels each with that recipient.
"""

from __future__ import annotations

import base64
import enum
import re
from collections import deque
from dataclasses import dataclass, field

from .dotstuff import dot_stuff
from .errors import LocalProtocolError, RemoteProtocolError
from .events import NEED_DATA, ConnectionClosed, Status
from .params import (
    Body,
    MailParams,
    Notify,
    RcptParams,
    Ret,
    format_mail_params,
    format_rcpt_params,
)
from .replies import ReplyClass

_REPLY_RE = re.compile(rb"([2-5][0-9][0-9])(?:([ -])(.*))?\Z", re.DOTALL)
_STATUS_RE = re.compile(r"([245]\.[0-9]{1,3}\.[0-9]{1,3})(?: |\Z)")
# Commands after which nothing may be pipelined until their reply arrived (RFC 2920 §3.1).
_SYNC = frozenset(
    {
        "GREETING",
        "HELO",
        "EHLO",
        "LHLO",
        "STARTTLS",
        "AUTH",
        "DATA",
        "QUIT",
        "NOOP",
        "VRFY",
        "EXPN",
        "HELP",
    }
)


class ClientState(enum.Enum):
    GREETING = "GREETING"  # waiting for the banner
    CONNECTED = "CONNECTED"  # banner received; send EHLO/HELO/LHLO
    READY = "READY"  # greeted, no transaction
    MAIL = "MAIL"  # MAIL sent
    RCPT = "RCPT"  # RCPT sent
    DATA = "DATA"  # DATA sent, waiting for 354
    MESSAGE = "MESSAGE"  # 354 received: send message()
    CHUNKING = "CHUNKING"  # non-LAST BDAT sent
    AUTH = "AUTH"  # 334 received: send auth_response()
    TLS = "TLS"  # 220 to STARTTLS received: handshake, then start_tls_done()
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class ServerReply(ReplyClass):
    """One complete server reply.

    :param status: the RFC 3463 enhanced status code if the reply carried one; it is then
        stripped from `lines`.
    :param command: what it answers: ``GREETING``, ``EHLO``, ``MAIL``, ``RCPT``, ``DATA``,
        ``MESSAGE`` (end of data), ``BDAT``, ``AUTH``... or ``""`` for an unsolicited 421.
    :param recipient: the address for RCPT replies and for LMTP per-recipient replies.
    """

    code: int
    status: str | None
    lines: tuple[str, ...]
    command: str = ""
    recipient: str | None = None

    def challenge(self) -> bytes:
        """The decoded SASL challenge of a 334 reply."""
        return (
            base64.b64decode(self.lines[0].strip(), validate=True) if self.lines[0].strip() else b""
        )


@dataclass(slots=True)
class _Txn:
    accepted: list[str] = field(default_factory=list)
    body: Body | None = None
    smtputf8: bool = False


@dataclass(slots=True)
class _Expect:
    command: str
    txn: _Txn | None = None
    recipient: str | None = None
    per_recipient: bool = False  # LMTP end of data
    seen: int = 0


def _check_text(value: str, what: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise LocalProtocolError(f"CR, LF or NUL in {what}")


class ClientConnection:
    """One SMTP or LMTP client session, without I/O.

    :param lmtp: speak LMTP (`lhlo()`, one reply per recipient after the message).
    :param max_line: longest reply line accepted, in octets.
    :param max_lines: most lines in one reply.
    """

    def __init__(self, *, lmtp: bool = False, max_line: int = 4096, max_lines: int = 1000) -> None:
        self.lmtp = lmtp
        self.max_line = max_line
        self.max_lines = max_lines
        self.state = ClientState.GREETING
        self.greeting: ServerReply | None = None
        self.extensions: dict[str, str] = {}
        self.tls_active = False
        self.authenticated = False
        self._buf = bytearray()
        self._eof = False
        self._lines: list[tuple[int, str]] = []
        self._expect: deque[_Expect] = deque([_Expect("GREETING")])
        self._txn: _Txn | None = None

    # ------------------------------------------------------------- replies

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the server; ``b""`` signals EOF."""
        if self._eof and data:
            raise LocalProtocolError("data received after EOF")
        if not data:
            self._eof = True
        self._buf += data

    @property
    def pending_replies(self) -> int:
        """Commands sent whose reply has not been parsed yet."""
        return len(self._expect)

    def next_event(self) -> ServerReply | ConnectionClosed | Status:
        """The next complete reply, `NEED_DATA` or `ConnectionClosed` (EOF).

        Raises `RemoteProtocolError` on a malformed or unsolicited reply.
        """
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > self.max_line:
                    raise RemoteProtocolError("reply line too long")
                if self._eof:
                    self.state = ClientState.CLOSED
                    return ConnectionClosed()
                return NEED_DATA
            if i + 1 > self.max_line:
                raise RemoteProtocolError("reply line too long")
            raw = bytes(self._buf[:i]).rstrip(b"\r")
            del self._buf[: i + 1]
            m = _REPLY_RE.match(raw)
            if not m:
                raise RemoteProtocolError(f"malformed reply line {raw[:80]!r}")
            code = int(m.group(1))
            if self._lines and self._lines[0][0] != code:
                raise RemoteProtocolError("reply code changed within a multi-line reply")
            self._lines.append((code, (m.group(3) or b"").decode("utf-8", "replace")))
            if len(self._lines) > self.max_lines:
                raise RemoteProtocolError("too many reply lines")
            if m.group(2) != b"-":
                texts = [t for _, t in self._lines]
                self._lines = []
                return self._complete(code, texts)

    def _complete(self, code: int, texts: list[str]) -> ServerReply:
        status = None
        m = _STATUS_RE.match(texts[0])
        if m and int(m.group(1)[0]) == code // 100:
            status = m.group(1)
            prefix = status + " "
            texts = [
                t[len(prefix) :] if t.startswith(prefix) else ("" if t == status else t)
                for t in texts
            ]
        if not self._expect:
            if code == 421:
                self._close()
                return ServerReply(code, status, tuple(texts))
            raise RemoteProtocolError(f"unsolicited reply {code}")
        head = self._expect[0]
        recipient = head.recipient
        if head.per_recipient and head.txn is not None:
            accepted = head.txn.accepted
            recipient = accepted[head.seen] if head.seen < len(accepted) else None
            head.seen += 1
            if head.seen >= max(1, len(accepted)):
                self._expect.popleft()
        else:
            self._expect.popleft()
        reply = ServerReply(code, status, tuple(texts), head.command, recipient)
        self._on_reply(head, reply)
        return reply

    def _on_reply(self, head: _Expect, reply: ServerReply) -> None:
        command, positive = head.command, reply.is_positive
        if reply.code == 421:
            self._close()
            return
        if command == "GREETING":
            self.greeting = reply
            if positive:
                self.state = ClientState.CONNECTED
        elif command in ("EHLO", "LHLO", "HELO") and positive:
            self.extensions = {}
            if command != "HELO":
                for line in reply.lines[1:]:
                    keyword, _, value = line.strip().partition(" ")
                    if keyword:
                        self.extensions[keyword.upper()] = value.strip()
            self.state = ClientState.READY
        elif command == "STARTTLS" and reply.code == 220:
            self.state = ClientState.TLS
        elif command == "AUTH":
            if reply.code == 334:
                self.state = ClientState.AUTH
            else:
                self.authenticated = positive
                self.state = ClientState.READY
        elif command == "MAIL" and not positive and self.state is ClientState.MAIL:
            self.state = ClientState.READY  # nothing pipelined after it: start again
        elif command == "RCPT" and positive and head.txn is not None:
            head.txn.accepted.append(head.recipient or "")
        elif command == "DATA":
            self.state = ClientState.MESSAGE if reply.code == 354 else ClientState.READY
        elif command == "BDAT" and not positive and self.state is ClientState.CHUNKING:
            self.state = ClientState.READY
        elif command == "QUIT":
            self.state = ClientState.CLOSED

    def _close(self) -> None:
        self.state = ClientState.CLOSED
        self._expect.clear()

    # ------------------------------------------------------------ extensions

    def supports(self, keyword: str) -> bool:
        """Did the EHLO/LHLO reply offer `keyword`?"""
        return keyword.upper() in self.extensions

    @property
    def max_size(self) -> int | None:
        """The SIZE the server declared (None: no SIZE, or no limit given)."""
        value = self.extensions.get("SIZE", "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        return frozenset(self.extensions.get("AUTH", "").upper().split())

    @property
    def greeting_esmtp(self) -> bool:
        """The banner mentions ESMTP (decides EHLO unless "Always use EHLO" is set)."""
        return self.greeting is not None and "ESMTP" in self.greeting.text.upper()

    # -------------------------------------------------------------- commands

    def _send(
        self,
        line: str,
        command: str,
        states: tuple[ClientState, ...],
        *,
        expect: _Expect | None = None,
    ) -> bytes:
        if self.state not in states:
            raise LocalProtocolError(f"cannot send {command} in state {self.state.name}")
        if self._expect:
            if not self.supports("PIPELINING"):
                raise LocalProtocolError(f"{command}: reply pending and no PIPELINING")
            blocking = next((e.command for e in self._expect if e.command in _SYNC), None)
            if blocking is not None:
                raise LocalProtocolError(f"{command}: the reply to {blocking} is pending")
        self._expect.append(expect or _Expect(command))
        return (line + "\r\n").encode("utf-8")

    def _greet(self, verb: str, name: str) -> bytes:
        _check_text(name, "hostname")
        if not name or " " in name:
            raise LocalProtocolError("bad HELO name")
        return self._send(f"{verb} {name}", verb, (ClientState.CONNECTED, ClientState.READY))

    def ehlo(self, name: str) -> bytes:
        if self.lmtp:
            raise LocalProtocolError("LMTP uses LHLO")
        return self._greet("EHLO", name)

    def helo(self, name: str) -> bytes:
        if self.lmtp:
            raise LocalProtocolError("LMTP uses LHLO")
        return self._greet("HELO", name)

    def lhlo(self, name: str) -> bytes:
        if not self.lmtp:
            raise LocalProtocolError("LHLO needs ClientConnection(lmtp=True)")
        return self._greet("LHLO", name)

    def starttls(self) -> bytes:
        if not self.supports("STARTTLS") or self.tls_active:
            raise LocalProtocolError("STARTTLS not offered")
        return self._send("STARTTLS", "STARTTLS", (ClientState.READY,))

    def start_tls_done(self) -> int:
        """After the handshake: back to CONNECTED (send EHLO again), forget the extensions
        and discard anything the server sent in plaintext after its 220. Returns the count."""
        if self.state is not ClientState.TLS:
            raise LocalProtocolError("start_tls_done() without an accepted STARTTLS")
        discarded = len(self._buf)
        self._buf = bytearray()
        self._lines = []
        self.extensions = {}
        self.tls_active = True
        self.state = ClientState.CONNECTED
        return discarded

    def auth(self, mechanism: str, initial: bytes | None = None) -> bytes:
        """AUTH with an optional initial response (b"" is sent as "=")."""
        mechanism = mechanism.upper()
        if mechanism not in self.auth_mechanisms:
            raise LocalProtocolError(f"AUTH {mechanism} not offered")
        if self.authenticated:
            raise LocalProtocolError("already authenticated")
        line = f"AUTH {mechanism}"
        if initial is not None:
            line += " " + (base64.b64encode(initial).decode("ascii") or "=")
        return self._send(line, "AUTH", (ClientState.READY,))

    def auth_response(self, data: bytes | None) -> bytes:
        """Answer a 334 challenge; None cancels the exchange ("*")."""
        line = "*" if data is None else base64.b64encode(data).decode("ascii")
        out = self._send(line, "AUTH", (ClientState.AUTH,))
        self.state = ClientState.READY
        return out

    def mail(
        self,
        sender: str,
        *,
        size: int | None = None,
        body: Body | None = None,
        smtputf8: bool = False,
        ret: Ret | None = None,
        envid: str | None = None,
        auth: str | None = None,
    ) -> bytes:
        """MAIL FROM:<sender> with parameters; "" is the null reverse-path.

        SIZE is sent only if the server offered it; every other parameter the server did
        not offer raises LocalProtocolError (the caller decides how to degrade).
        """
        _check_text(sender, "sender")
        if not sender.isascii() and not smtputf8:
            raise LocalProtocolError("non-ASCII sender needs smtputf8=True")
        if not self.supports("SIZE"):
            size = None
        self._require(body is Body.EIGHT_BIT_MIME, "8BITMIME")
        self._require(body is Body.BINARY_MIME, "BINARYMIME", "CHUNKING")
        self._require(smtputf8, "SMTPUTF8")
        self._require(ret is not None or envid is not None, "DSN")
        self._require(auth is not None, "AUTH")
        params = MailParams(size, body, smtputf8, ret, envid, auth)
        words = format_mail_params(params)
        txn = _Txn(body=body, smtputf8=smtputf8)
        out = self._send(
            " ".join([f"MAIL FROM:<{sender}>", *words]),
            "MAIL",
            (ClientState.READY,),
            expect=_Expect("MAIL", txn),
        )
        self._txn = txn
        self.state = ClientState.MAIL
        return out

    def rcpt(
        self,
        recipient: str,
        *,
        notify: frozenset[Notify] | None = None,
        orcpt: tuple[str, str] | None = None,
    ) -> bytes:
        """RCPT TO:<recipient> with DSN parameters (notify=frozenset() means NEVER)."""
        _check_text(recipient, "recipient")
        if not recipient or (
            not recipient.isascii() and not (self._txn is not None and self._txn.smtputf8)
        ):
            raise LocalProtocolError("empty recipient, or non-ASCII without SMTPUTF8")
        self._require(notify is not None or orcpt is not None, "DSN")
        words = format_rcpt_params(RcptParams(notify, orcpt))
        out = self._send(
            " ".join([f"RCPT TO:<{recipient}>", *words]),
            "RCPT",
            (ClientState.MAIL, ClientState.RCPT),
            expect=_Expect("RCPT", self._txn, recipient),
        )
        self.state = ClientState.RCPT
        return out

    def data(self) -> bytes:
        if self._txn is not None and self._txn.body is Body.BINARY_MIME:
            raise LocalProtocolError("BODY=BINARYMIME must use BDAT")
        out = self._send("DATA", "DATA", (ClientState.RCPT,))
        self.state = ClientState.DATA
        return out

    def message(self, content: bytes) -> bytes:
        """The message after a 354: line ends normalised to CRLF, dot-stuffed, terminated."""
        if self.state is not ClientState.MESSAGE:
            raise LocalProtocolError("message() needs a 354 reply to DATA")
        self._expect.append(self._end_expect("MESSAGE"))
        self.state = ClientState.READY
        return dot_stuff(content)

    def _end_expect(self, command: str) -> _Expect:
        return _Expect(command, self._txn, per_recipient=self.lmtp)

    def bdat(self, chunk: bytes, *, last: bool = False) -> bytes:
        """One BDAT chunk (binary-safe, sent as is); needs CHUNKING."""
        self._require(True, "CHUNKING")
        line = f"BDAT {len(chunk)}" + (" LAST" if last else "")
        expect = self._end_expect("BDAT") if last else _Expect("BDAT", self._txn)
        out = self._send(line, "BDAT", (ClientState.RCPT, ClientState.CHUNKING), expect=expect)
        self.state = ClientState.READY if last else ClientState.CHUNKING
        return out + chunk

    def rset(self) -> bytes:
        greeted = (ClientState.READY, ClientState.MAIL, ClientState.RCPT, ClientState.CHUNKING)
        out = self._send("RSET", "RSET", greeted)
        self.state = ClientState.READY
        self._txn = None
        return out

    def noop(self) -> bytes:
        return self._send("NOOP", "NOOP", _IDLE)

    def vrfy(self, arg: str) -> bytes:
        _check_text(arg, "argument")
        return self._send(f"VRFY {arg}", "VRFY", _IDLE)

    def quit(self) -> bytes:
        states = tuple(s for s in ClientState if s not in (ClientState.MESSAGE, ClientState.CLOSED))
        out = self._send("QUIT", "QUIT", states)
        self.state = ClientState.CLOSED
        return out

    def _require(self, needed: bool, *keywords: str) -> None:
        if needed:
            for keyword in keywords:
                if not self.supports(keyword):
                    raise LocalProtocolError(f"the server does not offer {keyword}")


_IDLE = (
    ClientState.CONNECTED,
    ClientState.READY,
    ClientState.MAIL,
    ClientState.RCPT,
)
