"""Parse a message once into a compact tree of byte offsets (`Part`), serialisable.

Each `Part` records where its header and body lie in the raw message, the
Content-* data BODYSTRUCTURE needs (as received), and its children (multipart)
or the encapsulated message (message/rfc822 and message/global).  Section
fetches then slice the raw bytes; `MessageStructure.dumps`/`loads` let a caller
cache the tree next to the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .headers import find_body_start, first_value, header_map, parse_content_header

__all__ = ["Part", "MessageStructure", "Message", "parse_structure", "MAX_DEPTH"]

MAX_DEPTH = 64  # deeper nesting is treated as an opaque leaf
_FORMAT = 1


@dataclass(slots=True)
class Part:
    """One MIME entity: ``raw[start:body_start]`` is its header, ``raw[body_start:end]`` its body."""

    start: int
    body_start: int
    end: int
    type: str = "TEXT"
    subtype: str = "PLAIN"
    params: list[tuple[str, str]] = field(default_factory=list)
    id: str | None = None
    description: str | None = None
    encoding: str | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: list[tuple[str, str]] = field(default_factory=list)
    language: list[str] | None = None
    location: str | None = None
    lines: int = 0
    children: list[Part] = field(default_factory=list)
    message: Part | None = None  # the encapsulated message's root
    defaulted: bool = False  # no usable Content-Type: the RFC 2045/2046 default applies

    @property
    def size(self) -> int:
        return self.end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return self.type.upper() == "MULTIPART"

    def to_list(self) -> list[Any]:
        return [
            self.start,
            self.body_start,
            self.end,
            self.type,
            self.subtype,
            [list(p) for p in self.params],
            self.id,
            self.description,
            self.encoding,
            self.md5,
            self.disposition,
            [list(p) for p in self.disposition_params],
            self.language,
            self.location,
            self.lines,
            [c.to_list() for c in self.children],
            self.message.to_list() if self.message else None,
            self.defaulted,
        ]

    @classmethod
    def from_list(cls, v: list[Any]) -> Part:
        return cls(
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            [(a, b) for a, b in v[5]],
            v[6],
            v[7],
            v[8],
            v[9],
            v[10],
            [(a, b) for a, b in v[11]],
            v[12],
            v[13],
            v[14],
            [cls.from_list(c) for c in v[15]],
            cls.from_list(v[16]) if v[16] else None,
            v[17],
        )


@dataclass(slots=True)
class MessageStructure:
    """The parsed tree of one message plus its total size (to detect a mismatched cache)."""

    root: Part
    size: int

    def dumps(self) -> bytes:
        """Compact JSON bytes for an on-disk cache."""
        return json.dumps([_FORMAT, self.size, self.root.to_list()], separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> MessageStructure:
        fmt, size, root = json.loads(data)
        if fmt != _FORMAT:
            raise ValueError(f"unknown structure format {fmt}")
        return cls(Part.from_list(root), size)


class Message:
    """Raw message bytes with their structure, parsed on first use (or given from a cache)."""

    __slots__ = ("raw", "_structure")

    def __init__(self, raw: bytes, structure: MessageStructure | None = None) -> None:
        self.raw = raw
        if structure is not None and structure.size != len(raw):
            structure = None  # stale cache
        self._structure = structure

    @property
    def structure(self) -> MessageStructure:
        if self._structure is None:
            self._structure = parse_structure(self.raw)
        return self._structure

    @property
    def root(self) -> Part:
        return self.structure.root


def _s(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "surrogateescape")


def _count_lines(raw: bytes, start: int, end: int) -> int:
    """Text lines of the body: line ends, plus a final line without one."""
    lines = raw.count(b"\n", start, end)
    if end > start and raw[end - 1] != 0x0A:
        lines += 1
    return lines


def parse_structure(raw: bytes) -> MessageStructure:
    """Parse the whole message (never raises on malformed MIME: it degrades to leaves)."""
    return MessageStructure(_parse(raw, 0, len(raw), digest=False, depth=0), len(raw))


def _parse(raw: bytes, start: int, end: int, *, digest: bool, depth: int) -> Part:
    body_start = find_body_start(raw, start, end)
    fields = header_map(raw[start:body_start])

    def get_header(_: object, name: bytes) -> bytes | None:
        return first_value(fields, name)

    header = None
    kind, sub, params = parse_content_header(get_header(header, b"content-type"))
    part = Part(start, body_start, end)
    if kind and sub:
        part.type, part.subtype = _s(kind) or "", _s(sub) or ""
        part.params = [(_s(a) or "", _s(b) or "") for a, b in params]
    elif digest:
        part.type, part.subtype, part.defaulted = "MESSAGE", "RFC822", True
    else:
        part.params = [("CHARSET", "US-ASCII")]
        part.defaulted = True
    part.id = _s(get_header(header, b"content-id"))
    part.description = _s(get_header(header, b"content-description"))
    enc = get_header(header, b"content-transfer-encoding")
    part.encoding = _s(enc.split(b"(")[0].strip()) if enc else None
    part.md5 = _s(get_header(header, b"content-md5"))
    disp = get_header(header, b"content-disposition")
    if disp is not None:
        dkind, _, dparams = parse_content_header(disp, has_subtype=False)
        if dkind:
            part.disposition = _s(dkind)
            part.disposition_params = [(_s(a) or "", _s(b) or "") for a, b in dparams]
    lang = get_header(header, b"content-language")
    if lang:
        part.language = [
            x.strip().decode("ascii", "replace") for x in lang.split(b",") if x.strip()
        ]
    part.location = _s(get_header(header, b"content-location"))
    upper = part.type.upper()
    if depth >= MAX_DEPTH:
        pass
    elif upper == "MULTIPART":
        boundary = next((v for k, v in part.params if k.lower() == "boundary"), None)
        if boundary:
            for s, e in _split_multipart(
                raw, body_start, end, boundary.encode("utf-8", "surrogateescape")
            ):
                part.children.append(
                    _parse(raw, s, e, digest=part.subtype.upper() == "DIGEST", depth=depth + 1)
                )
    elif (
        upper == "MESSAGE"
        and part.subtype.upper() in ("RFC822", "GLOBAL")
        and ((part.encoding or "7BIT").upper() in ("7BIT", "8BIT", "BINARY"))
    ):
        part.message = _parse(raw, body_start, end, digest=False, depth=depth + 1)
    if upper in ("TEXT", "MESSAGE"):
        part.lines = _count_lines(raw, body_start, end)
    return part


def _split_multipart(raw: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """Body ranges of the parts between ``--boundary`` delimiter lines (RFC 2046 §5.1.1)."""
    marker = b"--" + boundary
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    pos = start
    while True:
        hit = raw.find(marker, pos, end)
        if hit < 0:
            break
        at_line_start = hit == start or raw[hit - 1] == 0x0A
        after = hit + len(marker)
        if not at_line_start:
            pos = after
            continue
        closing = raw.startswith(b"--", after) and after + 2 <= end
        rest_end = raw.find(b"\n", after, end)
        line_end = end if rest_end < 0 else rest_end + 1
        tail = raw[after + (2 if closing else 0) : line_end].strip(b" \t\r\n")
        if tail:  # "--boundaryX": a longer boundary, not ours
            pos = after
            continue
        if part_start is not None:
            body_end = hit
            if body_end > part_start and raw[body_end - 1] == 0x0A:
                body_end -= 1
                if body_end > part_start and raw[body_end - 1] == 0x0D:
                    body_end -= 1
            spans.append((part_start, max(part_start, body_end)))
        if closing:
            return spans
        part_start = line_end
        pos = line_end
    if part_start is not None:
        spans.append((part_start, end))
    return spans
