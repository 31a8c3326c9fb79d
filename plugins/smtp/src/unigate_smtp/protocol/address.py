"""Reverse-path and forward-path syntax (RFC 5321 §4.1.2, RFC 6531 §3.3).

`parse_path` reads ``<...>`` at a position of a command argument and returns the mailbox
as ``local@domain`` (the local part kept as sent, quotes included), dropping any source
route (``<@a,@b:user@c>``, which RFC 5321 §4.1.1.3 says to accept and ignore). UTF-8 is
accepted in both parts; the server core refuses it unless the transaction used SMTPUTF8.
"""

from __future__ import annotations

_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
MAX_LOCAL_PART = 64
MAX_DOMAIN = 255


class AddressError(ValueError):
    """The path is not valid RFC 5321 (or RFC 6531) syntax."""


def _is_atext(c: str) -> bool:
    return c in _ATEXT or ord(c) > 127


def _check_domain(domain: str) -> None:
    if domain.startswith("[") and domain.endswith("]"):
        inner = domain[1:-1]
        if not inner or any(c in "[]\\" or not 33 <= ord(c) <= 126 for c in inner):
            raise AddressError("bad address literal")
        return
    if not domain or len(domain.encode("utf-8")) > MAX_DOMAIN:
        raise AddressError("bad domain length")
    for label in domain.split("."):
        if not label or label.startswith("-") or label.endswith("-"):
            raise AddressError("bad domain label")


def parse_path(text: str, start: int = 0, *, null_ok: bool, postmaster_ok: bool) -> tuple[str, int]:
    """Parse ``<path>`` at ``text[start]``; return (mailbox, index after ``>``).

    ``<>`` yields ``""`` when `null_ok`; ``<postmaster>`` yields ``"postmaster"`` (as sent)
    when `postmaster_ok`. Raises `AddressError` on any syntax error.
    """
    n = len(text)
    if start >= n or text[start] != "<":
        raise AddressError("path must be enclosed in <>")
    i = start + 1
    if i < n and text[i] == ">":
        if null_ok:
            return "", i + 1
        raise AddressError("null path not allowed here")
    if i < n and text[i] == "@":  # obsolete source route: @a,@b:
        colon = text.find(":", i)
        if colon < 0:
            raise AddressError("bad source route")
        for hop in text[i:colon].split(","):
            if not hop.startswith("@"):
                raise AddressError("bad source route")
            _check_domain(hop[1:])
        i = colon + 1
    if i < n and text[i] == '"':
        j = i + 1
        while j < n:
            c = text[j]
            if c == "\\":
                j += 2
                continue
            if c == '"':
                break
            if ord(c) < 32 or ord(c) == 127:
                raise AddressError("control character in quoted local part")
            j += 1
        else:
            raise AddressError("unterminated quoted string")
        if j >= n:
            raise AddressError("unterminated quoted string")
        local = text[i : j + 1]
        i = j + 1
    else:
        j = i
        while j < n and (text[j] == "." or _is_atext(text[j])):
            j += 1
        local = text[i:j]
        if not local or local.startswith(".") or local.endswith(".") or ".." in local:
            raise AddressError("bad local part")
        i = j
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise AddressError("local part too long")
    if i < n and text[i] == ">" and postmaster_ok and local.lower() == "postmaster":
        return local, i + 1
    if i >= n or text[i] != "@":
        raise AddressError("missing @domain")
    i += 1
    if i < n and text[i] == "[":
        j = text.find("]", i)
        if j < 0:
            raise AddressError("unterminated address literal")
        domain = text[i : j + 1]
        i = j + 1
    else:
        j = i
        while j < n and (text[j] in _DOMAIN_CHARS or ord(text[j]) > 127):
            j += 1
        domain = text[i:j]
        i = j
    _check_domain(domain)
    if i >= n or text[i] != ">":
        raise AddressError("path must end with >")
    return f"{local}@{domain}", i + 1
