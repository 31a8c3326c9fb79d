"""Test kit of the pop plugin: a running server with a POP account, and a way into its loop.

Used by the end-to-end tests (poplib, fetchmail). ``pop_server(tmp_path)`` starts a real
server with the ``pop`` and ``storage_sliced`` plugins on ephemeral loopback ports and
creates :data:`USER`; ``deliver`` and ``flags`` run the mailbox manager on the server's
own event loop (a test plugin captures its token at start-up).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.lowlevel

from unigate.testing.server import serve_in_thread
from unigate_hookspecs import hookimpl

USER = "alice@example.test"
PASSWORD = "secret-pw"


class LoopToken:
    """A test plugin that remembers the server's event loop, to run its services from the test."""

    def __init__(self) -> None:
        self.token: Any = None

    @hookimpl
    def unigate_startup(self, server: Any) -> None:
        self.token = anyio.lowlevel.current_token()


@dataclass
class PopServer:
    running: Any
    loop: LoopToken
    data_dir: Path
    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def server(self) -> Any:
        return self.running.server

    def port(self, name: str = "pop3") -> int:
        return int(self.running.port(name))

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``await fn(*args, **kwargs)`` on the server's loop."""

        async def job() -> Any:
            return await fn(*args, **kwargs)

        return anyio.from_thread.run(job, token=self.loop.token)

    def deliver(
        self, data: bytes, account: str = USER, mailbox: str = "INBOX", flags: tuple[str, ...] = ()
    ) -> int:
        mgr = self.server.service("mailboxes")
        return int(self.call(mgr.deliver, account, mailbox, data, flags, create=True))

    def flags(self, account: str = USER, mailbox: str = "INBOX") -> dict[int, frozenset[str]]:
        mgr = self.server.service("mailboxes")

        async def read() -> dict[int, frozenset[str]]:
            session = await mgr.open(account, mailbox, user=account)
            try:
                return {rec.uid: rec.flags for rec in session.messages()}
            finally:
                await session.close()

        return dict(self.call(read))

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cafile=str(self.data_dir / "Settings" / "Certificate.pem")
        )


def message(number: int, body: str = "") -> bytes:
    text = body or f"Body of message {number}.\r\n.leading dot line\r\nlast line\r\n"
    return (
        f"From: sender@example.test\r\nTo: {USER}\r\nSubject: message {number}\r\n"
        f"Message-ID: <m{number}@example.test>\r\n\r\n{text}"
    ).encode()


@contextmanager
def pop_server(
    tmp_path: Path, extra: str = "", *, clear_password: bool = False
) -> Iterator[PopServer]:
    loop = LoopToken()
    with serve_in_thread(
        tmp_path,
        plugins=["pop", "storage_sliced"],
        extra=extra,
        extra_plugins=[("pop-test-loop", loop)],
    ) as running:
        objects = running.server.objects
        if clear_password:
            objects.add_account(USER, settings={"Password": PASSWORD})
        else:
            objects.add_account(USER, password=PASSWORD)
        yield PopServer(running, loop, running.server.data_dir, {USER: PASSWORD})
