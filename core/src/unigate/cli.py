"""The ``unigate`` command: serve, check the settings, list plugins, administer objects.

``unigate serve [--config F] [--data DIR]`` runs the server (a first run creates the
data directory and prints the postmaster's password). ``check-config F`` exits 0, or 2
printing one ``FILE: section.key: reason`` line per problem. The object commands
(``domain``, ``account``, ``alias``, ``forwarder``, ``group``) work on the data
directory directly, so they take effect in a running server at once. Plugins add
sub-commands through the admin hook.
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from unigate.objects import ObjectError, ObjectStore
from unigate.plugins import PluginLoadError, discover
from unigate.settings import Settings, SettingsError

DEFAULT_DATA = Path("unigate-data")


@dataclass
class AdminContext:
    """What an admin command works with (plugins' commands receive it too)."""

    data_dir: Path
    settings: Settings | None
    out: TextIO

    @property
    def objects(self) -> ObjectStore:
        main = self.settings.server.main_domain if self.settings else ""
        return ObjectStore(self.data_dir, main_domain=main or None)

    # kept for the hook's documented name
    @property
    def accounts(self) -> ObjectStore:
        return self.objects


def _config_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None):
        return Path(args.config)
    env = os.environ.get("UNIGATE_CONFIG")
    return Path(env) if env else None


def _load(args: argparse.Namespace) -> tuple[Settings, Any, Any]:
    from unigate.server import load_configuration

    return load_configuration(
        _config_path(args), data_dir=Path(args.data) if getattr(args, "data", None) else None
    )


def _context(args: argparse.Namespace) -> AdminContext:
    settings: Settings | None = None
    data = Path(args.data) if getattr(args, "data", None) else None
    if data is None:
        config = _config_path(args)
        if config is not None:
            settings = _load(args)[0]
            data = Path(settings.server.data_dir)
    return AdminContext(data_dir=data or DEFAULT_DATA, settings=settings, out=sys.stdout)


