"""Address parsing for the Router: RFC 822 route forms to the canonical ``local%d1%d2@domain``.

The manual ("Router", Address Structure) reads every address as two strings, a domain
part (the system the address goes to next) and a local part (everything that system
needs, itself possibly a route). These forms all give domain ``zzzz`` and local part
``xxxx@yyyy``, kept in the canonical ``%`` notation as ``xxxx%yyyy``::

    <@zzzz:xxxx@yyyy>      zzzz!yyyy!xxxx      xxxx%yyyy@zzzz

So ``local%d1%d2@domain`` goes to ``domain`` first, then ``d2``, then ``d1``: the
rightmost ``%`` part is the next hop after ``domain``.

Other rules kept here, because every caller needs them the same way:

- the domain is lower-cased, and a trailing dot dropped; a bare IPv4 address is put in
  brackets (``user@10.34.45.67`` -> ``user@[10.34.45.67]``), so table records can always
  be written for the bracketed form;
- a quoted local part loses its quotes when they are not needed
  (``"requests#staff"@hq.client.com`` -> ``requests#staff``), and keeps them otherwise
  (``"a b"@x``); the ``@``, ``%`` and ``!`` inside quotes are not route separators;
- URI schemes: ``sip:``, ``sips:`` and ``mailto:`` are dropped; ``tel:N`` is ``N@tel``
  (the manual's "tel: Routing").

Main-domain cut-off needs the account database, so it lives in the engine; this
module only offers :func:`resplit` for it. Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = [
    "Address",
    "AddressError",
    "has_route",
    "is_ip_literal",
    "is_simple",
    "parse_address",
    "resplit",
    "rfind_unquoted",
    "via_host",
]

# characters that force a local part to stay quoted
_QUOTE_NEEDED = set(' \t"\\()<>[]:;@,%!')


class AddressError(ValueError):
    """The text is not an address (empty parts, an unterminated quote, ...)."""


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed address: ``local`` in canonical ``%`` form and ``domain`` (``""`` = Main Domain)."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}" if self.domain else self.local


def rfind_unquoted(text: str, char: str) -> int:
    """Index of the last ``char`` outside double quotes (and not backslash-escaped), or -1."""
    found = -1
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            found = i
        i += 1
    if quoted:
        raise AddressError(f"unterminated quote in {text!r}")
    return found


def _find_unquoted(text: str, char: str) -> int:
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return i
        i += 1
    return -1


def _normalize_domain(domain: str) -> str:
    d = domain.strip().lower()
    if d.endswith(".") and len(d) > 1:
        d = d[:-1]
    if d and d[0] != "[" and is_ip_literal(d):
        d = f"[{d}]"
    return d


def is_ip_literal(domain: str) -> bool:
    """True for ``10.1.2.3`` and ``[10.1.2.3]`` (IPv4 or IPv6, ``[IPv6:...]`` too)."""
    d = domain
    if d.startswith("[") and d.endswith("]"):
        d = d[1:-1]
        if d.lower().startswith("ipv6:"):
            d = d[5:]
    try:
        ipaddress.ip_address(d)
    except ValueError:
        return False
    # a bare IPv6 address is ambiguous with host:port; only IPv4 is accepted unbracketed
    return domain.startswith("[") or ":" not in d


def _canonical_local(raw: str) -> str:
    """The canonical local part: inner ``@`` routes become ``%``; needless quotes go."""
    raw = raw.strip()
    if not raw:
        raise AddressError("empty local part")
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        inner = raw[1:-1]
        if _find_unquoted(inner, '"') == -1:
            unescaped = _unescape_quoted(inner)
            if unescaped and not (set(unescaped) & _QUOTE_NEEDED):
                return unescaped
            return raw
    if rfind_unquoted(raw, "@") >= 0:
        inner_addr = parse_address(raw)
        return f"{inner_addr.local}%{inner_addr.domain}" if inner_addr.domain else inner_addr.local
    return raw


def _unescape_quoted(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_address(text: str) -> Address:
    """Parse an address in any of the manual's forms into an :class:`Address`.

    >>> parse_address("<@zzzz:xxxx@yyyy>")
    Address(local='xxxx%yyyy', domain='zzzz')
    >>> parse_address("zzzz!yyyy!xxxx")
    Address(local='xxxx%yyyy', domain='zzzz')
    >>> parse_address("xxxx%yyyy@ZZZZ")
    Address(local='xxxx%yyyy', domain='zzzz')

    An address without ``@`` but with ``%`` is split at the rightmost ``%`` (the manual's
    rule for an empty domain part: split the local part again). A plain name has the
    empty domain (the Main Domain). Raises :class:`AddressError` on malformed text.
    """
    s = text.strip()
    low = s[:7].lower()
    if low.startswith("tel:"):
        number = s[4:].split(";", 1)[0].strip()
        if not number:
            raise AddressError("empty tel: number")
        return Address(number, "tel")
    for scheme in ("sip:", "sips:", "mailto:"):
        if low.startswith(scheme):
            s = s[len(scheme) :].split(";", 1)[0].strip()
            break
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1].strip()
    if not s:
        raise AddressError("empty address")
    if s.startswith("@"):
        return _parse_source_route(s)
    at = rfind_unquoted(s, "@")
    if at >= 0:
        local_raw, domain_raw = s[:at], s[at + 1 :]
        domain = _normalize_domain(domain_raw)
        if not domain:
            raise AddressError(f"empty domain in {text!r}")
        return Address(_canonical_local(local_raw), domain)
    if _find_unquoted(s, "!") >= 0 and not s.startswith('"'):
        hops = s.split("!")
        if any(not h for h in hops):
            raise AddressError(f"empty element in bang path {text!r}")
        local = "%".join([hops[-1], *reversed(hops[1:-1])])
        return Address(local, _normalize_domain(hops[0]))
    pct = rfind_unquoted(s, "%")
    if pct >= 0:
        local_raw, domain_raw = s[:pct], s[pct + 1 :]
        domain = _normalize_domain(domain_raw)
        if not domain:
            raise AddressError(f"empty domain in {text!r}")
        return Address(_canonical_local(local_raw), domain)
    return Address(_canonical_local(s), "")


def _parse_source_route(s: str) -> Address:
    """``@a,@b:x@y`` -> go to ``a``, then ``b``, then ``y``: local ``x%y%b``, domain ``a``."""
    colon = _find_unquoted(s, ":")
    if colon < 0:
        raise AddressError(f"source route without ':' in {s!r}")
    hops = [h.strip() for h in s[:colon].split(",")]
    names: list[str] = []
    for hop in hops:
        if not hop.startswith("@") or not hop[1:].strip():
            raise AddressError(f"bad source route hop {hop!r}")
        names.append(_normalize_domain(hop[1:]))
    rest = parse_address(s[colon + 1 :])
    local = f"{rest.local}%{rest.domain}" if rest.domain else rest.local
    for hop in reversed(names[1:]):
        local = f"{local}%{hop}"
    return Address(local, names[0])


def has_route(local: str) -> bool:
    """True if a local part is itself a route (an unquoted ``%``)."""
    return rfind_unquoted(local, "%") >= 0


def resplit(local: str) -> Address:
    """Split a local part again (after the domain part became empty)."""
    return parse_address(local)


def is_simple(address: Address) -> bool:
    """The Protection section's "simple address": one route only, no quotes.

    ``user%host1@host2`` and ``<@host2:user@host1>`` (canonically the same) are not
    simple; neither is a quoted local part (old mailers ignore the quotes).
    """
    return not any(c in address.local for c in '%@!"')


def via_host(name: str) -> tuple[str, str]:
    """``host.domain.dom.26`` -> (``host.domain.dom:26``, ``host.domain.dom``).

    The manual's ``._via``/``._relay`` rule: a numeric last label is the port. Returns the
    host to connect to (with ``:port``) and the bare host name.
    """
    head, dot, last = name.rpartition(".")
    if dot and head and last.isdigit() and not is_ip_literal(name):
        return f"{head}:{last}", head
    if name.startswith("[") and "]." in name:
        ip, _, port = name.rpartition(".")
        if port.isdigit():
            return f"{ip}:{port}", ip
    return name, name
