"""ENABLE (RFC 5161), ID (RFC 2971), NAMESPACE (RFC 2342) and COMPRESS (RFC 4978).

Why together: none touches a mailbox; they describe or shape the session.
ENABLE IMAP4rev2 / UTF8=ACCEPT switches mailbox names to UTF-8 both ways.
"""

from __future__ import annotations

from .. import protocol as p
from ..protocol import responses as r
from .capabilities import ENABLEABLE
from .core import ImapSession, register

__all__: list[str] = []


@register(p.Enable, "auth")
async def enable(s: ImapSession, cmd: p.Enable) -> bytes:
    newly: list[str] = []
    for cap in cmd.capabilities:
        name = cap.upper()
        if name not in ENABLEABLE or name in s.enabled:
            continue
        s.enabled.add(name)
        newly.append({"IMAP4REV2": "IMAP4rev2"}.get(name, name))
        if name == "QRESYNC" and "CONDSTORE" not in s.enabled:
            s.enabled.add("CONDSTORE")
    s.proto.utf8 = s.utf8
    s.write(r.enabled_response(newly))
    return p.ok(cmd.tag, "ENABLE completed")


@register(p.Id, "any")
async def ident(s: ImapSession, cmd: p.Id) -> bytes:
    if cmd.params:
        shown = " ".join(f"{k}={v}" for k, v in cmd.params[:8])
        s.log.low(f"client ID: {shown[:300]}")
    version = getattr(s.server, "version", None)
    params: list[tuple[str, str | None]] = [("name", s.settings.server_name)]
    if isinstance(version, str):
        params.append(("version", version))
    s.write(r.id_response(params))
    return p.ok(cmd.tag, "ID completed")


@register(p.Namespace, "auth")
async def namespace(s: ImapSession, cmd: p.Namespace) -> bytes:
    shared = None
    objects = s.server.objects
    try:
        if objects.resolve("public"):
            shared = [("~public/", "/")]
    except Exception:  # noqa: BLE001 - no public account: no shared namespace
        shared = None
    s.write(r.namespace_response([("", "/")], [("~", "/")], shared, utf8=s.utf8))
    return p.ok(cmd.tag, "NAMESPACE completed")


@register(p.Compress, "auth")
async def compress(s: ImapSession, cmd: p.Compress) -> bytes | None:
    if cmd.mechanism.upper() != "DEFLATE":
        return p.bad(cmd.tag, "Only DEFLATE is supported")
    if s.compressed:
        return p.no(cmd.tag, "Compression is already active", "COMPRESSIONACTIVE")
    s.write(p.ok(cmd.tag, "DEFLATE active"))
    await s.flush()
    s.start_compression()
    return None
