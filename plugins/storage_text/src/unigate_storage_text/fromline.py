"""The From-line of the text format and the ``>From`` escaping rule (format version 1).

Every message of a ``.mbox`` file is preceded by a From-line (manual L11181)::

    From <return-path>(FLAGS-UID-ORIGUID) Www Mmm dd hh:mm:ss yyyy<padding>

``FLAGS`` (our design, documented in the README) is::

    SLOTS [ "+" stored-length [ ":" escapes ] ] [ "#" modseq ] *( "*" keyword )

``SLOTS`` is a fixed-width run of 12 letters, one position per flag, ``_`` when clear.
A reader accepts the letters in any order and ignores ``_``, so hand-written lines
such as ``(SA-12-)`` work. A ``FLAGS`` beginning with ``=`` marks an invisible
service message (``=mailbox`` holds the mailbox header). The time stamp is
``time.asctime`` of the internal date in UTC, which legacy mbox readers understand.
The line is padded with spaces so a flag change can be rewritten in place.

Escaping (mboxrd-style, a superset of the manual's L11188 rule): a line matching
``>*From`` that follows an empty line (``\\n`` or ``\\r\\n``; the first line of the
message counts as following the From-line, not an empty line) gets one more ``>``
on store; on read one ``>`` is removed from exactly those lines, so ``read``
returns the appended bytes.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from dataclasses import dataclass

#: flag name -> letter, in slot order (the order is part of the format)
FLAG_LETTERS: tuple[tuple[str, str], ...] = (
    ("\\Seen", "S"),
    ("\\Answered", "A"),
    ("\\Flagged", "F"),
    ("\\Draft", "D"),
    ("\\Deleted", "X"),
    ("$Forwarded", "R"),
    ("$MDNSent", "M"),
    ("$Hidden", "H"),
    ("$Service", "V"),
    ("$Media", "E"),
    ("Junk", "J"),
)
#: the twelfth slot: the message had no final line end, the store added one
NO_EOL_LETTER = "n"
SLOT_COUNT = len(FLAG_LETTERS) + 1
_LETTER_TO_FLAG = {letter: name for name, letter in FLAG_LETTERS}
_FLAG_TO_LETTER = {name.lower(): letter for name, letter in FLAG_LETTERS}

# an empty line inside the message (preceded by a line end) then >*From; the first
# line of the message being empty is the one case with no preceding "\n"
_UNESCAPE_INNER = re.compile(rb"\n(\r?\n)>(>*From)")
_UNESCAPE_FIRST = re.compile(rb"(\r?\n)>(>*From)")
_COMMENTED = re.compile(rb"From ([^\s(]*)\(([^()\s]*)-(\d+)-(\d*)\)[ \t]*(.*?)[ \t\r]*$", re.S)
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


def escape_points(data: bytes) -> list[int]:
    """Where :func:`escape` puts a ``>``: the starts of the lines that need one.

    One ``bytes.find`` pass over the occurrences of ``From`` (a message has few)
    instead of a regular expression tried at every line end: this runs on every append.
    """
    find = data.find
    at: list[int] = []
    i = find(b"From")
    while i != -1:
        j = i
        while j and data[j - 1] == 62:  # the ">" of >*From
            j -= 1
        # the line before is empty: "\n\n" or "\n\r\n" before, or only "\n" / "\r\n"
        # at the very start (the first line of the message)
        if j and data[j - 1] == 10:
            before = data[j - 3 if j >= 3 else 0 : j - 1]
            if before[-1:] == b"\n" or before[-2:] == b"\n\r" or j == 1 or before == b"\r":
                at.append(j)
        i = find(b"From", i + 4)
    return at


def escaped_pieces(data: bytes, points: list[int]) -> list[bytes | memoryview]:
    """The stored form of ``data`` as pieces to write one after the other (views of
    ``data`` and ``>``), so a store writes it without copying the message."""
    view = memoryview(data)
    pieces: list[bytes | memoryview] = []
    prev = 0
    for j in points:
        pieces += (view[prev:j], b">")
        prev = j
    pieces.append(view[prev:])
    return pieces


def escape(data: bytes) -> tuple[bytes, int]:
    """Return the stored form of ``data`` and the number of ``>`` added."""
    points = escape_points(data)
    if not points:
        return data, 0
    return b"".join(escaped_pieces(data, points)), len(points)


def unescape(stored: bytes) -> bytes:
    """Invert :func:`escape` (one ``>`` off every escaped line)."""
    out = _UNESCAPE_INNER.sub(rb"\n\1\2", stored)
    m = _UNESCAPE_FIRST.match(out)
    if m is not None:
        out = m.group(1) + out[m.end(1) + 1 :]
    return out


def count_escapes(stored: bytes) -> int:
    """How many ``>`` :func:`escape` added to produce ``stored``."""
    n = len(_UNESCAPE_INNER.findall(stored))
    return n + 1 if _UNESCAPE_FIRST.match(stored) else n


def format_time(ts: int) -> str:
    """The From-line time stamp: asctime in UTC (``Wed Nov 25 11:14:52 2026``).

    Everything but the seconds comes from a per-minute cache: ``asctime(gmtime())``
    cost 3.4 us and a formatted time of day 2.4 us on the bench VM, paid once per
    appended message.
    """
    minute, ss = divmod(ts, 60)
    parts = _STAMP_MINUTES.get(minute)
    if parts is None:
        if len(_STAMP_MINUTES) > 4096:
            _STAMP_MINUTES.clear()
        stamp = time.asctime(time.gmtime(minute * 60))  # "Wed Nov 25 11:14:00 2026"
        parts = _STAMP_MINUTES[minute] = (stamp[:17], stamp[19:])
    return parts[0] + _SECONDS[ss] + parts[1]


_STAMP_MINUTES: dict[int, tuple[str, str]] = {}
_SECONDS = [f"{n:02d}" for n in range(60)]


_ASCTIME = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$")
_DAY_CACHE: dict[tuple[int, int, int], int] = {}


def parse_time(text: str) -> int | None:
    """Parse an asctime-like stamp (an optional zone token is ignored); None if not one."""
    m = _ASCTIME.match(text)
    if m is not None and m.group(1) in _MONTHS:  # the common case, our own stamps
        mon, day, hh, mm, ss, year = m.groups()
        key = (int(year), _MONTHS[mon], int(day))
        base = _DAY_CACHE.get(key)
        if base is None:
            if len(_DAY_CACHE) > 4096:
                _DAY_CACHE.clear()
            try:
                base = _DAY_CACHE[key] = calendar.timegm((*key, 0, 0, 0, 0, 0, 0))
            except (ValueError, OverflowError):
                return None
        return base + int(hh) * 3600 + int(mm) * 60 + int(ss)
    return _parse_time_loose(text)


def _parse_time_loose(text: str) -> int | None:
    parts = text.split()
    if len(parts) < 5:
        return None
    try:
        month = _MONTHS[parts[1][:3].title()]
        day = int(parts[2])
        hh, mm, *rest = parts[3].split(":")
        ss = int(rest[0]) if rest else 0
        year_token = next(p for p in parts[4:] if p.isdigit() and len(p) == 4)
        return calendar.timegm((int(year_token), month, day, int(hh), int(mm), ss, 0, 0, 0))
    except (KeyError, ValueError, StopIteration, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class FromLine:
    """A parsed From-line. ``uid`` is None for a legacy line without the comment."""

    return_path: str
    uid: int | None
    flags: frozenset[str]
    internal_date: int | None
    stored_length: int | None = None
    modseq: int = 0
    no_eol: bool = False
    service: str | None = None
    #: how many ``>`` escaping added (None: unknown, count them in the body)
    escapes: int | None = None


@functools.lru_cache(maxsize=1024)
def _slots_and_keywords(flags: frozenset[str], no_eol: bool) -> tuple[str, str]:
    """The slot letters and the ``*keyword`` suffix of a flag set (a mailbox has few
    distinct flag sets, and a flag change or rewrite builds thousands of lines)."""
    lowered = {f.lower() for f in flags}
    slots = [letter if name.lower() in lowered else "_" for name, letter in FLAG_LETTERS]
    slots.append(NO_EOL_LETTER if no_eol else "_")
    keywords = sorted(f for f in flags if f.lower() not in _FLAG_TO_LETTER)
    return "".join(slots), "".join("*" + kw for kw in keywords)


def build(
    *,
    return_path: str,
    uid: int,
    flags: frozenset[str],
    internal_date: int,
    stored_length: int,
    modseq: int,
    no_eol: bool,
    width: int = 0,
    service: str | None = None,
    escapes: int = 0,
) -> bytes:
    """A complete From-line (without ``\\n``), padded with spaces to ``width``.

    ``width`` 0 picks the default padding (room for modseq and keyword growth).
    """
    if service is not None:
        field = f"={service}+{stored_length}"
    else:
        slots, keywords = _slots_and_keywords(flags, no_eol)
        count = f":{escapes}" if escapes else ""
        field = f"{slots}+{stored_length}{count}#{modseq}{keywords}"
    stamp = format_time(internal_date)
    raw = f"From <{return_path}>({field}-{uid}-) {stamp}".encode("utf-8", "surrogateescape")
    if width == 0:
        width = (len(raw) + 20 + 15) // 16 * 16
    if len(raw) > width:
        raise ValueError("From-line does not fit")
    return raw.ljust(width)


def return_path(line: bytes) -> str:
    """The return path of a From-line, as :func:`parse` gives it, without the rest."""
    m = _COMMENTED.match(line) if line.startswith(b"From ") else None
    if m is None:
        fl = parse(line)
        return fl.return_path if fl is not None else ""
    rp = m.group(1).decode("utf-8", "surrogateescape")
    return rp[1:-1] if rp.startswith("<") and rp.endswith(">") else rp


def parse(line: bytes) -> FromLine | None:
    """Parse one From-line (without its ``\\n``). None if it is not a From-line at all."""
    if not line.startswith(b"From "):
        return None
    m = _COMMENTED.match(line)
    if m is None:
        rest = line[5:].decode("latin-1").strip()
        sender, _, stamp = rest.partition(" ")
        return FromLine(sender, None, frozenset(), parse_time(stamp))
    rp_raw, field_raw, uid_raw, _orig, stamp_raw = m.groups()
    rp = rp_raw.decode("utf-8", "surrogateescape")
    if rp.startswith("<") and rp.endswith(">"):
        rp = rp[1:-1]
    field = field_raw.decode("utf-8", "surrogateescape")
    date = parse_time(stamp_raw.decode("latin-1"))
    if field.startswith("="):
        name, _, length = field[1:].partition("+")
        return FromLine(
            rp, int(uid_raw), frozenset(), date, int(length) if length else None, 0, False, name
        )
    head, *keywords = field.split("*")
    modseq = 0
    length: int | None = None
    if "#" in head:
        head, _, modseq_raw = head.partition("#")
        modseq = int(modseq_raw) if modseq_raw.isdigit() else 0
    escapes: int | None = None
    if "+" in head:
        head, _, length_raw = head.partition("+")
        length_raw, colon, escapes_raw = length_raw.partition(":")
        length = int(length_raw) if length_raw.isdigit() else None
        if length is not None:
            escapes = int(escapes_raw) if colon and escapes_raw.isdigit() else 0
    names = {_LETTER_TO_FLAG[c] for c in head if c in _LETTER_TO_FLAG}
    names.update(k for k in keywords if k)
    no_eol = NO_EOL_LETTER in head
    return FromLine(rp, int(uid_raw), frozenset(names), date, length, modseq, no_eol, None, escapes)
