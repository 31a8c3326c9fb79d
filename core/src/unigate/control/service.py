"""The control endpoint: the CLI protocol on ``<data>/run/control.sock``.

The server opens a Unix socket in its data directory, mode 0600, and speaks the
manual's CLI line protocol on it (:mod:`unigate.control.protocol`), executing the
commands of :mod:`unigate.control.commands` against the live server: this is how
``unigate queue`` and other admin tools reach a running server, whose Queue
directory it holds locked.

Authentication: only the server's own user (and root) can connect to a 0600 socket
in the server's data directory, so a connection on it *is* the Master administrator
-- the same trust as reading the data directory -- and the session starts logged in
(``USER``/``PASS`` are refused as "already logged in"). A TCP listener (the manual's
PWD port 106) would start sessions unauthenticated and answer the protocol's
:class:`~unigate.control.protocol.Login` event with ``server.auth.login(...,
service="pwd")`` and the account's server rights; it is not built yet.

The socket file is removed when the service stops (server shutdown). A socket left
by a killed server is replaced at the next start (nothing answers on it meanwhile,
so clients fall back to the data directory).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from unigate.control.commands import MASTER, CommandError, Session, execute
from unigate.control.protocol import (
    COMMAND_FAILED,
    Command,
    ControlProtocol,
    Login,
    Quit,
    State,
)
from unigate.objects import ObjectError

if TYPE_CHECKING:
    from unigate.server import Server

__all__ = ["control_path", "serve_control"]

#: Where the socket lives, relative to the data directory.
SOCKET = Path("run") / "control.sock"
#: How long an idle control session may stay open.
IDLE_TIMEOUT = 600.0


def control_path(data_dir: Path) -> Path:
    """The control socket of the server with data directory ``data_dir``."""
    return Path(data_dir) / SOCKET


async def serve_control(
    server: Server, *, task_status: anyio.abc.TaskStatus[Path | None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Serve the control socket until cancelled (the server's shutdown); then remove it.

    Reports the socket path as ready (None if it could not be opened: the server runs
    on without it, and the failure is logged).
    """
    log = server.logs.logger("CONTROL")
    path = control_path(server.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if await _answers(path):
        log.problem(f"another server answers on {path}: no control socket for this one")
        task_status.started(None)
        return
    try:
        listener = await anyio.create_unix_listener(path, mode=0o600)
    except OSError as exc:
        log.problem(f"cannot open the control socket {path}: {exc}")
        task_status.started(None)
        return
    identity: int | None = None
    try:
        async with listener:
            identity = path.stat().st_ino
            log.low(f"control socket {path}")
            task_status.started(path)

            async def handle(stream: anyio.abc.SocketStream) -> None:
                try:
                    await _session(server, stream)
                except Exception as exc:  # one broken session never stops the service
                    log.failure(f"control session: {type(exc).__name__}: {exc}")

            await listener.serve(handle)
    finally:
        # remove the socket unless another server has replaced it meanwhile
        with contextlib.suppress(OSError):
            if path.stat().st_ino == identity:
                path.unlink()


async def _answers(path: Path) -> bool:
    """True if a server listens on the socket at ``path`` (False for none or a stale file)."""
    if not path.exists():
        return False
    try:
        with anyio.fail_after(2):
            stream = await anyio.connect_unix(path)
    except (OSError, TimeoutError):
        return False
    await stream.aclose()
    return True


async def _session(server: Server, stream: anyio.abc.SocketStream) -> None:
    """One control connection: greet, then read lines and answer them, until QUIT or EOF."""
    session = Session(account=None, rights=frozenset({MASTER}))
    core = ControlProtocol(authenticated=True)
    async with stream:
        try:
            await stream.send(
                core.greeting(str(server.objects.main_domain), _version()),
            )
            while True:
                with anyio.move_on_after(IDLE_TIMEOUT) as idle:
                    data = await stream.receive(65536)
                if idle.cancelled_caught:
                    return
                for event in core.receive_data(data):
                    if isinstance(event, Command):
                        await _answer(server, session, core, event)
                    elif isinstance(event, Login):  # not reachable: the socket session is logged in
                        core.login_result(False)
                    elif isinstance(event, Quit):
                        break
                out = core.data_to_send()
                if out:
                    await stream.send(out)
                if core.state is State.CLOSED:
                    return
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


async def _answer(server: Server, session: Session, core: ControlProtocol, event: Command) -> None:
    logger = server.logs.logger("CONTROL")
    try:
        result = await execute(server, session, event.name, event.arguments)
    except CommandError as exc:
        core.error(exc.code, exc.text)
        return
    except ObjectError as exc:
        core.error(COMMAND_FAILED, str(exc))
        return
    except Exception as exc:
        logger.failure(f"{event.name}: {type(exc).__name__}: {exc}")
        core.error(COMMAND_FAILED, f"internal error: {type(exc).__name__}: {exc}")
        return
    logger.info(f"{event.name} done")
    try:
        if result is None:
            core.ok()
        else:
            core.data(result)
    except ValueError as exc:  # a value the data format cannot write
        core.error(COMMAND_FAILED, f"internal error: {exc}")


def _version() -> str:
    from unigate import __version__

    return __version__
