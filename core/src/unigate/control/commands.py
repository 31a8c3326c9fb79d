"""The CLI commands the control endpoint executes against the live server.

Names are the manual's where it has them (Miscellaneous Commands 29800-29960, Domain
Set 26048, Domain 26290, Account 26655; digest 06 §2.6). Each command needs a Server
Administration right (the manual's per-command checks, 26002); the local control
socket's session holds ``Master``, which includes every right.

The Queue, and how ``unigate queue`` maps onto it:

=====================================  ==================================================
``queue list``                         ``LISTQUEUEMESSAGES`` (Unigate extension) -> array
``queue show ID``                      ``GETQUEUEMESSAGEINFO id`` (extension) -> dictionary
``queue retry ID``                     ``RELEASEQUEUEMESSAGE id`` (extension) -> #released
``queue retry``                        ``RELEASEQUEUEMESSAGES`` (extension) -> #released
``queue delete ID``                    ``REJECTQUEUEMESSAGE id REPORT NONDN`` (manual)
``queue delete ID --report``           ``REJECTQUEUEMESSAGE id`` (manual)
=====================================  ==================================================

Also from the manual: ``GETMESSAGEQUEUEINFO module QUEUE q`` (``{nTotal; size;
delayedTill; lastError}``, ``{}`` for an empty queue), ``RELEASESMTPQUEUE q``
(releases the messages with a recipient waiting in that SMTP queue),
``REJECTQUEUEMESSAGES SENDER account [REPORT text|NONDN]``, ``GETVERSION``,
``GETCURRENTTIME``, ``NOOP``, ``ECHO``, ``LISTCLICOMMANDS``, ``SHUTDOWN``, ``MAINDOMAINNAME``,
``LISTDOMAINS``, ``LISTACCOUNTS [domain]``, ``GETACCOUNTSETTINGS name``,
``WRITELOG level text``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unigate import dataformat
from unigate.control.arguments import ArgumentError, Arguments
from unigate.control.queueview import entry_to_value
from unigate.dataformat import Timestamp, Value
from unigate.queue import UnknownMessage

if TYPE_CHECKING:
    from unigate.server import Server

__all__ = [
    "COMMANDS",
    "CommandError",
    "CliCommand",
    "Session",
    "execute",
    "NO_MESSAGE",
]

#: The start of the error text for a queue id that is not in the Queue (clients match it).
NO_MESSAGE = "no message"

MASTER = "Master"
CAN_MONITOR = "CanMonitor"
CAN_REJECT_QUEUES = "CanRejectQueues"
ALL_DOMAINS = "AllDomains"

#: The default text of a failure report for a rejected message.
REJECT_TEXT = "rejected by the administrator"


class CommandError(Exception):
    """A command failed: the reply is ``<code> <text>``."""

    def __init__(self, text: str, code: int = 501) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass
class Session:
    """Who is executing commands: the account and its Server Administration rights."""

    account: str | None = None
    rights: frozenset[str] = field(default_factory=frozenset)

    def may(self, right: str) -> bool:
        return MASTER in self.rights or right in self.rights


Handler = Callable[["Server", Session, Arguments], Awaitable[Value | None]]


@dataclass(frozen=True)
class CliCommand:
    """One CLI command: its canonical name, the right it needs, its handler."""

    name: str
    right: str
    handler: Handler


COMMANDS: dict[str, CliCommand] = {}


def command(name: str, right: str = MASTER) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = CliCommand(name, right, fn)
        return fn

    return register


async def execute(server: Server, session: Session, name: str, arguments: str) -> Value | None:
    """Run command ``name`` (upper case) with its argument text; None means ``200 OK``.

    Raises :class:`CommandError` (``500`` for an unknown command or bad arguments).
    """
    cli = COMMANDS.get(name)
    if cli is None:
        raise CommandError("unknown command", 500)
    if not session.may(cli.right):
        raise CommandError(f"{name}: this needs the {cli.right} right")
    try:
        return await cli.handler(server, session, Arguments(arguments))
    except ArgumentError as exc:
        raise CommandError(f"{name}: {exc}", 500) from None


# -- plain values ----------------------------------------------------------------------------


def plain(value: Any) -> Value:
    """A stored setting as a data-format object (booleans as YES/NO, unknowns as text)."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, str | bytes | int | Timestamp | dataformat.IPAddress) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


# -- miscellaneous ---------------------------------------------------------------------------


