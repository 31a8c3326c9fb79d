"""Builders for the untagged responses of RFC 9051 §7 and the extensions.

Each returns a complete ``* ...\\r\\n`` line (literals inline) so the session
only concatenates.  Mailbox names go through `encode_mailbox` so the same call
serves rev1 (modified UTF-7) and rev2/UTF8=ACCEPT (UTF-8) clients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .commands import FetchAtt
from .encoder import (
    encode_astring,
    encode_flags,
    encode_list,
    encode_literal,
    encode_mailbox,
    encode_nstring,
    encode_quoted,
    encode_string,
)
from .seqset import SequenceSet
from .utf7 import encode_mutf7

__all__ = [
    "acl_response",
    "body_item",
    "capability_response",
    "enabled_response",
    "esearch_response",
    "exists_response",
    "expunge_response",
    "fetch_response",
    "flags_response",
    "id_response",
    "list_response",
    "listrights_response",
    "lsub_response",
    "myrights_response",
    "namespace_response",
    "quota_response",
    "quotaroot_response",
    "search_response",
    "sort_response",
    "status_response",
    "thread_response",
    "vanished_response",
]


def _line(body: bytes) -> bytes:
    return b"* " + body + b"\r\n"


def capability_response(capabilities: Iterable[str]) -> bytes:
    """``* CAPABILITY IMAP4rev2 ...``."""
    return _line(b"CAPABILITY " + " ".join(capabilities).encode("ascii"))


def enabled_response(capabilities: Iterable[str]) -> bytes:
    """``* ENABLED ...`` (the list may be empty)."""
    caps = " ".join(capabilities)
    return _line(b"ENABLED" + (b" " + caps.encode("ascii") if caps else b""))


def exists_response(count: int) -> bytes:
    return _line(b"%d EXISTS" % count)


def expunge_response(seq: int) -> bytes:
    return _line(b"%d EXPUNGE" % seq)


def vanished_response(uids: SequenceSet, *, earlier: bool = False) -> bytes:
    """``* VANISHED [(EARLIER)] uid-set`` (RFC 7162)."""
    return _line(b"VANISHED " + (b"(EARLIER) " if earlier else b"") + str(uids).encode())


def flags_response(flags: Iterable[str]) -> bytes:
    return _line(b"FLAGS " + encode_flags(flags))


def fetch_response(seq: int, items: Sequence[tuple[bytes, bytes]]) -> bytes:
    """``* seq FETCH (name value ...)`` from already-encoded ``(name, value)`` pairs."""
    return _line(b"%d FETCH (" % seq + b" ".join(n + b" " + v for n, v in items) + b")")


def body_item(att: FetchAtt, data: bytes | None, *, binary: bool = False) -> tuple[bytes, bytes]:
    """A ``BODY[...]``/``BINARY[...]`` fetch item; ``binary`` sends ``~{n}`` (literal8)."""
    if data is None:
        return att.response_name(), b"NIL"
    if binary and (b"\x00" in data):
        return att.response_name(), encode_literal(data, binary=True)
    return att.response_name(), encode_literal(data)


def search_response(numbers: Iterable[int], modseq: int | None = None) -> bytes:
    """Classic ``* SEARCH 2 3 6`` (with ``(MODSEQ n)`` under CONDSTORE)."""
    out = b"SEARCH" + b"".join(b" %d" % n for n in numbers)
    if modseq is not None:
        out += b" (MODSEQ %d)" % modseq
    return _line(out)


def esearch_response(
    tag: str | None,
    *,
    uid: bool = False,
    min: int | None = None,  # noqa: A002 - the RFC's names
    max: int | None = None,  # noqa: A002
    all: SequenceSet | None = None,  # noqa: A002
    count: int | None = None,
    modseq: int | None = None,
) -> bytes:
    """``* ESEARCH (TAG "a") UID MIN 1 MAX 9 COUNT 4 ALL 1:3,9`` (RFC 4731)."""
    out = b"ESEARCH"
    if tag is not None:
        out += b" (TAG " + encode_quoted(tag) + b")"
    if uid:
        out += b" UID"
    if min is not None:
        out += b" MIN %d" % min
    if max is not None:
        out += b" MAX %d" % max
    if all is not None and all.ranges:
        out += b" ALL " + str(all).encode()
    if count is not None:
        out += b" COUNT %d" % count
    if modseq is not None:
        out += b" MODSEQ %d" % modseq
    return _line(out)


def sort_response(numbers: Iterable[int], modseq: int | None = None) -> bytes:
    out = b"SORT" + b"".join(b" %d" % n for n in numbers)
    if modseq is not None:
        out += b" (MODSEQ %d)" % modseq
    return _line(out)


def thread_response(thread_list: bytes) -> bytes:
    """``* THREAD`` + the output of `unigate_imap.query.format_threads`."""
    return _line(b"THREAD" + (b" " + thread_list if thread_list else b""))


def _delimiter(delimiter: str | None) -> bytes:
    return b"NIL" if delimiter is None else encode_quoted(delimiter)


def list_response(
    attributes: Iterable[str],
    delimiter: str | None,
    name: str,
    *,
    utf8: bool,
    extended: Sequence[tuple[str, bytes]] = (),
    verb: str = "LIST",
) -> bytes:
    """``* LIST (\\HasNoChildren) "/" name`` plus RFC 5258 extended items.

    ``extended`` holds ``(tag, encoded value)``, e.g. ``("CHILDINFO", b'("SUBSCRIBED")')``
    or ``("OLDNAME", b'("old")')``.
    """
    out = (
        verb.encode()
        + b" "
        + encode_flags(attributes)
        + b" "
        + _delimiter(delimiter)
        + b" "
        + encode_mailbox(name, utf8=utf8)
    )
    if extended:
        out += b" " + encode_list(encode_quoted(t) + b" " + v for t, v in extended)
    return _line(out)


def lsub_response(
    attributes: Iterable[str], delimiter: str | None, name: str, *, utf8: bool
) -> bytes:
    return list_response(attributes, delimiter, name, utf8=utf8, verb="LSUB")


def status_response(name: str, items: Sequence[tuple[str, int | bytes]], *, utf8: bool) -> bytes:
    """``* STATUS name (MESSAGES 3 UIDNEXT 9)``; a bytes value is sent as encoded."""
    body = b" ".join(
        k.encode("ascii") + b" " + (v if isinstance(v, bytes) else b"%d" % v) for k, v in items
    )
    return _line(b"STATUS " + encode_mailbox(name, utf8=utf8) + b" (" + body + b")")


def _ns(entries: Sequence[tuple[str, str | None]] | None, utf8: bool) -> bytes:
    if not entries:
        return b"NIL"
    return encode_list(
        b"(" + encode_string(prefix if utf8 else encode_mutf7(prefix)) + b" " + _delimiter(d) + b")"
        for prefix, d in entries
    )


def namespace_response(
    personal: Sequence[tuple[str, str | None]] | None,
    other: Sequence[tuple[str, str | None]] | None,
    shared: Sequence[tuple[str, str | None]] | None,
    *,
    utf8: bool,
) -> bytes:
    """``* NAMESPACE (("" "/")) (("~" "/")) (("~public/" "/"))``."""
    return _line(
        b"NAMESPACE " + _ns(personal, utf8) + b" " + _ns(other, utf8) + b" " + _ns(shared, utf8)
    )


def id_response(params: Sequence[tuple[str, str | None]] | None) -> bytes:
    if params is None:
        return _line(b"ID NIL")
    return _line(
        b"ID " + encode_list(encode_string(k) + b" " + encode_nstring(v) for k, v in params)
    )


def acl_response(mailbox: str, entries: Sequence[tuple[str, str]], *, utf8: bool) -> bytes:
    """``* ACL mailbox ident rights ...`` (RFC 4314)."""
    body = b"".join(b" " + encode_astring(i) + b" " + encode_astring(r) for i, r in entries)
    return _line(b"ACL " + encode_mailbox(mailbox, utf8=utf8) + body)


def listrights_response(
    mailbox: str, identifier: str, required: str, optional: Sequence[str], *, utf8: bool
) -> bytes:
    body = b"".join(b" " + encode_astring(x) for x in optional)
    return _line(
        b"LISTRIGHTS "
        + encode_mailbox(mailbox, utf8=utf8)
        + b" "
        + encode_astring(identifier)
        + b" "
        + encode_astring(required)
        + body
    )


def myrights_response(mailbox: str, rights: str, *, utf8: bool) -> bytes:
    return _line(b"MYRIGHTS " + encode_mailbox(mailbox, utf8=utf8) + b" " + encode_astring(rights))


def quota_response(root: str, resources: Sequence[tuple[str, int, int]]) -> bytes:
    """``* QUOTA root (STORAGE used limit ...)`` (RFC 9208; STORAGE in KiB)."""
    body = b" ".join(r.encode("ascii") + b" %d %d" % (u, lim) for r, u, lim in resources)
    return _line(b"QUOTA " + encode_astring(root) + b" (" + body + b")")


def quotaroot_response(mailbox: str, roots: Sequence[str], *, utf8: bool) -> bytes:
    body = b"".join(b" " + encode_astring(r) for r in roots)
    return _line(b"QUOTAROOT " + encode_mailbox(mailbox, utf8=utf8) + body)
