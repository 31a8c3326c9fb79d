"""The Routing Table: the manual's record syntax, parsed once into a compiled table.

One record per line::

    [relay-prefix] {op-prefix} Sample = Route [; comment]
    ; a comment line

- relay prefix: ``Relay:`` (``R:``), ``NoRelay:`` (``N:``, the default) or ``RelayAll:``;
- operation prefixes, zero or more, after the relay prefix: ``Mail:`` (``M:``),
  ``Access:`` (``A:``), ``Signal:`` (``S:``); none means every operation;
- the Sample decides the kind of record:

  - ``domain-pattern`` -- a *domain-level* record: the domain part is replaced by the
    Route (``hq.company.com = twisted.company.com``; an empty Route, as in
    ``localhost =``, means the Main Domain);
  - ``<local-pattern>`` -- an *account-level* record for the Main Domain;
  - ``<local-pattern@domain>`` -- an account-level record for that domain (a wildcard
    only before the ``@``);
  - ``<local-pattern@*>`` -- an *all-local* record, for every local Domain;

  account-level and all-local records replace the whole address with the Route (an
  all-local Route stays in the matched Domain: ``<abuse@*> = postmaster``).

Prefix names are accepted in any case; a space may follow the colon
(``Relay: friend.com = ...`` appears in the manual). Errors raise
:class:`RoutingTableError`, which names the line.

Lookup is fast: records without a wildcard are indexed in dicts by their exact key;
records with one are kept in order, and only those above the first exact hit are tried,
so the first applicable record (top to bottom) still wins.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

from unigate.router.pattern import PatternError, Route, Sample
from unigate_hookspecs.routing import RouteOp

__all__ = [
    "DEFAULT_TABLE",
    "Record",
    "RecordKind",
    "RelayMode",
    "RoutingTable",
    "RoutingTableError",
    "parse_table",
]


class RelayMode(enum.Enum):
    """A record's relay prefix (the Protection section's "can relay" marker)."""

    NORELAY = "NoRelay"  # neither sets nor resets the marker (the default)
    RELAY = "Relay"  # sets the marker if the rewritten address is simple
    RELAYALL = "RelayAll"  # always sets the marker


class RecordKind(enum.Enum):
    DOMAIN = "domain"  # hq.company.com = ...
    ACCOUNT = "account"  # <sales> = ..., <sales@client.com> = ...
    ALL_LOCAL = "all-local"  # <abuse@*> = ...


_RELAY_PREFIXES = {
    "relay": RelayMode.RELAY,
    "r": RelayMode.RELAY,
    "norelay": RelayMode.NORELAY,
    "n": RelayMode.NORELAY,
    "relayall": RelayMode.RELAYALL,
}
_OP_PREFIXES = {
    "mail": RouteOp.MAIL,
    "m": RouteOp.MAIL,
    "access": RouteOp.ACCESS,
    "a": RouteOp.ACCESS,
    "signal": RouteOp.SIGNAL,
    "s": RouteOp.SIGNAL,
}
_PREFIX = re.compile(r"\s*([A-Za-z]+)\s*:\s*")

#: The default records (manual "Default Records"), with the damaged ones repaired.
#:
#: The manual prints ``<*(3-4d)*>``, ``<7(2d)*>``, ``<8(3d)*>``, ``<+(8-20d)*>``,
#: ``Signal:<911*>``, ``Signal:<112*>`` and ``Signal:<(7d)*>``: two wildcards each, which
#: its own syntax forbids, while the prose says "in any local Domain" (All-Local
#: records), and the PBX chapter writes ``<911@*>``. The ``@`` before the last ``*`` (and
#: the backslash of the literal ``\\*`` in the voicemail record) were lost in
#: conversion; these are the intended forms. The printed forms are rejected with a
#: hint (see :func:`parse_table`).
DEFAULT_TABLE = """\
<root> = postmaster
localhost =
mailhost =
<blacklist-admin*@blacklisted> = postmaster
<\\*(3-4d)@*> = voicemail#*
<7(2d)@*> = pbx{*}#pbx
<8(3d)@*> = pickup{*}#pbx
tel = telnum
<+(8-20d)@*> = +*@telnum
Signal:telnum = pstn
Signal:<*@pstn> = gatewaycaller{*}#pbx
Signal:<911@*> = emergency@localhost
Signal:<112@*> = emergency@localhost
Signal:<emergency> = emergency#pbx
Signal:<(7d)@*> = localAreaCall{*}#pbx@localhost
"""


class RoutingTableError(ValueError):
    """A record that cannot be parsed; ``line`` is 1-based."""

    def __init__(self, line: int, text: str, reason: str) -> None:
        super().__init__(f"routing table line {line}: {reason}: {text.strip()!r}")
        self.line = line
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Record:
    """One compiled routing record.

    ``sample`` matches the domain (DOMAIN) or the local part (ACCOUNT, ALL_LOCAL);
    ``domain`` is the account-level record's domain (``""`` = Main Domain).
    """

    line: int
    text: str
    relay: RelayMode
    operations: frozenset[RouteOp]
    kind: RecordKind
    sample: Sample
    domain: str
    route: Route
    comment: str = ""

    def applies_to(self, operation: RouteOp) -> bool:
        return not self.operations or operation in self.operations

    def matches(self, local: str, domain: str, domain_is_local: bool) -> str | None:
        """The wildcard value if the record matches ``local@domain``, else None."""
        if self.kind is RecordKind.DOMAIN:
            return self.sample.match(domain) if domain else None
        if self.kind is RecordKind.ACCOUNT:
            return self.sample.match(local) if domain == self.domain else None
        return self.sample.match(local) if domain_is_local else None

    def rewrite(self, local: str, domain: str, value: str) -> str:
        """The new address text for ``local@domain`` matched with wildcard ``value``."""
        target = self.route.substitute(value)
        if self.kind is RecordKind.DOMAIN:
            return f"{local}@{target}" if target else local
        if self.kind is RecordKind.ALL_LOCAL and domain:
            return f"{target}@{domain}"
        return target


def _split_unescaped(text: str, char: str, respect_quotes: bool) -> tuple[str, str | None]:
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if respect_quotes and c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return text[:i], text[i + 1 :]
        i += 1
    return text, None


def _rsplit_at(text: str) -> tuple[str, str | None]:
    """Split ``local@domain`` at the last unescaped ``@``."""
    pos = -1
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "@":
            pos = i
        i += 1
    return (text, None) if pos < 0 else (text[:pos], text[pos + 1 :])


def _has_wildcard(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*(":
            return True
        i += 1
    return False


def _parse_record(lineno: int, line: str) -> Record | None:
    body, comment = _split_unescaped(line, ";", respect_quotes=True)
    if not body.strip():
        return None  # a comment line (or an empty one)
    relay: RelayMode | None = None
    ops: set[RouteOp] = set()
    pos = 0
    while True:
        m = _PREFIX.match(body, pos)
        if not m:
            break
        word = m.group(1).lower()
        if word in _RELAY_PREFIXES:
            if relay is not None:
                raise RoutingTableError(lineno, line, "more than one relay prefix")
            if ops:
                raise RoutingTableError(
                    lineno, line, "the relay prefix must come before Mail:/Access:/Signal:"
                )
            relay = _RELAY_PREFIXES[word]
        elif word in _OP_PREFIXES:
            ops.add(_OP_PREFIXES[word])
        else:
            raise RoutingTableError(lineno, line, f"unknown prefix {m.group(1)!r}")
        pos = m.end()
    rest = body[pos:]
    sample_text, route_text = _split_unescaped(rest, "=", respect_quotes=False)
    if route_text is None:
        raise RoutingTableError(lineno, line, "no '=' in the record")
    sample_text, route_text = sample_text.strip(), route_text.strip()
    if not sample_text:
        raise RoutingTableError(lineno, line, "empty sample")
    try:
        route = Route.parse(route_text)
        if sample_text.startswith("<"):
            kind, sample, domain = _parse_account_sample(sample_text)
            if not route_text:
                raise RoutingTableError(lineno, line, "empty route in an account-level record")
        else:
            if any(c in sample_text for c in "<>@"):
                raise PatternError("a domain-level sample cannot contain '<', '>' or '@'")
            kind, sample, domain = RecordKind.DOMAIN, Sample.parse(sample_text), ""
    except PatternError as exc:
        raise RoutingTableError(lineno, line, str(exc)) from None
    if route.star and sample.wildcard is None:
        raise RoutingTableError(lineno, line, "the route has a '*' but the sample has no wildcard")
    return Record(
        line=lineno,
        text=body.strip(),
        relay=relay or RelayMode.NORELAY,
        operations=frozenset(ops),
        kind=kind,
        sample=sample,
        domain=domain,
        route=route,
        comment=(comment or "").strip(),
    )


def _parse_account_sample(text: str) -> tuple[RecordKind, Sample, str]:
    if not text.endswith(">"):
        raise PatternError("an account-level sample must end with '>'")
    inner = text[1:-1].strip()
    local_raw, domain_raw = _rsplit_at(inner)
    if not local_raw:
        raise PatternError("empty local part in an account-level sample")
    try:
        sample = Sample.parse(local_raw)
    except PatternError as exc:
        if domain_raw is None and local_raw.endswith("*") and not local_raw.endswith("\\*"):
            # the manual's damaged default records: "<7(2d)*>" was "<7(2d)@*>"
            raise PatternError(f"{exc} (did you mean <{local_raw[:-1]}@*>?)") from None
        raise
    if domain_raw is None:
        return RecordKind.ACCOUNT, sample, ""
    domain_raw = domain_raw.strip()
    if domain_raw == "*":
        return RecordKind.ALL_LOCAL, sample, ""
    if not domain_raw:
        raise PatternError("empty domain in an account-level sample")
    if _has_wildcard(domain_raw):
        raise PatternError("a wildcard is allowed only before the '@'")
    return RecordKind.ACCOUNT, sample, Sample.parse(domain_raw).prefix


class RoutingTable:
    """The compiled table: the records in order plus exact-key indexes."""

    def __init__(self, records: list[Record]) -> None:
        self.records: tuple[Record, ...] = tuple(records)
        self._domain: dict[str, list[int]] = {}
        self._account: dict[tuple[str, str], list[int]] = {}
        self._all_local: dict[str, list[int]] = {}
        self._wild: list[int] = []
        for i, rec in enumerate(self.records):
            key = rec.sample.exact
            if key is None:
                self._wild.append(i)
            elif rec.kind is RecordKind.DOMAIN:
                self._domain.setdefault(key, []).append(i)
            elif rec.kind is RecordKind.ACCOUNT:
                self._account.setdefault((key, rec.domain), []).append(i)
            else:
                self._all_local.setdefault(key, []).append(i)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def _first(self, indexes: list[int] | None, operation: RouteOp) -> int | None:
        if indexes:
            for i in indexes:
                if self.records[i].applies_to(operation):
                    return i
        return None

    def find(
        self, local: str, domain: str, operation: RouteOp, domain_is_local: bool
    ) -> tuple[Record, str] | None:
        """The first record (top to bottom) that applies to ``local@domain`` for ``operation``.

        Returns the record and the substring its wildcard matched (``""`` if none).
        """
        low = local.lower()
        best: int | None = None
        candidates = [self._first(self._account.get((low, domain)), operation)]
        if domain:
            candidates.append(self._first(self._domain.get(domain), operation))
        if domain_is_local:
            candidates.append(self._first(self._all_local.get(low), operation))
        for c in candidates:
            if c is not None and (best is None or c < best):
                best = c
        for i in self._wild:
            if best is not None and i > best:
                break
            rec = self.records[i]
            if not rec.applies_to(operation):
                continue
            value = rec.matches(local, domain, domain_is_local)
            if value is not None:
                return rec, value
        return (self.records[best], "") if best is not None else None


def parse_table(text: str) -> RoutingTable:
    """Parse routing table text; raises :class:`RoutingTableError` naming the bad line."""
    records: list[Record] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        rec = _parse_record(lineno, line)
        if rec is not None:
            records.append(rec)
    return RoutingTable(records)
