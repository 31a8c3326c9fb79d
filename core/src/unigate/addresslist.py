"""The manual's Network Address List format, and fast membership tests.

One entry per line: an address, an inclusive range ``A-B``, or ``addr/bits``. A
leading ``!`` removes that address or range from the list built by the *preceding*
lines, so order matters. ``;`` starts a comment; empty lines are ignored. Every list of
the Protection and Network sections (client, LAN, denied, blacklisted, white hole,
debug, a listener's grant/deny) uses it.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def _key(addr: IPAddr) -> tuple[int, int]:
    """Sort key putting IPv4 and IPv6 in separate ranges (IPv4-mapped IPv6 folded to IPv4)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (addr.version, int(addr))


@dataclass(frozen=True)
class AddressList:
    """A parsed list: disjoint sorted intervals, searched by bisection."""

    starts: tuple[tuple[int, int], ...] = ()
    ends: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> AddressList:
        """Parse the text form; ValueError naming the line on a bad entry."""
        intervals: list[tuple[tuple[int, int], tuple[int, int]]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split(";", 1)[0].strip()
            if not line:
                continue
            exclude = line.startswith("!")
            if exclude:
                line = line[1:].strip()
            try:
                low, high = _interval(line)
            except ValueError as exc:
                raise ValueError(f"line {number}: {raw.strip()!r}: {exc}") from None
            if exclude:
                intervals = _subtract(intervals, low, high)
            else:
                intervals.append((low, high))
        merged = _merge(intervals)
        return cls(tuple(i[0] for i in merged), tuple(i[1] for i in merged))

    @classmethod
    def of(cls, lines: list[str]) -> AddressList:
        """Parse a list given as lines (the settings file's form)."""
        return cls.parse("\n".join(lines))

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            try:
                address = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                return False
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        key = _key(address)
        index = bisect.bisect_right(self.starts, key) - 1
        return index >= 0 and key <= self.ends[index]

    def __bool__(self) -> bool:
        return bool(self.starts)


def _interval(entry: str) -> tuple[tuple[int, int], tuple[int, int]]:
    if "/" in entry:
        network = ipaddress.ip_network(entry, strict=True)
        return (_key(network.network_address), _key(network.broadcast_address))
    if "-" in entry:
        first, last = (part.strip() for part in entry.split("-", 1))
        low, high = _key(_address(first)), _key(_address(last))
        if low[0] != high[0] or low > high:
            raise ValueError("range must go from low to high in one address family")
        return (low, high)
    key = _key(_address(entry))
    return (key, key)


def _address(text: str) -> IPAddr:
    # The manual writes leading zeros ("10.34.50.01"); accept them as decimal.
    if text.count(".") == 3 and ":" not in text:
        parts = text.split(".")
        if all(part.isdigit() for part in parts):
            text = ".".join(str(int(part)) for part in parts)
    return ipaddress.ip_address(text)


def _merge(
    intervals: list[tuple[tuple[int, int], tuple[int, int]]],
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for low, high in sorted(intervals):
        if merged and merged[-1][1][0] == low[0] and low[1] <= merged[-1][1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _subtract(
    intervals: list[tuple[tuple[int, int], tuple[int, int]]],
    low: tuple[int, int],
    high: tuple[int, int],
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    result = []
    for start, end in intervals:
        if end < low or start > high or start[0] != low[0]:
            result.append((start, end))
            continue
        if start < low:
            result.append((start, (low[0], low[1] - 1)))
        if end > high:
            result.append(((high[0], high[1] + 1), end))
    return result
