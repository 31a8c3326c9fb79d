"""The facade plugins use: kernel services and helpers, and nothing else of the kernel.

A plugin imports from here and from :mod:`unigate_hookspecs` only (an import-linter
contract enforces it). What is here is documented and kept stable across minor
versions; everything else in :mod:`unigate` may change.

The :class:`Server` handle (given to ``unigate_startup`` and reachable as
``connection.server`` in listener handlers) offers:

* ``server.settings`` -- validated settings; ``server.settings.section("name")`` is yours
* ``server.objects`` -- the account database (domains, accounts, aliases, groups ...)
* ``server.auth`` -- the authentication service: ``await server.auth.login(name, password,
  service=..., peer_ip=..., secure=...)`` and ``server.auth.credentials(...)`` for SASL
* ``server.classifier`` -- the address-classification service
* ``server.service("mailboxes")`` -- the :class:`unigate.api.mailboxes.MailboxManager`
  (when a storage-format plugin is installed); ``server.service("queue")`` -- the queue
  (``await queue.submit(envelope, data)``); ``server.routing.route(address, RouteOp.MAIL)``
* ``mailboxes``, ``sasl``, ``dataformat`` -- kernel modules re-exported for their types and
  errors (``mailboxes.NoSuchMailbox``, ``sasl.Challenge``, ``dataformat.loads``)
* ``server.service("mailboxes").watch(account, user, owners=..., origin=..., limit=...)`` --
  a bounded :class:`unigate.api.mailboxes.MailboxWatch` of account-wide change events
  (``MessagesChanged``, ``MailboxCreated``/``Deleted``/``Renamed``, ``SubscriptionChanged``)
  for push protocols (IMAP NOTIFY); ``resolve_name(account, name)`` gives the
  ``MailboxLocation`` (owner, canonical name) the events use, and
  ``MailboxSession.refresh(defer_removals=True)`` holds expunges back for a client that
  may not hear of them yet
* ``server.logs.logger(component)`` -- a logger in the manual's record format
* ``await server.call(hook, **kw)``, ``call_first``, ``judge`` -- the async hook caller
* ``server.spawn(async_fn)`` -- a background task for the life of the server
* ``server.state`` -- a dict for per-server plugin state
* ``crc32`` -- zlib's CRC-32, from the fastest implementation installed (:mod:`unigate.crc`)
* ``write_atomic``, ``fdatasync``, ``fsync_dir``, ``write_all``, ``write_chunks``,
  ``write_synced``, ``copy_range``, ``create_dir`` -- durable file writes for storage-format drivers (:mod:`unigate.durable`)
"""

from __future__ import annotations

from unigate import dataformat, mailboxes, sasl
from unigate.auth import (
    FAILURE_TEXT,
    Authenticator,
    LoginOutcome,
    SaslDone,
    SaslLogin,
    SessionCredentials,
)
from unigate.crc import crc32
from unigate.durable import (
    copy_range,
    create_dir,
    fdatasync,
    fsync_dir,
    write_all,
    write_atomic,
    write_chunks,
    write_synced,
)
from unigate.logs import ALL, CRASH, FAILURE, LOW, MAJOR, PROBLEM, Logger
from unigate.objects import ObjectError, ObjectKind, ObjectRef, ObjectStore, split_address
from unigate.plugins import acall, acall_first, ajudge
from unigate.server import Server
from unigate_hookspecs import Verdict, hookimpl

__all__ = [
    "copy_range",
    "crc32",
    "create_dir",
    "fdatasync",
    "fsync_dir",
    "write_all",
    "write_atomic",
    "write_chunks",
    "write_synced",
    "ALL",
    "CRASH",
    "FAILURE",
    "FAILURE_TEXT",
    "LOW",
    "MAJOR",
    "PROBLEM",
    "Authenticator",
    "Logger",
    "LoginOutcome",
    "ObjectError",
    "ObjectKind",
    "ObjectRef",
    "ObjectStore",
    "SaslDone",
    "SaslLogin",
    "Server",
    "SessionCredentials",
    "Verdict",
    "acall",
    "acall_first",
    "ajudge",
    "hookimpl",
    "dataformat",
    "mailboxes",
    "sasl",
    "split_address",
]
