"""The one address-classification service: what the server thinks of a peer address.

Every connection's peer goes through :meth:`AddressClassifier.classify` once, in the
manual's order (Protection, Network): denied (closed before the listener's own lists),
client (trusted) addresses, LAN as clients, temporarily trusted (read-then-send),
white hole, blacklisted (explicit list, then DNSBL), temporarily blocked; debug
addresses force full logging. The result (an
:class:`~unigate_hookspecs.listeners.AddressClass`) travels with the connection.

DNSBL: for peer ``a.b.c.d`` the name ``d.c.b.a.<zone>`` is resolved (IPv6 in
``ip6.arpa`` nibble order); an A answer in 127.0.0.2-127.1.255.255 means listed. It is
asked only for peers in none of the blacklisted, white hole and client lists, with a
short time-out; a failed lookup never blacklists.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable

from unigate.addresslist import AddressList
from unigate.settings import ProtectionSettings
from unigate_hookspecs.listeners import AddressClass

_LISTED_LOW = int(ipaddress.IPv4Address("127.0.0.2"))
_LISTED_HIGH = int(ipaddress.IPv4Address("127.1.255.255"))


def dnsbl_name(ip: str, zone: str) -> str:
    """The DNSBL query name of ``ip`` in ``zone``."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + "." + zone
    nibbles = address.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + zone


class ExpiringSet:
    """Addresses remembered until a deadline, bounded (oldest evicted first)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str, seconds: float) -> None:
        self._items[key] = self.clock() + seconds
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        deadline = self._items.get(key)  # type: ignore[arg-type]
        if deadline is None:
            return False
        if deadline < self.clock():
            self._items.pop(key, None)  # type: ignore[arg-type]
            return False
        return True


class AddressClassifier:
    """Classifies peer addresses from the [protection] settings; holds the dynamic lists."""

    def __init__(
        self,
        settings: ProtectionSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        dns_servers: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.dns_servers = list(dns_servers or [])
        self.clients = AddressList.of(settings.client_addresses)
        self.lan = AddressList.of(settings.lan_addresses)
        self.denied = AddressList.of(settings.denied)
        self.blacklisted = AddressList.of(settings.blacklisted)
        self.white_holes = AddressList.of(settings.white_holes)
        self.debug = AddressList.of(settings.debug)
        self.temp_trusted = ExpiringSet(settings.temp_trust_limit, clock)
        self.temp_blocked = ExpiringSet(1000, clock)

    def is_denied(self, ip: str) -> bool:
        """Checked first, before the listener's grant/deny: close without a word."""
        return ip in self.denied

    def trust_temporarily(self, ip: str) -> None:
        """Read-then-send: after a POP/IMAP login the address counts as a client for a while."""
        if self.settings.temp_trust_minutes:
            self.temp_trusted.add(ip, self.settings.temp_trust_minutes * 60.0)

    def block_temporarily(self, ip: str, seconds: float | None = None) -> None:
        """Too many failed logins or protocol errors (white holes are exempt)."""
        if ip not in self.white_holes:
            self.temp_blocked.add(ip, self.settings.block_time if seconds is None else seconds)

    async def classify(self, ip: str) -> AddressClass:
        """The address class of ``ip`` (may ask DNSBL zones; never raises on DNS trouble)."""
        address = ipaddress.ip_address(ip.split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        text = str(address)
        lan = address in self.lan or address.is_private
        client = address in self.clients or (self.settings.lan_as_clients and lan)
        white = address in self.white_holes
        listed = address in self.blacklisted
        source = "blacklist" if listed else None
        if not (listed or white or client) and self.settings.rbl:
            source = await self._rbl(text)
            listed = source is not None
        return AddressClass(
            ip=text,
            client=client,
            temp_trusted=not client and text in self.temp_trusted,
            white_hole=white,
            blacklisted=listed and not white,
            blacklist_source=source if listed and not white else None,
            temp_blocked=not white and text in self.temp_blocked,
            lan=lan,
            local=address.is_loopback,
            debug=address in self.debug,
        )

    async def _rbl(self, ip: str) -> str | None:
        import dns.exception

        from unigate.resolver import make_resolver

        resolver = make_resolver(self.dns_servers, timeout=self.settings.rbl_timeout)
        for zone in self.settings.rbl:
            try:
                answer = await resolver.resolve(dnsbl_name(ip, zone), "A")
            except (dns.exception.DNSException, OSError):
                continue
            for item in answer:
                value = int(ipaddress.IPv4Address(item.address))
                if _LISTED_LOW <= value <= _LISTED_HIGH:
                    return zone
        return None
