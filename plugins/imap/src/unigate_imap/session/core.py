"""`ImapSession`: the thin anyio loop that drives the sans-I/O protocol core.

Why so thin: the grammar, literals and continuation requests live in
:class:`unigate_imap.protocol.ServerConnection`; this loop only moves bytes between
the socket and that core, dispatches each `Command` to its handler module, and writes
the untagged updates of the selected mailbox (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS)
at the moments RFC 9051 §7.5.1 allows them. One session's failure is caught here and
never reaches another session.
"""

from __future__ import annotations

import contextlib
import functools
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from unigate.api import mailboxes as mb

from .. import protocol as p
from ..protocol import responses as r
from ..settings import ImapSettings
from .cache import memory_cache
from .capabilities import capabilities
from .errors import CommandError, error_response
from .state import SYSTEM_FLAGS, Selected, State

__all__ = ["Handler", "ImapSession", "register"]

Handler = Callable[["ImapSession", Any], Awaitable[bytes | None]]

_ANY = frozenset(State) - {State.LOGOUT}
_AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
_NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
_SELECTED = frozenset({State.SELECTED})
STATES = {"any": _ANY, "auth": _AUTH, "notauth": _NOT_AUTH, "selected": _SELECTED}

#: command class -> (handler, states where it is allowed)
DISPATCH: dict[type[p.Command], tuple[Handler, frozenset[State]]] = {}


