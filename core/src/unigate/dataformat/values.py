"""Python types for the data format's atomic objects that have no builtin twin.

``Timestamp`` is a UTC instant with one-second resolution plus the two special
stamps ``#TPAST`` and ``#TFUTURE``; ``IPAddress`` is an IPv4/IPv6 address with an
optional port.  The other objects map onto builtins (see ``Value``).
"""

from __future__ import annotations

import functools
import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeAlias, Union

__all__ = ["IPAddress", "Timestamp", "Value", "INT64_MIN", "INT64_MAX"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.total_ordering
@dataclass(frozen=True, slots=True, eq=True)
class Timestamp:
    """A ``#T...`` time stamp: an aware UTC datetime truncated to whole seconds.

    Construct with any timezone-aware datetime; it is converted to UTC and its
    microseconds are dropped (the text form has second resolution).  Naive datetimes
    are refused.  ``Timestamp.PAST`` and ``Timestamp.FUTURE`` are the special
    ``#TPAST`` / ``#TFUTURE`` stamps; they sort before and after every other stamp.
    """

    value: datetime
    #: -1 for PAST, +1 for FUTURE, 0 for an ordinary stamp.
    special: int = field(default=0, repr=False)

    PAST: ClassVar[Timestamp]
    FUTURE: ClassVar[Timestamp]

    def __post_init__(self) -> None:
        value = self.value
        if not isinstance(value, datetime):
            raise TypeError(f"Timestamp needs a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("Timestamp needs a timezone-aware datetime")
        if self.special not in (-1, 0, 1):
            raise ValueError("Timestamp.special must be -1, 0 or 1")
        if self.special == 0:
            value = value.astimezone(UTC).replace(microsecond=0)
            object.__setattr__(self, "value", value)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timestamp):
            return NotImplemented
        return (self.special, self.value) < (other.special, other.value)

    def __repr__(self) -> str:
        if self.special < 0:
            return "Timestamp.PAST"
        if self.special > 0:
            return "Timestamp.FUTURE"
        return f"Timestamp({self.value.isoformat()})"

    @property
    def is_special(self) -> bool:
        """True for ``PAST`` and ``FUTURE``."""
        return self.special != 0

    @classmethod
    def from_epoch(cls, seconds: int) -> Timestamp:
        """The stamp ``seconds`` after 1970-01-01 00:00:00 UTC."""
        return cls(_EPOCH + timedelta(seconds=seconds))

    @property
    def epoch(self) -> int:
        """Whole seconds since 1970-01-01 00:00:00 UTC (PAST/FUTURE: far bounds)."""
        return int((self.value - _EPOCH).total_seconds())


Timestamp.PAST = Timestamp(datetime.min.replace(tzinfo=UTC), -1)
Timestamp.FUTURE = Timestamp(datetime.max.replace(tzinfo=UTC), 1)

IPv4or6: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class IPAddress:
    """An ``#I[address]:port`` object: an IPv4 or IPv6 address and an optional port.

    ``ip`` may be given as a string; it is parsed with :mod:`ipaddress`.  IPv6 scope
    ids (``%eth0``) cannot be written in the format and are refused.
    """

    ip: IPv4or6
    port: int | None = None

    def __post_init__(self) -> None:
        ip = self.ip
        if isinstance(ip, str):
            ip = ipaddress.ip_address(ip)
            object.__setattr__(self, "ip", ip)
        if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            raise TypeError(f"IPAddress.ip must be an IP address, not {type(ip).__name__}")
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
            raise ValueError("IPv6 scope ids cannot be represented")
        port = self.port
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
        ):
            raise ValueError(f"port must be an int in 0..65535 or None, not {port!r}")

    def __str__(self) -> str:
        text = f"[{self.ip}]"
        return text if self.port is None else f"{text}:{self.port}"


#: Every Python value the codec reads or writes.
Value: TypeAlias = Union[  # noqa: UP007 - recursive alias needs the string form
    str,
    bytes,
    int,
    Timestamp,
    IPAddress,
    None,
    list["Value"],
    dict[str, "Value"],
    ET.Element,
]
