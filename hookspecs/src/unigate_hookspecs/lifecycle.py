"""Hook family: lifecycle -- how a plugin hears about configuration, start-up and shutdown.

The kernel calls, in this order, once per server:

1. :func:`unigate_addhooks` (historic) -- a plugin publishes the hooks of its own
   transaction (SMTP publishes ``smtp_mail``, ``smtp_rcpt``, ...).
2. :func:`unigate_configure` (historic) -- settings are validated; read yours.
3. :func:`unigate_startup` (async) -- services are running, listeners about to bind.
4. ... the server serves ...
5. :func:`unigate_shutdown` (async) -- listeners closed, sessions drained.

A plugin may accept any subset of the documented parameters.
"""

from __future__ import annotations

from typing import Any

from unigate_hookspecs.markers import hookspec


@hookspec(historic=True)
def unigate_addhooks(pluginmanager: Any) -> None:
    """Add hook specifications of a plugin's own (``pluginmanager.add_hookspecs(module)``).

    Called when: right after the plugin is registered (historic: replayed to late plugins).

    Params: ``pluginmanager`` -- the server's :class:`pluggy.PluginManager`.

    Return: None. Sync.

    Example::

        @hookimpl
        def unigate_addhooks(pluginmanager):
            from unigate_smtp import hooks
            pluginmanager.add_hookspecs(hooks)
    """


@hookspec(historic=True)
def unigate_configure(settings: Any) -> None:
    """Read the validated settings once they are known.

    Called when: after the settings file is validated, before anything binds.

    Params: ``settings`` -- the kernel's ``Settings``; ``settings.section("name")`` gives
    your own validated section (the model you returned from ``unigate_settings_model``).

    Return: None. Sync. Raise ``ValueError`` to refuse a combination of settings the
    model alone cannot judge; the server does not start and the message is shown.
    """


@hookspec
def unigate_startup(server: Any) -> None:
    """The server's services are up; start what you need.

    Called when: once, after the kernel services (accounts, router, queue, mailboxes)
    exist and before listeners bind.

    Params: ``server`` -- the :class:`unigate.api.Server` handle. Keep per-server state in
    ``server.state["<plugin>"]`` (never in module globals: tests run several servers in one
    process). Long-running work goes through ``server.spawn(async_fn, name=...)``.

    Return: None. Async (``async def``) or sync; the kernel awaits it.
    """


@hookspec
def unigate_shutdown(server: Any) -> None:
    """The server is stopping: flush and release.

    Called when: after listeners stop accepting and sessions are drained (or their
    deadline passed), before the process exits.

    Params: ``server`` -- the :class:`unigate.api.Server` handle.

    Return: None. Async or sync; the kernel awaits it with a deadline.
    """


@hookspec(firstresult=True)
def unigate_account_database(settings: Any, data_dir: Any) -> Any:
    """Replace the kernel's account database (domains, accounts, aliases, groups ...).

    Called when: once, as the server is built, before any other service.

    Params: ``settings`` -- the validated settings; ``data_dir`` -- the data directory
    (:class:`pathlib.Path`).

    Return: an object with the interface of ``unigate.objects.ObjectStore`` (a cluster
    plugin returns one backed by a shared database), or None to keep the built-in store
    of settings files in the data directory. Stops at the first non-None result
    (firstresult). Sync.
    """
