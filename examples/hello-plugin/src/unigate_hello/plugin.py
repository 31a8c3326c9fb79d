"""Hook implementations of the hello plugin: a settings section, a listener, a command.

Everything a plugin needs comes from ``unigate_hookspecs`` (the contract) and
``unigate.api`` (the kernel's facade); nothing here touches kernel internals.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from unigate_hello.protocol import HelloProtocol
from unigate_hookspecs import AdminCommand, Connection, ListenerSpec, hookimpl


class HelloSettings(BaseModel):
    """The ``[hello]`` section of the settings file."""

    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


@hookimpl
def unigate_settings_model():
    return ("hello", HelloSettings)


async def handle(connection: Connection) -> None:
    """One hello session: greet, then answer lines until QUIT or end of stream."""
    settings: HelloSettings = connection.server.settings.section("hello")
    protocol = HelloProtocol(greeting=settings.greeting)
    await connection.send(b"+OK Unigate hello service ready\r\n")
    while not protocol.finished:
        data = await connection.receive()
        if not data:
            break
        connection.log.data("inp", data)
        reply = protocol.receive(data)
        if reply:
            connection.log.data("out", reply)
            await connection.send(reply)


@hookimpl
def unigate_listeners():
    return [
        ListenerSpec(
            name="hello", default_port=7777, handler=handle, description="hello line protocol"
        )
    ]


def _configure(parser) -> None:
    parser.add_argument("name", help="who to greet")


def _run(ctx, args) -> int:
    greeting = ctx.settings.section("hello").greeting if ctx.settings else "hello"
    print(f"{greeting}, {args.name}", file=ctx.out)
    return 0


@hookimpl
def unigate_admin_commands():
    return [
        AdminCommand(name="hello", help="print the hello greeting", configure=_configure, run=_run)
    ]
