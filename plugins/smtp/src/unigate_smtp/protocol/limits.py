"""Constructor-time configuration of the server core: `Limits` and `Extensions`.

Both are frozen values. `Limits` bounds every buffer the core keeps (h11's
``max_incomplete_event_size``); `Extensions` says which ESMTP keywords the server offers,
which decides both the EHLO reply and which commands and parameters the core accepts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one server connection. None = unlimited.

    :param max_command_line: octets per command line incl. CRLF before EHLO/after HELO
        (RFC 5321 §4.5.3.1.4: 512).
    :param max_extended_command_line: the same in an EHLO/LHLO session, where ESMTP
        parameters and UTF-8 addresses make lines longer.
    :param max_auth_line: octets per AUTH command or SASL response line (RFC 4954 §4: 12288).
    :param max_text_line: octets per DATA line incl. CRLF (RFC 5321 §4.5.3.1.6: 1000).
        Checked on the wire form with one octet of slack for a stuffed leading dot (which
        the RFC does not count). Over it: the content is dropped and the end of data gets
        500 5.5.2. BDAT content is binary and never line-checked.
    :param max_message_size: octets of message content after dot-unstuffing.
    :param max_recipients: accepted RCPTs per transaction (over: 452 4.5.3).
    :param max_bad_commands: protocol errors before 421 and disconnect.
    :param reject_8bit_without_8bitmime: refuse DATA content with octets > 127 unless
        BODY=8BITMIME/BINARYMIME or SMTPUTF8 was given (554 5.6.1). Off by default: much
        real mail omits BODY=8BITMIME.
    """

    max_command_line: int = 512
    max_extended_command_line: int = 2048
    max_auth_line: int = 12288
    max_text_line: int | None = 1000
    max_message_size: int | None = 10 * 1024 * 1024
    max_recipients: int | None = 100
    max_bad_commands: int | None = 10
    reject_8bit_without_8bitmime: bool = False

    def __post_init__(self) -> None:
        for name in ("max_command_line", "max_extended_command_line", "max_auth_line"):
            if getattr(self, name) < 64:
                raise ValueError(f"{name} must be at least 64")
        for name in ("max_text_line", "max_message_size", "max_recipients", "max_bad_commands"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive or None")


@dataclass(frozen=True, slots=True)
class Extensions:
    """ESMTP extensions the server offers.

    :param auth: SASL mechanism names to advertise (empty = no AUTH).
    :param starttls: offer STARTTLS (never advertised once TLS is active).
    :param extra: further EHLO keyword lines, verbatim (e.g. ``"NO-SOLICITING"``).
    :param extra_commands: verbs the core passes on as `OtherCommand` (e.g. ``"ETRN"``).
    """

    pipelining: bool = True
    size: bool = True
    eightbitmime: bool = True
    smtputf8: bool = True
    enhancedstatuscodes: bool = True
    dsn: bool = True
    chunking: bool = True
    binarymime: bool = True
    starttls: bool = False
    auth: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    extra_commands: frozenset[str] = frozenset()

    def keywords(self, *, max_size: int | None, tls_active: bool) -> list[str]:
        """The EHLO keyword lines in a fixed order."""
        out: list[str] = []
        if self.pipelining:
            out.append("PIPELINING")
        if self.size:
            out.append(f"SIZE {max_size}" if max_size is not None else "SIZE")
        if self.eightbitmime:
            out.append("8BITMIME")
        if self.smtputf8:
            out.append("SMTPUTF8")
        if self.enhancedstatuscodes:
            out.append("ENHANCEDSTATUSCODES")
        if self.dsn:
            out.append("DSN")
        if self.chunking:
            out.append("CHUNKING")
            if self.binarymime:
                out.append("BINARYMIME")
        if self.starttls and not tls_active:
            out.append("STARTTLS")
        if self.auth:
            out.append("AUTH " + " ".join(m.upper() for m in self.auth))
        out.extend(self.extra)
        return out
