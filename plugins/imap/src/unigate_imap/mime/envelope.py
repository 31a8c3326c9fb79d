"""ENVELOPE (RFC 9051 §7.5.2) from a raw header block, values kept as received.

Address lists are tokenised by hand (RFC 5322 §3.4) so that groups, source
routes, quoted local parts and encoded-words in display names survive
unchanged; only comments and folding are removed.
"""

from __future__ import annotations

from ..protocol.encoder import encode_nstring
from .headers import first_value, header_map
from .structure import Message, Part

__all__ = ["envelope", "envelope_of", "parse_addresses", "Address"]

# (name, adl, mailbox, host); group start = (None, None, group, None), end = all None
Address = tuple[bytes | None, bytes | None, bytes | None, bytes | None]

_SPECIALS = b'()<>[]:;@\\,."'


def _tokens(value: bytes) -> list[tuple[str, bytes]]:
    """Tokens ``(kind, text)``: kind is 'atom', 'quoted', 'literal' (domain [..]) or a special."""
    out: list[tuple[str, bytes]] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch in b" \t\r\n":
            i += 1
        elif ch == 0x28:  # comment
            depth = 0
            while i < n:
                if value[i] == 0x5C:
                    i += 2
                    continue
                if value[i] == 0x28:
                    depth += 1
                elif value[i] == 0x29:
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
        elif ch == 0x22:
            buf = bytearray()
            i += 1
            while i < n and value[i] != 0x22:
                if value[i] == 0x5C and i + 1 < n:
                    i += 1
                if value[i] not in b"\r\n":
                    buf.append(value[i])
                i += 1
            i += 1
            out.append(("quoted", bytes(buf)))
        elif ch == 0x5B:
            end = value.find(b"]", i)
            end = n if end < 0 else end + 1
            out.append(("literal", value[i:end]))
            i = end
        elif ch in _SPECIALS:
            out.append((chr(ch), bytes([ch])))
            i += 1
        else:
            start = i
            while i < n and value[i] not in _SPECIALS and value[i] not in b" \t\r\n":
                i += 1
            out.append(("atom", value[start:i]))
    return out


def _requote(kind: str, text: bytes) -> bytes:
    if kind == "quoted":
        return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return text


class _AddrParser:
    def __init__(self, tokens: list[tuple[str, bytes]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i][0] if self.i < len(self.t) else None

    def addr_spec(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """Parse ``[route:]local@domain`` up to ``>``/``,``/``;``; returns (adl, mailbox, host)."""
        adl = None
        if self.peek() == "@":  # obsolete source route
            start = self.i
            while self.peek() not in (None, ":", ">"):
                self.i += 1
            adl = b"".join(t for _, t in self.t[start : self.i])
            if self.peek() == ":":
                self.i += 1
        local = bytearray()
        while self.peek() in ("atom", "quoted", "."):
            kind, text = self.t[self.i]
            local += _requote(kind, text)
            self.i += 1
        host = None
        if self.peek() == "@":
            self.i += 1
            dom = bytearray()
            while self.peek() in ("atom", "literal", "."):
                dom += self.t[self.i][1]
                self.i += 1
            host = bytes(dom)
        return adl, bytes(local) if local else None, host

    def phrase(self) -> list[tuple[str, bytes]]:
        words = []
        while self.peek() in ("atom", "quoted", "."):
            words.append(self.t[self.i])
            self.i += 1
        return words

    def mailbox_or_group(self, out: list[Address], in_group: bool) -> None:
        start = self.i
        words = self.phrase()
        nxt = self.peek()
        if nxt == "<":
            self.i += 1
            adl, local, host = self.addr_spec()
            while self.peek() not in (None, ">", ",", ";"):
                self.i += 1
            if self.peek() == ">":
                self.i += 1
            name = _join_phrase(words)
            if local is not None or name is not None:
                out.append((name, adl, local, host if host is not None else b""))
        elif nxt == ":" and not in_group:
            self.i += 1
            out.append((None, None, _join_phrase(words) or b"", None))
            while self.peek() not in (None, ";"):
                if self.peek() == ",":
                    self.i += 1
                    continue
                before = self.i
                self.mailbox_or_group(out, True)
                if self.i == before:
                    self.i += 1
            if self.peek() == ";":
                self.i += 1
            out.append((None, None, None, None))
        else:
            self.i = start
            adl, local, host = self.addr_spec()
            if local is not None:
                out.append((None, adl, local, host if host is not None else b""))
            while self.peek() not in (None, ",", ";") and not (in_group and self.peek() == ";"):
                self.i += 1  # junk after an address

    def parse(self) -> list[Address]:
        out: list[Address] = []
        while self.peek() is not None:
            if self.peek() in (",", ";"):
                self.i += 1
                continue
            before = self.i
            self.mailbox_or_group(out, False)
            if self.i == before:
                self.i += 1
        return out


def _join_phrase(words: list[tuple[str, bytes]]) -> bytes | None:
    if not words:
        return None
    out = bytearray()
    for idx, (kind, text) in enumerate(words):
        if idx and kind != "." and words[idx - 1][0] != ".":
            out += b" "
        out += text
    return bytes(out)


def parse_addresses(value: bytes) -> list[Address]:
    """Parse an address-list header value into IMAP address tuples (groups flattened)."""
    return _AddrParser(_tokens(value)).parse()


def _ns(value: bytes | None) -> bytes:
    return encode_nstring(value, utf8=False)


def _addr_list(value: bytes | None) -> bytes:
    if value is None:
        return b"NIL"
    addrs = parse_addresses(value)
    if not addrs:
        return b"NIL"
    return b"(" + b"".join(b"(" + b" ".join(_ns(x) for x in a) + b")" for a in addrs) + b")"


def envelope_of(header: bytes) -> bytes:
    """ENVELOPE of one header block (the top-level message or an encapsulated one)."""

    fields = header_map(header)

    def h(name: bytes) -> bytes | None:
        return first_value(fields, name)

    from_ = h(b"from")
    sender = h(b"sender")
    reply_to = h(b"reply-to")
    from_list = _addr_list(from_)
    fields = [
        _ns(h(b"date")),
        _ns(h(b"subject")),
        from_list,
        _addr_list(sender) if sender and parse_addresses(sender) else from_list,
        _addr_list(reply_to) if reply_to and parse_addresses(reply_to) else from_list,
        _addr_list(h(b"to")),
        _addr_list(h(b"cc")),
        _addr_list(h(b"bcc")),
        _ns(h(b"in-reply-to")),
        _ns(h(b"message-id")),
    ]
    return b"(" + b" ".join(fields) + b")"


def envelope(msg: Message | bytes, part: Part | None = None) -> bytes:
    """ENVELOPE of the message (or of the message whose root is ``part``)."""
    if isinstance(msg, bytes):
        msg = Message(msg)
    root = part or msg.root
    return envelope_of(msg.raw[root.start : root.body_start])