def register(cls: type[p.Command], states: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``fn`` the handler of ``cls`` in the named states."""

    def deco(fn: Handler) -> Handler:
        DISPATCH[cls] = (fn, STATES[states])
        return fn

    return deco


def _quiet(cmd: p.Command) -> bool:
    """Commands during which EXPUNGE must not be sent (non-UID FETCH/STORE/SEARCH...)."""
    return isinstance(cmd, p.Fetch | p.Store | p.Search | p.Sort | p.Thread) and not cmd.uid


class ImapSession:
    """One IMAP connection, from greeting to LOGOUT."""

    def __init__(self, connection: Any) -> None:
        self.conn = connection
        self.server = connection.server
        self.settings: ImapSettings = self.server.settings.section("imap")
        s = self.settings
        self.proto = p.ServerConnection(
            p.Limits(
                max_line_length=s.max_line_length,
                max_literal_size=s.max_literal_size,
                max_command_size=max(s.max_command_size, s.max_literal_size + s.max_line_length),
            )
        )
        self.state = State.NOT_AUTHENTICATED
        self.account: str | None = None
        self.selected: Selected | None = None
        self.enabled: set[str] = set()
        self.mailboxes: Any = self.server.service("mailboxes")
        self.memory = memory_cache(self.server, s.memory_cache_mb * 1024 * 1024)
        self._out: list[bytes] = []
        self._out_size = 0
        self._send_lock = anyio.Lock(fast_acquire=True)  # no checkpoint per flush when free
        self._bad_run = 0
        self.log = connection.log
        self._deflate: Any = None  # COMPRESS=DEFLATE (RFC 4978) streams, once active
        self._inflate: Any = None
        #: the registered NOTIFY (`notify.NotifyState`); None until the first NOTIFY
        self.notify: Any = None

    # -- properties ----------------------------------------------------------------------
    @property
    def utf8(self) -> bool:
        return "IMAP4REV2" in self.enabled or "UTF8=ACCEPT" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.enabled or "QRESYNC" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    @property
    def peer_ip(self) -> str:
        return str(self.conn.peer.ip)

    @property
    def local_ip(self) -> str:
        return str(self.conn.peer.local_ip)

    @property
    def starttls_available(self) -> bool:
        mode = getattr(self.conn, "tls_mode", None)
        external = mode is not None and getattr(mode, "value", "") == "external"
        return (
            not self.conn.tls_active
            and not external
            and getattr(self.server, "tls_context", None) is not None
        )

    @property
    def cleartext_allowed(self) -> bool:
        return bool(
            self.server.auth.cleartext_allowed(
                secure=self.conn.secure, address_class=self.conn.peer.address_class
            )
        )

    def mechanisms(self) -> list[str]:
        return list(
            self.server.auth.mechanisms(
                secure=self.conn.secure, address_class=self.conn.peer.address_class
            )
        )

    def capabilities(self) -> list[str]:
        return capabilities(self)

    # -- output --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue bytes for the client; they are joined once, at `flush` (no copy here)."""
        self._out.append(data)
        self._out_size += len(data)

    async def flush(self) -> None:
        async with self._send_lock:
            if not self._out:
                return
            data = b"".join(self._out)
            self._out.clear()
            self._out_size = 0
            self.log.data("out", data)
            if self._deflate is not None:
                data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            await self.conn.send(data)

    @property
    def flush_due(self) -> bool:
        """True when at least ``output_chunk`` bytes wait to be sent (see `maybe_flush`)."""
        return self._out_size >= self.settings.output_chunk

    async def maybe_flush(self) -> None:
        if self._out_size >= self.settings.output_chunk:
            await self.flush()

    # -- input ---------------------------------------------------------------------------
    def timeout(self) -> float:
        if self.state is State.NOT_AUTHENTICATED:
            return self.settings.autologout_unauthenticated
        return self.settings.autologout

    async def read_event(self, timeout: float) -> p.Event | None:
        """The next protocol event; None after ``timeout`` seconds without any input."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.proto.next_event()
            if event is not p.NEED_DATA:
                return event  # type: ignore[return-value]
            await self.flush()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with anyio.move_on_after(remaining):
                data = await self.conn.receive(65536)
                if data and self._inflate is not None:
                    data = self._inflate_input(data)
                    if data is None:
                        return p.ConnectionClosed()
                    if not data:
                        continue
                if data:
                    self.log.data("inp", data)
                    deadline = time.monotonic() + timeout  # silence, not slowness, times out
                self.proto.receive_data(data)
                continue
            return None

    def _inflate_input(self, data: bytes) -> bytes | None:
        """Decompress client bytes; None when the stream is corrupt (the session ends)."""
        try:
            return bytes(self._inflate.decompress(data))
        except zlib.error:
            self.log.problem("corrupt COMPRESS=DEFLATE stream")
            return None

    def start_compression(self) -> None:
        """Turn on DEFLATE both ways (after the tagged OK was flushed)."""
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        pending, _ = self.proto.trailing_data
        if pending:  # bytes the client sent after its OK: already compressed
            self.proto.discard_buffered()
            plain = self._inflate_input(pending)
            if plain:
                self.proto.receive_data(plain)

    @property
    def compressed(self) -> bool:
        return self._deflate is not None

    # -- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if self.mailboxes is None:
                self.write(b"* BYE no mailbox storage is configured\r\n")
                return
            caps = " ".join(self.capabilities())
            self.write(f"* OK [CAPABILITY {caps}] Unigate IMAP4rev2 server ready\r\n".encode())
            while self.state is not State.LOGOUT:
                event = await self.next_event()
                if event is None:
                    self.write(b"* BYE Autologout; idle for too long\r\n")
                    break
                if isinstance(event, p.ConnectionClosed):
                    if self.conn.closing:
                        self.write(b"* BYE Server shutting down\r\n")
                    break
                if isinstance(event, p.ContinuationRequest):
                    self.write(event.data)
                    continue
                if isinstance(event, p.ParseError):
                    self.write(event.response)
                    self._bad_run += 1
                    if event.fatal or self._bad_run >= self.settings.max_bad_commands:
                        self.write(b"* BYE Too many invalid commands\r\n")
                        break
                    continue
                if isinstance(event, p.Command):
                    await self.execute(event)
                    await self.maybe_flush()
        finally:
            if self.notify is not None:
                self.notify.close()
            with anyio.CancelScope(shield=True):
                await self.unselect()
                with contextlib.suppress(Exception):  # the peer is gone
                    await self.flush()

    async def next_event(self) -> p.Event | None:
        """`read_event` between commands; with NOTIFY on, reporting events meanwhile."""
        notify = self.notify
        if (
            notify is None
            or not notify.active
            or self.state not in _AUTH
            or not self.proto.between_commands
        ):
            return await self.read_event(self.timeout())
        from .notify import pump

        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(pump, self, expunges=False))
            event = await self.read_event(self.timeout())
            tg.cancel_scope.cancel()
        return event

    async def execute(self, cmd: p.Command) -> None:
        spec = DISPATCH.get(type(cmd))
        tag = cmd.tag
        if spec is None:
            self.write(p.bad(tag, f"{cmd.name} is not supported"))
            self._bad_run += 1
            return
        handler, states = spec
        if self.state not in states:
            self.write(p.bad(tag, f"{cmd.name} is not allowed in the {self.state.value} state"))
            self._bad_run += 1
            return
        try:
            reply = await handler(self, cmd)
        except CommandError as exc:
            reply = p.tagged(tag, exc.status, exc.text, exc.code)
        except mb.MailboxError as exc:
            reply = error_response(
                tag, exc, trycreate=isinstance(cmd, p.Append | p.Copy | p.Move | p.Replace)
            )
        except Exception as exc:  # noqa: BLE001 - one command's bug must not end the session
            self.log.problem(f"IMAP {cmd.name} failed: {type(exc).__name__}: {exc}")
            reply = p.no(tag, "Internal server error", "SERVERBUG")
        if reply is None:
            return
        self._bad_run = self._bad_run + 1 if reply.startswith(f"{tag} BAD".encode()) else 0
        if self.selected is not None and not _quiet(cmd):
            await self.announce()
        self.write(reply)

    # -- the selected mailbox ---------------------------------------------------------
    async def unselect(self) -> None:
        sel, self.selected = self.selected, None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED
        if sel is not None:
            try:
                await sel.box.close()
            except Exception as exc:  # noqa: BLE001
                self.log.problem(f"closing mailbox failed: {exc}")

    def flags_lines(self, sel: Selected) -> bytes:
        """``* FLAGS`` and ``* OK [PERMANENTFLAGS]`` for the selected mailbox."""
        flags = [*SYSTEM_FLAGS, *sorted(sel.keywords)]
        out = r.flags_response(flags)
        if sel.readonly:
            perm: list[str] = []
        else:
            perm = [*flags, "\\*"]
        return out + b"* OK [PERMANENTFLAGS " + p.encode_flags(perm) + b"] Flags permitted\r\n"

    def note_keywords(self, sel: Selected, flags: Any) -> bool:
        """Record keywords of ``flags``; True when one is new (FLAGS must be re-sent)."""
        new = False
        for f in flags:
            if not f.startswith("\\") and f not in sel.keywords:
                sel.keywords.add(f)
                new = True
        return new

    def flag_items(self, rec: Any, *, uid: bool = True) -> list[tuple[bytes, bytes]]:
        """FETCH items of an unsolicited or STORE flag update."""
        items = [(b"FLAGS", p.encode_flags(self.visible_flags(rec.flags)))]
        if uid:
            items.append((b"UID", b"%d" % rec.uid))
        if self.condstore:
            items.append((b"MODSEQ", b"(%d)" % rec.modseq))
        return items

    def visible_flags(self, flags: Any) -> list[str]:
        """Flags as shown to the client (``\\Recent`` is never stored; rev2 drops it)."""
        return sorted(f for f in flags if f != "\\Recent")

    async def announce(self, *, between_commands: bool = False, force: bool = False) -> None:
        """Write the changes other sessions made to the selected mailbox.

        Once NOTIFY was used, only the events of its SELECTED / SELECTED-DELAYED group
        are written (none without one), with the MessageNew fetch attributes; with
        SELECTED-DELAYED, expunges wait while ``between_commands``. ``force``: every
        change, whatever NOTIFY says (the implicit NOOP of NOTIFY SET).
        """
        sel = self.selected
        if sel is None:
            return
        spec = None if force or self.notify is None else self.notify.selected
        if spec is None and self.notify is not None and not force:
            return  # the client asked for no message events: its view stays as it is
        box = sel.box
        events = box.refresh(defer_removals=between_commands and spec is not None and spec.delayed)
        if not events:
            return
        changed: dict[int, Any] = {}
        keywords = False
        new: list[Any] = []
        for ev in events:
            if isinstance(ev, mb.Appended):
                sel.exists += len(ev.records)
                self.write(r.exists_response(sel.exists))
                own = sel.own_new
                for rec in ev.records:
                    keywords |= self.note_keywords(sel, rec.flags)
                    if rec.uid in own:
                        own.discard(rec.uid)  # the client has it: no MessageNew FETCH
                    else:
                        new.append(rec)
            elif isinstance(ev, mb.Expunged):
                if self.qresync:
                    self.write(r.vanished_response(p.SequenceSet.from_numbers(ev.uids)))
                else:
                    for seq in ev.seqs:
                        self.write(r.expunge_response(seq))
                sel.exists -= len(ev.uids)
                for uid in ev.uids:
                    changed.pop(uid, None)
            elif isinstance(ev, mb.FlagsChanged):
                for rec in ev.records:
                    changed[rec.uid] = rec
                    keywords |= self.note_keywords(sel, rec.flags)
        if sel.exists != len(box):  # never leave the client with a wrong count
            sel.exists = len(box)
            self.write(r.exists_response(sel.exists))
        if keywords:
            self.write(self.flags_lines(sel))
        if spec is None or spec.flags:
            for uid in sorted(changed):
                seq = box.seq_of(uid)
                rec = box.record(uid)
                if seq is not None and rec is not None:
                    self.write(r.fetch_response(seq, self.flag_items(rec)))
        if spec is not None and spec.fetch_attributes and new:
            from .fetch import write_records

            seqs, recs = [], []
            for rec in new:
                seq = box.seq_of(rec.uid)
                current = box.record(rec.uid)
                if seq is not None and current is not None:
                    seqs.append(seq)
                    recs.append(current)
            await write_records(self, box, seqs, recs, spec.fetch_attributes)


async def handle_connection(connection: Any) -> None:
    """The listener handler of ``imap`` and ``imaps`` (the plugin registers the handlers)."""
    session = ImapSession(connection)
    await session.run()