@command("NOOP", CAN_MONITOR)
async def _noop(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return None


@command("ECHO", CAN_MONITOR)
async def _echo(server: Server, session: Session, args: Arguments) -> Value | None:
    value = args.value("object")
    args.end()
    return value


@command("GETVERSION", CAN_MONITOR)
async def _version(server: Server, session: Session, args: Arguments) -> Value | None:
    from unigate import __version__

    args.end()
    return __version__


@command("GETCURRENTTIME", CAN_MONITOR)
async def _time(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return Timestamp.from_epoch(int(time.time()))


@command("LISTCLICOMMANDS", CAN_MONITOR)
async def _list_commands(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return sorted(COMMANDS)


@command("WRITELOG", CAN_MONITOR)
async def _write_log(server: Server, session: Session, args: Arguments) -> Value | None:
    level = args.number("logLevel")
    text = args.string("logRecord")
    args.end()
    if not 0 <= level <= 5:
        raise ArgumentError("logLevel must be 0..5")
    server.log.log(level, text)
    return None


@command("SHUTDOWN", MASTER)
async def _shutdown(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    server.log.major("shutdown requested over the control socket")
    server.stop()
    return None


# -- domains and accounts --------------------------------------------------------------------


def _account(server: Server, session: Session, name: str) -> str:
    if name == "*":
        if session.account is None:
            raise CommandError("this session has no account of its own")
        return session.account
    account = server.objects.resolve(name)
    if account is None:
        raise CommandError(f"unknown account {name}")
    return str(account)


@command("MAINDOMAINNAME", ALL_DOMAINS)
async def _main_domain(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return str(server.objects.main_domain)


@command("LISTDOMAINS", ALL_DOMAINS)
async def _list_domains(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return list(server.objects.domains())


@command("LISTACCOUNTS", ALL_DOMAINS)
async def _list_accounts(server: Server, session: Session, args: Arguments) -> Value | None:
    domain = None if args.at_end else args.string("domainName")
    args.end()
    objects = server.objects
    canonical = objects.canonical_domain(domain) if domain else objects.main_domain
    if canonical is None:
        raise CommandError(f"unknown domain {domain}")
    return dict.fromkeys(objects.accounts(canonical), "macnt")


@command("GETACCOUNTSETTINGS", ALL_DOMAINS)
async def _account_settings(server: Server, session: Session, args: Arguments) -> Value | None:
    account = _account(server, session, args.string("accountName"))
    args.end()
    return plain(server.objects.account_settings(account))


# -- the Queue -------------------------------------------------------------------------------


def _queue(server: Server) -> Any:
    queue = server.service("queue")
    if queue is None:
        raise CommandError("this server has no Queue (no delivery module is loaded)")
    return queue


def _message_id(args: Arguments) -> str:
    value = args.value("messageID")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise ArgumentError("messageID must be a string or a number")


async def _on_message(message_id: str, call: Awaitable[Any]) -> Any:
    try:
        return await call
    except UnknownMessage:
        raise CommandError(f"{NO_MESSAGE} {message_id} in the Queue") from None


def _report(args: Arguments) -> tuple[bool, str]:
    """``[REPORT text|NONDN]``: (send a report?, its text)."""
    if args.keyword("REPORT") is None:
        return True, REJECT_TEXT
    text = args.string("errorText")
    if text.upper() == "NONDN":
        return False, REJECT_TEXT
    return True, text


@command("LISTQUEUEMESSAGES", CAN_MONITOR)
async def _list_queue(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return [entry_to_value(entry) for entry in await _queue(server).list()]


@command("GETQUEUEMESSAGEINFO", CAN_MONITOR)
async def _queue_message(server: Server, session: Session, args: Arguments) -> Value | None:
    message_id = _message_id(args)
    args.end()
    entry = await _on_message(message_id, _queue(server).show(message_id))
    return entry_to_value(entry)


@command("RELEASEQUEUEMESSAGE", CAN_MONITOR)
async def _release_message(server: Server, session: Session, args: Arguments) -> Value | None:
    message_id = _message_id(args)
    args.end()
    return int(await _on_message(message_id, _queue(server).retry(message_id)))


@command("RELEASEQUEUEMESSAGES", CAN_MONITOR)
async def _release_all(server: Server, session: Session, args: Arguments) -> Value | None:
    args.end()
    return int(await _queue(server).retry(None))


@command("RELEASESMTPQUEUE", CAN_MONITOR)
async def _release_smtp(server: Server, session: Session, args: Arguments) -> Value | None:
    name = args.string("queueName").lower()
    args.end()
    queue = _queue(server)
    for entry in await queue.list():
        if any(_waiting(r, "SMTP", name) for r in entry.recipients):
            await _on_message(entry.id, queue.retry(entry.id))
    return None


@command("REJECTQUEUEMESSAGE", CAN_REJECT_QUEUES)
async def _reject(server: Server, session: Session, args: Arguments) -> Value | None:
    message_id = _message_id(args)
    report, text = _report(args)
    args.end()
    await _on_message(message_id, _queue(server).delete(message_id, report=report, text=text))
    return None


@command("REJECTQUEUEMESSAGES", CAN_REJECT_QUEUES)
async def _reject_sender(server: Server, session: Session, args: Arguments) -> Value | None:
    args.expect("SENDER")
    sender = args.string("authedSender")
    report, text = _report(args)
    args.end()
    queue = _queue(server)
    account = server.objects.resolve(sender) or sender
    for entry in await queue.list():
        if entry.auth_account and entry.auth_account.lower() in (sender.lower(), account.lower()):
            with contextlib.suppress(UnknownMessage):  # gone meanwhile
                await queue.delete(entry.id, report=report, text=text)
    return None


_FINAL = frozenset({"delivered", "relayed", "failed"})


def _waiting(recipient: Any, module: str, queue: str) -> bool:
    return (
        recipient.module.upper() == module
        and recipient.queue.lower() == queue
        and recipient.state not in _FINAL
    )


@command("GETMESSAGEQUEUEINFO", CAN_MONITOR)
async def _queue_info(server: Server, session: Session, args: Arguments) -> Value | None:
    module = args.string("moduleName").upper()
    args.expect("QUEUE")
    name = args.string("queueName").lower()
    args.end()
    total = size = 0
    delayed: float = 0.0
    last_error = ""
    for entry in await _queue(server).list():
        waiting = [r for r in entry.recipients if _waiting(r, module, name)]
        if not waiting:
            continue
        total += 1
        size += entry.size
        for r in waiting:
            if r.state == "delayed" and r.retry_at:
                delayed = max(delayed, r.retry_at)
            if r.last_error:
                last_error = r.last_error
    if not total:
        return {}
    info: dict[str, Value] = {"nTotal": total, "size": size}
    if delayed:
        info["delayedTill"] = Timestamp.from_epoch(int(delayed))
    if last_error:
        info["lastError"] = last_error
    return info
