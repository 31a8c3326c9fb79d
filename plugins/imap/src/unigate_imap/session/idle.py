"""IDLE (RFC 2177): push the selected mailbox's changes until the client says DONE.

Why a task group: the session must wait on two things at once -- the client's DONE
and the manager's change signal -- and announce a change made by another session
(or a delivery) as soon as it happens, well within a second. Once NOTIFY was used, IDLE
reports exactly what NOTIFY asked for (RFC 5465 §4), through the same pump that reports
between commands.
"""

from __future__ import annotations

import functools

import anyio

from unigate.api import mailboxes as mb

from .. import protocol as p
from .core import ImapSession, register
from .state import State

__all__: list[str] = []


async def _push(s: ImapSession) -> None:
    sel = s.selected
    if sel is None:
        return
    try:
        while True:
            await sel.box.wait_changes()
            await s.announce()
            await s.flush()
    except mb.NoSuchMailbox:
        s.write(b"* OK Mailbox was deleted or renamed\r\n")
    except Exception as exc:  # noqa: BLE001 - never take the session down from here
        s.log.problem(f"IDLE notification failed: {exc}")


@register(p.Idle, "auth")
async def idle(s: ImapSession, cmd: p.Idle) -> bytes | None:
    s.write(p.continuation("idling"))
    s.proto.start_idle()
    await s.flush()
    event: p.Event | None = None
    async with anyio.create_task_group() as tg:
        if s.notify is not None:  # RFC 5465 §4: exactly the events NOTIFY asked for
            from .notify import pump

            tg.start_soon(functools.partial(pump, s, expunges=True))
        elif s.selected is not None:
            tg.start_soon(_push, s)
        event = await s.read_event(s.settings.idle_timeout)
        tg.cancel_scope.cancel()
    if isinstance(event, p.IdleDone):
        if not event.valid:
            return p.bad(cmd.tag, "Expected DONE")
        return p.ok(cmd.tag, "IDLE terminated")
    if event is None:
        s.write(b"* BYE IDLE for too long\r\n")
    s.state = State.LOGOUT
    return None
