"""Hook family: admin -- commands a plugin contributes to the ``unigate`` command line.

``unigate <command> ...`` is an argparse program. Each plugin may add sub-commands; they
receive an :class:`AdminContext` with the data directory and the kernel's account
database, so they work whether or not the server is running. Changes made through
the account database take effect in a running server without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from unigate_hookspecs.markers import hookspec


@dataclass(frozen=True, slots=True)
class AdminCommand:
    """A sub-command: ``configure(parser)`` adds its arguments, ``run(ctx, args)`` returns the exit code.

    ``run`` may be sync or async. ``ctx`` is the kernel's ``AdminContext`` (``ctx.data_dir``,
    ``ctx.accounts``, ``ctx.settings``, ``ctx.out`` for output).
    """

    name: str
    help: str
    configure: Callable[[Any], None]
    run: Callable[[Any, Any], Any]


@hookspec
def unigate_admin_commands() -> list[AdminCommand]:
    """Contribute sub-commands to the ``unigate`` command.

    Called when: the command line is built.

    Params: none.

    Return: a list of :class:`AdminCommand`. Every plugin contributes; a name that
    clashes with a built-in or another plugin's command is an error naming both. Sync.

    Example::

        @hookimpl
        def unigate_admin_commands():
            return [AdminCommand("hello", "Say hello", lambda p: p.add_argument("name"),
                                 lambda ctx, args: print("hello", args.name))]
    """