# -- serve / check-config / plugins ---------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from unigate.firstrun import first_run, needs_first_run
    from unigate.server import Server, StartupError

    settings, plugins, specs = _load(args)
    data_dir = Path(settings.server.data_dir)
    if needs_first_run(data_dir):
        address, password = first_run(data_dir, main_domain=settings.server.main_domain or None)
        print(f"Unigate: new data directory {data_dir.absolute()}")
        print(f"Unigate: account {address} created with password: {password}")
        print(
            "Unigate: (shown once; change it with: unigate account passwd "
            f"{address} --password NEW --data {data_dir})",
            flush=True,
        )
    server = Server(settings, plugins, specs)
    backend_options = {"use_uvloop": True} if _has_uvloop() else {}
    try:
        anyio.run(
            functools.partial(server.run, ready=_started),
            backend="asyncio",
            backend_options=backend_options,
        )
    except StartupError as exc:
        print(f"unigate: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


#: young objects (allocations less deallocations) between two young collections;
#: CPython's default is 700
GC_YOUNG_THRESHOLD = 20_000


def _started(server: object) -> None:
    """Once every listener is bound: fit the cyclic GC to a server's heap.

    * ``gc.freeze`` moves the start-up heap (modules, classes, settings, plugin
      objects: ~50,000 objects that live as long as the process) into the
      permanent generation: every full collection walked them again, ~20 ms each
      time with a mailbox's records loaded.
    * A FETCH or SEARCH over 10,000 messages builds tens of thousands of objects
      that live for the command; with young collections every 700 of them, each
      command paid several collections that found nothing to free and promoted
      the rest towards the next full one. Measured (10,000 messages, alternating
      runs): FETCH 1:* ENVELOPE after a restart 0.12-0.14 s -> 0.08-0.095 s, warm
      19-22 ms -> 12.5-15 ms server CPU, a first header SEARCH 21-25 -> 14-17 ms.

    Only the process that serves does this (not tests that run a server in theirs).
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def cmd_check_config(args: argparse.Namespace) -> int:
    from unigate.server import load_configuration

    load_configuration(Path(args.file))
    print(f"{args.file}: OK")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    _, plugins, specs = _load(args)
    installed = discover()
    for info in plugins.info():
        print(f"{info.name}\t{info.distribution} {info.version}")
        print(f"  hooks: {', '.join(info.hooks) or '-'}")
        listeners = [s for s in specs if _owner(plugins, s) == info.name]
        if listeners:
            print(
                "  listeners: "
                + ", ".join(
                    f"{s.name} ({s.transport.value} {s.default_port}, {s.tls.value})"
                    for s in listeners
                )
            )
    skipped = sorted(set(installed) - set(plugins.entry_points))
    if skipped:
        print("installed but not enabled: " + ", ".join(skipped))
    return 0


def _owner(plugins: Any, spec: Any) -> str | None:
    for impl in plugins.hook.unigate_listeners.get_hookimpls():
        if any(s.name == spec.name for s in impl.function() or []):
            return impl.plugin_name
    return None


# -- objects -------------------------------------------------------------------------------------------


def _settings_pairs(pairs: Sequence[str] | None) -> dict[str, Any]:
    from unigate import dataformat

    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ObjectError(f"{pair!r}: expected KEY=VALUE")
        try:
            result[key] = dataformat.loads(value)
        except ValueError:
            result[key] = value
    return result


def cmd_domain(args: argparse.Namespace) -> int:
    store = _context(args).objects
    if args.action == "add":
        print(store.add_domain(args.name, _settings_pairs(args.setting)))
    elif args.action == "list":
        main = store.main_domain
        for domain in store.domains():
            print(domain + ("\t(main)" if domain == main else ""))
        for alias, target in sorted(store.domain_aliases().items()):
            print(f"{alias}\t-> {target}")
    elif args.action == "remove":
        store.remove_domain(args.name, empty_only=not args.force)
    elif args.action == "alias":
        store.add_domain_alias(args.name, args.target)
    elif args.action == "unalias":
        store.remove_domain_alias(args.name)
    return 0


def _password(args: argparse.Namespace) -> str | None:
    if args.password == "-":
        return sys.stdin.readline().rstrip("\r\n")
    return args.password


def cmd_account(args: argparse.Namespace) -> int:
    store = _context(args).objects
    if args.action == "add":
        print(
            store.add_account(
                args.name, password=_password(args), settings=_settings_pairs(args.setting)
            )
        )
    elif args.action == "list":
        domain = args.name or store.main_domain
        for name in store.accounts(domain):
            aliases = store.aliases(f"{name}@{domain}")
            print(name + (f"\t(aliases: {', '.join(aliases)})" if aliases else ""))
    elif args.action == "passwd":
        password = _password(args)
        if not password:
            raise ObjectError("give the new password with --password")
        store.set_password(_canonical(store, args.name), password)
    elif args.action == "remove":
        store.remove_account(_canonical(store, args.name))
    elif args.action == "rename":
        print(store.rename_account(_canonical(store, args.name), args.target))
    elif args.action == "set":
        changes = _settings_pairs(args.setting)
        store.update_account_settings(_canonical(store, args.name), changes)
    elif args.action == "show":
        from unigate import dataformat

        account = _canonical(store, args.name)
        shown = {
            k: v
            for k, v in store.account_settings(account).items()
            if k not in ("Password", "SCRAM-SHA-256", "SCRAM-SHA-1", "DigestHA1")
        }
        print(dataformat.dumps(shown, pretty=True))
    return 0


def _canonical(store: ObjectStore, name: str) -> str:
    account = store.resolve(name)
    if account is None:
        raise ObjectError(f"account {name} does not exist")
    return account


def cmd_alias(args: argparse.Namespace) -> int:
    store = _context(args).objects
    if args.action == "add":
        store.add_alias(args.name, args.target)
    elif args.action == "remove":
        store.remove_alias(args.name)
    elif args.action == "list":
        account = _canonical(store, args.name)
        for alias in store.aliases(account):
            print(alias)
    return 0


def cmd_forwarder(args: argparse.Namespace) -> int:
    store = _context(args).objects
    if args.action == "add":
        store.add_forwarder(args.name, args.target)
    elif args.action == "remove":
        store.remove_forwarder(args.name)
    elif args.action == "list":
        for name, target in sorted(store.forwarders(args.name).items()):
            print(f"{name}\t-> {target}")
    return 0


def cmd_group(args: argparse.Namespace) -> int:
    store = _context(args).objects
    if args.action == "add":
        store.add_group(args.name, args.members)
    elif args.action == "members":
        store.set_group_members(args.name, args.members)
    elif args.action == "remove":
        store.remove_group(args.name)
    elif args.action == "list":
        for name, body in sorted(store.groups(args.name).items()):
            print(f"{name}\t{', '.join(body.get('Members', ()))}")
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    from unigate.routing import RoutingService
    from unigate_hookspecs.routing import RouteOp

    service = RoutingService(_context(args).objects)
    for line in service.explain(args.address, RouteOp[args.operation.upper()]):
        print(line)
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    """``queue list|show ID|retry [ID]|delete ID [--report]``: the live Queue, or the directory.

    A running server is asked over its control socket (``<data>/run/control.sock``, the
    CLI protocol of :mod:`unigate.control`); when none answers, the Queue directory is
    opened directly. The output is the same either way.
    """
    import time as _time

    from unigate.control import ControlError, RemoteQueue, connect
    from unigate.queue import Queue, QueueLocked, UnknownMessage

    ctx = _context(args)
    client = connect(ctx.data_dir)
    queue: Any = (
        RemoteQueue(client)
        if client is not None
        else Queue(ctx.data_dir / "Queue", bad_files=ctx.data_dir / "BadFiles")
    )

    def stamp(seconds: float | None) -> str:
        return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(seconds)) if seconds else "-"

    async def run() -> int:
        if args.action in ("show", "delete") and not args.id:
            print(f"queue {args.action} needs a message id", file=sys.stderr)
            return 2
        if args.action == "list":
            for entry in await queue.list():
                states = ", ".join(f"{r.address} {r.state}" for r in entry.recipients)
                print(
                    f"{entry.id}\t{stamp(entry.received_at)}\t{entry.size}\t<{entry.return_path}>\t{states}"
                )
        elif args.action == "show":
            entry = await queue.show(args.id)
            print(f"Id: {entry.id}\nReturn-Path: <{entry.return_path}>\nSource: {entry.source}")
            print(f"Received: {stamp(entry.received_at)}\nSize: {entry.size}")
            for r in entry.recipients:
                line = (
                    f"Recipient: {r.address} {r.module}({r.queue}) {r.state} attempts={r.attempts}"
                )
                if r.retry_at:
                    line += f" retry={stamp(r.retry_at)}"
                if r.last_error:
                    line += f" last={r.last_error}"
                print(line)
            print()
            print(entry.headers.rstrip())
        elif args.action == "retry":
            print(f"{await queue.retry(args.id)} recipient(s) released")
        else:
            print(f"{await queue.delete(args.id, report=args.report)} recipient(s) rejected")
        return 0

    try:
        return anyio.run(run)
    except QueueLocked:
        print("the Queue is in use by a running server: stop it first", file=sys.stderr)
        return 1
    except UnknownMessage:
        print(f"no message {args.id} in the Queue", file=sys.stderr)
        return 1
    except ControlError as exc:
        print(f"unigate: the server answered: {exc}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()


# -- the parser ------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", help="settings file (TOML); default $UNIGATE_CONFIG or none"
    )
    parser.add_argument("--data", "--base", help="data directory (default ./unigate-data)")


def build_parser(extra: Sequence[Any] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unigate", description="Unigate unified communications server"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server")
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check-config", help="validate a settings file")
    p.add_argument("file")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("plugins", help="list loaded plugins, their versions and hooks")
    _common(p)
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("domain", help="domains: add|list|remove|alias|unalias")
    p.add_argument("action", choices=["add", "list", "remove", "alias", "unalias"])
    p.add_argument("name", nargs="?")
    p.add_argument("target", nargs="?", help="for alias: the real domain")
    p.add_argument("--setting", action="append", metavar="KEY=VALUE")
    p.add_argument("--force", action="store_true", help="remove a domain with its accounts")
    _common(p)
    p.set_defaults(func=cmd_domain)

    p = sub.add_parser("account", help="accounts: add|list|passwd|remove|rename|set|show")
    p.add_argument("action", choices=["add", "list", "passwd", "remove", "rename", "set", "show"])
    p.add_argument("name", nargs="?", help="name@domain (list: a domain)")
    p.add_argument("target", nargs="?", help="for rename: the new name")
    p.add_argument("--password", help="the password ('-' reads a line from standard input)")
    p.add_argument("--setting", action="append", metavar="KEY=VALUE")
    _common(p)
    p.set_defaults(func=cmd_account)

    p = sub.add_parser(
        "alias", help="account aliases: add ALIAS ACCOUNT | remove ALIAS | list ACCOUNT"
    )
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("name")
    p.add_argument("target", nargs="?")
    _common(p)
    p.set_defaults(func=cmd_alias)

    p = sub.add_parser(
        "forwarder", help="forwarders: add NAME ADDRESS | remove NAME | list [DOMAIN]"
    )
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("name", nargs="?")
    p.add_argument("target", nargs="?")
    _common(p)
    p.set_defaults(func=cmd_forwarder)

    p = sub.add_parser(
        "group", help="groups: add NAME [MEMBER...] | members NAME MEMBER... | remove | list"
    )
    p.add_argument("action", choices=["add", "members", "remove", "list"])
    p.add_argument("name", nargs="?")
    p.add_argument("members", nargs="*")
    _common(p)
    p.set_defaults(func=cmd_group)

    p = sub.add_parser("route", help="show how the Router routes an address, and why")
    p.add_argument("address")
    p.add_argument("operation", nargs="?", default="mail", choices=["mail", "signal", "access"])
    _common(p)
    p.set_defaults(func=cmd_route)

    p = sub.add_parser(
        "queue",
        help="the mail Queue (a running server's, over its control socket): "
        "list | show ID | retry [ID] | delete ID",
    )
    p.add_argument("action", choices=["list", "show", "retry", "delete"])
    p.add_argument("id", nargs="?", help="a queue id (as `queue list` prints it)")
    p.add_argument("--report", action="store_true", help="delete: send the failure reports")
    _common(p)
    p.set_defaults(func=cmd_queue)

    for command in extra:
        p = sub.add_parser(command.name, help=command.help)
        command.configure(p)
        if not any(a.dest == "data" for a in p._actions):
            _common(p)
        p.set_defaults(func=_plugin_runner(command.run))
    return parser


def _plugin_runner(run: Callable[[Any, Any], Any]) -> Callable[[argparse.Namespace], int]:
    def runner(args: argparse.Namespace) -> int:
        result = run(_context(args), args)
        if inspect.isawaitable(result):

            async def wait() -> Any:
                return await result

            result = anyio.run(wait)
        return int(result or 0)

    return runner


def _plugin_commands() -> list[Any]:
    from unigate.plugins import load

    try:
        plugins = load(None)
    except PluginLoadError:
        return []
    commands = []
    for answer in plugins.hook.unigate_admin_commands():
        commands.extend(answer or [])
    return commands


BUILTIN = {
    "serve",
    "check-config",
    "plugins",
    "domain",
    "account",
    "alias",
    "forwarder",
    "group",
    "route",
    "queue",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if argv and argv[0] not in BUILTIN and not argv[0].startswith("-"):
        extra = [c for c in _plugin_commands() if c.name not in BUILTIN]
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        stream = sys.stdout if args.command == "check-config" else sys.stderr
        for line in exc.problems:
            print(line, file=stream)
        return 2
    except PluginLoadError as exc:
        print(f"unigate: {exc}", file=sys.stderr)
        return 2
    except ObjectError as exc:
        print(f"unigate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
