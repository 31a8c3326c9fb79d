"""Server-side SASL exchanges shared by every protocol (SMTP AUTH, IMAP, POP, XMPP).

Usage from a protocol::

    if name not in advertised(tls=tls, allow_cleartext_without_tls=False): ...
    exchange = start(name, source)            # may raise UnknownMechanism
    step = await exchange.step(initial_response_or_None)
    while isinstance(step, Challenge):
        step = await exchange.step(await read_client_answer(step.data))
    # step is Success(account, authzid, additional) or Failure(reason, temporary)

The protocol owns base64, the ``*`` cancel, and throttling around the result;
see :mod:`unigate.sasl.base` for the step types and :class:`CredentialSource`.
"""

from __future__ import annotations

from unigate.sasl.base import (
    Challenge,
    CredentialSource,
    ExchangeFinished,
    Failure,
    SaslExchange,
    SaslStep,
    ScramKeys,
    Success,
    UnknownMechanism,
)
from unigate.sasl.plain import LoginExchange, PlainExchange
from unigate.sasl.scram import (
    ChannelBinding,
    ScramExchange,
    ScramSha1,
    ScramSha1Plus,
    ScramSha256,
    ScramSha256Plus,
    scram_keys_from_settings,
)

__all__ = [
    "CLEARTEXT_MECHANISMS",
    "MECHANISMS",
    "Challenge",
    "ChannelBinding",
    "CredentialSource",
    "ExchangeFinished",
    "Failure",
    "LoginExchange",
    "PlainExchange",
    "SaslExchange",
    "SaslStep",
    "ScramExchange",
    "ScramKeys",
    "Success",
    "UnknownMechanism",
    "advertised",
    "scram_keys_from_settings",
    "start",
]

#: Every mechanism by its SASL name, strongest first.
MECHANISMS: dict[str, type[SaslExchange]] = {
    cls.name: cls
    for cls in (
        ScramSha256Plus,
        ScramSha1Plus,
        ScramSha256,
        ScramSha1,
        PlainExchange,
        LoginExchange,
    )
}

CLEARTEXT_MECHANISMS = frozenset(name for name, cls in MECHANISMS.items() if cls.cleartext)


def start(
    name: str, source: CredentialSource, *, channel_binding: ChannelBinding | None = None
) -> SaslExchange:
    """Begin an exchange for mechanism ``name`` (case-insensitive).

    ``channel_binding`` is the TLS binding data when the link has it: it enables
    the ``-PLUS`` mechanisms and lets the plain SCRAM ones detect a downgrade.
    Raises :class:`UnknownMechanism` for names we do not implement, and for
    ``-PLUS`` without binding data.
    """
    cls = MECHANISMS.get(name.upper())
    if cls is None:
        raise UnknownMechanism(name)
    if issubclass(cls, ScramExchange):
        if cls.plus and channel_binding is None:
            raise UnknownMechanism(name)
        return cls(source, channel_binding=channel_binding)
    return cls(source)


def advertised(
    *, tls: bool, allow_cleartext_without_tls: bool, channel_binding: bool = False
) -> list[str]:
    """Mechanism names to offer, strongest first.

    PLAIN and LOGIN only on TLS links or where the administrator allows clear
    text; the ``-PLUS`` variants only when TLS channel-binding data is available.
    Per-domain Login Methods filtering is the caller's job.
    """
    names = []
    for name, cls in MECHANISMS.items():
        if cls.cleartext and not (tls or allow_cleartext_without_tls):
            continue
        if issubclass(cls, ScramExchange) and cls.plus and not (tls and channel_binding):
            continue
        names.append(name)
    return names
