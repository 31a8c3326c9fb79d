"""Administering a running server: the manual's CLI protocol on a local control socket.

The running server holds its Queue directory locked, so admin tools cannot work on the
files; instead the server opens ``<data>/run/control.sock`` and executes the manual's
CLI commands there (Command Line Interface, 25962; digest 06 §2.3-§2.8).

* :mod:`unigate.control.protocol` -- the line protocol, sans I/O;
* :mod:`unigate.control.arguments` -- reading a command's data-format arguments;
* :mod:`unigate.control.commands` -- the commands, run against the live server;
* :mod:`unigate.control.queueview` -- queue entries as data-format dictionaries;
* :mod:`unigate.control.service` -- the socket, started by the server;
* :mod:`unigate.control.client` -- a blocking client (``unigate queue`` uses it).
"""

from unigate.control.client import ControlClient, ControlError, RemoteQueue, connect
from unigate.control.service import control_path, serve_control

__all__ = [
    "ControlClient",
    "ControlError",
    "RemoteQueue",
    "connect",
    "control_path",
    "serve_control",
]
