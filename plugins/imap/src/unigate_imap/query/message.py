"""The message abstraction SEARCH/SORT/THREAD evaluate against, and derived text.

`SearchableMessage` is what a mailbox layer provides; `MessageView` wraps one
for the duration of a query and memoises the decoded headers, the body text and
the sent date so that a complex SEARCH program decodes each message once.
"""

from __future__ import annotations

import email.utils
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ..mime.headers import decode_words, header_fields, unfold
from ..mime.section import SectionError, decode_body
from ..mime.structure import Message, Part

__all__ = ["SearchableMessage", "MessageView", "parse_date"]


@runtime_checkable
class SearchableMessage(Protocol):
    """One message as the query layer sees it.

    ``flags`` holds system flags spelled ``\\Seen`` etc. and keywords; ``internal_date``
    is timezone-aware; ``email_id``/``thread_id`` (RFC 8474) may be None.
    """

    @property
    def uid(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def flags(self) -> Collection[str]: ...
    @property
    def internal_date(self) -> datetime: ...
    @property
    def size(self) -> int: ...
    @property
    def modseq(self) -> int: ...
    @property
    def email_id(self) -> str | None: ...
    @property
    def thread_id(self) -> str | None: ...

    def raw_header(self) -> bytes:
        """The top-level header block (through the blank line)."""
        ...

    def raw_message(self) -> bytes:
        """The whole message; only called when a key needs the body."""
        ...


def parse_date(value: str | bytes | None) -> datetime | None:
    """An RFC 5322 Date value as an aware datetime, or None when unparseable."""
    if value is None:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        dt = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


class MessageView:
    """Memoising accessor over a `SearchableMessage`."""

    __slots__ = ("msg", "_headers", "_body", "_sent", "_sent_done")

    def __init__(self, msg: SearchableMessage) -> None:
        self.msg = msg
        self._headers: dict[str, list[bytes]] | None = None
        self._body: str | None = None
        self._sent: datetime | None = None
        self._sent_done = False

    def headers(self) -> dict[str, list[bytes]]:
        """Lower-cased field name -> raw unfolded values, in order."""
        if self._headers is None:
            out: dict[str, list[bytes]] = {}
            for name, value, _ in header_fields(self.msg.raw_header()):
                out.setdefault(name.decode("ascii").lower(), []).append(unfold(value))
            self._headers = out
        return self._headers

    def header(self, name: str) -> bytes | None:
        values = self.headers().get(name.lower())
        return values[0] if values else None

    def header_text(self, name: str) -> str:
        """All fields ``name`` decoded and joined (for substring search)."""
        return "\n".join(decode_words(v) for v in self.headers().get(name.lower(), []))

    def all_headers_text(self) -> str:
        return "\n".join(
            f"{name}: {decode_words(v)}" for name, values in self.headers().items() for v in values
        )

    def body_text(self) -> str:
        """Decoded text of every text/* and message/* leaf (charsets and CTEs undone)."""
        if self._body is None:
            m = Message(self.msg.raw_message())
            chunks: list[str] = []
            _collect_text(m.raw, m.root, chunks, top=True)
            self._body = "\n".join(chunks)
        return self._body

    def sent_date(self) -> datetime:
        """The Date: header, or the internal date when it is missing or broken."""
        if not self._sent_done:
            self._sent = parse_date(self.header("date"))
            self._sent_done = True
        return self._sent or self.msg.internal_date


def _charset(part: Part) -> str:
    for k, v in part.params:
        if k.lower() == "charset":
            return v
    return "us-ascii"


def _collect_text(raw: bytes, part: Part, out: list[str], *, top: bool) -> None:
    if part.children:
        for child in part.children:
            _collect_text(raw, child, out, top=False)
        return
    if part.message is not None:
        inner = part.message
        header = raw[inner.start : inner.body_start]
        out.append(decode_words(header))
        _collect_text(raw, inner, out, top=False)
        return
    if part.type.upper() not in ("TEXT", "MESSAGE") and not part.defaulted:
        return
    try:
        data = decode_body(raw[part.body_start : part.end], part.encoding)
    except SectionError:
        data = raw[part.body_start : part.end]
    try:
        out.append(data.decode(_charset(part), "replace"))
    except LookupError:
        out.append(data.decode("utf-8", "replace"))
