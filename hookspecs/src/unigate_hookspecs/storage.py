"""Hook family: storage formats -- mailbox format drivers chosen by file extension.

Every message the server keeps lives in a mailbox, and the kernel's mailbox manager
opens each mailbox through the *format driver* registered for its extension
(``INBOX.mbox`` -> the ``mbox`` driver, ``Sent.mslc`` -> the ``mslc`` driver).
A driver knows only what is inside one mailbox file or directory; names, hierarchy,
ACLs, quotas, subscriptions and change notifications are the manager's.

Threading and concurrency contract (what a driver may assume):

* Every method of :class:`MailboxStore` is synchronous and is called from a worker
  thread. The manager serialises *all* calls on one open store (one at a time per
  mailbox), so a driver needs no locks of its own and must not take OS locks.
* :meth:`MailboxStore.append` receives a *batch*: the manager gathers the appends
  that arrive while a previous batch is being written (group commit). The batch is
  durable when the call returns -- whatever the next :meth:`MailboxStore.load` needs
  to find the messages again is fsynced: their data and index records, or
  self-describing data from which the index is brought up to date on that load;
  only then is any client acknowledged.
* A process may be killed at any instant. The next :meth:`MailboxStore.load` must
  repair whatever it finds: a torn tail is cut, an index that disagrees with the data
  is rebuilt from the data. A message whose append returned must be there, once.
* UIDs are assigned by the driver from ``uidnext`` and strictly increase; UIDVALIDITY
  changes only when UIDs cannot be preserved (and the driver then says so).
* MODSEQ values are assigned by the manager and handed in; the driver persists them.

Flags are IMAP names: system flags with their backslash (``\\Seen``), the manual's
extra flags by their IMAP names (``$Forwarded``, ``$MDNSent``, ``$Hidden``,
``$Service``, ``$Media``, ``Junk``), custom keywords as given (case preserved,
compared case-insensitively by the manager).
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from unigate_hookspecs.markers import hookspec


class MessageRecord(NamedTuple):
    """One message as the index knows it: read without parsing the message.

    ``internal_date`` is seconds since the epoch (UTC). ``size`` is the exact
    byte length of the stored RFC 5322 message (CRLF line ends as received).

    A named tuple rather than a frozen dataclass: a cold open builds one per message
    (100,000 for a large mailbox), and a tuple is built several times faster. Use
    ``record._replace(flags=...)`` to derive a changed copy.
    """

    uid: int
    flags: frozenset[str]
    internal_date: int
    size: int
    modseq: int


#: C-level getters of `MessageRecord` fields, for columns over many records:
#: ``list(map(RECORD_UID, records))`` runs no Python code per record as a comprehension
#: does, which counts at 100,000 records (a SELECT, a FETCH 1:*, a cold open)
RECORD_UID, RECORD_FLAGS, RECORD_SIZE, RECORD_MODSEQ = (
    operator.itemgetter(MessageRecord._fields.index(name))
    for name in ("uid", "flags", "size", "modseq")
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append: its bytes, initial flags and internal date."""

    data: bytes
    flags: frozenset[str] = frozenset()
    internal_date: int = 0
    modseq: int = 0


@dataclass(frozen=True, slots=True)
class FlagChange:
    """A message's complete new flag set and the MODSEQ of the change."""

    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(slots=True)
class MailboxState:
    """What a cold open returns: the mailbox header and every live message record.

    ``records`` are in UID order. ``warnings`` lists repairs and conversions made
    during the open (e.g. "legacy mbox: UIDs generated") for the manager to log.
    ``attributes`` are the mailbox's stored attributes (class, ACL, ...) as a
    dictionary of strings; the manager owns their meaning.
    """

    uidvalidity: int
    uidnext: int
    highestmodseq: int
    records: list[MessageRecord]
    attributes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class MailboxStore(abc.ABC):
    """An open mailbox of one format. See the module docstring for the contract."""

    @abc.abstractmethod
    def load(self) -> MailboxState:
        """Open (repairing if needed) and return the mailbox state."""

    @abc.abstractmethod
    def append(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        """Append a batch durably; return the records (with the UIDs assigned), in order."""

    @abc.abstractmethod
    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        """Persist new flag sets (durability: written, fsync at the driver's discretion)."""

    @abc.abstractmethod
    def expunge(self, uids: Sequence[int], modseq: int) -> None:
        """Remove messages durably (a driver may only mark them and reclaim later)."""

    @abc.abstractmethod
    def read(self, uid: int) -> bytes:
        """The message's bytes exactly as appended. KeyError if no such live UID."""

    @abc.abstractmethod
    def set_attributes(self, attributes: dict[str, str]) -> None:
        """Replace the mailbox's stored attributes (durable)."""

    def compact(self) -> None:  # noqa: B027 - optional operation with a no-op default
        """Reclaim the space of expunged messages (merge data files, rewrite)."""

    def cache_get(self, uid: int, key: str) -> bytes | None:
        """Derived data cached for a message (envelope, body structure, ...), or None.

        The cache may be lost at any time: it is rebuilt by callers, never fsynced.
        """
        return None

    def cache_get_many(self, uids: Iterable[int], key: str) -> dict[int, bytes | memoryview]:
        """{UID: value} of `cache_get` for many messages; misses are left out.

        A driver whose cache answers a batch faster than one call per message
        overrides it (a FETCH asks for hundreds at a time). A value may be a read-only
        ``memoryview`` (of a mapped cache file, say) instead of ``bytes``: callers treat
        it as bytes-like and copy what they keep apart from the entry.
        """
        out: dict[int, bytes | memoryview] = {}
        for uid in uids:
            value = self.cache_get(uid, key)
            if value is not None:
                out[uid] = value
        return out

    def cache_put(self, uid: int, key: str, value: bytes) -> None:  # noqa: B027 - optional
        """Remember derived data for a message (best effort, not durable)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release file handles."""


class FormatDriver(abc.ABC):
    """A mailbox format, registered under a file extension (without the dot)."""

    #: the extension this driver owns, e.g. ``"mbox"`` or ``"mslc"``
    extension: str = ""
    #: True when a mailbox of this format is a directory (``.mslc``), False for a file (``.mbox``)
    is_directory: bool = False

    @abc.abstractmethod
    def create(self, path: Path, uidvalidity: int) -> None:
        """Create an empty mailbox at ``path`` (the path includes the extension).

        Whole or not at all: the manager may scan and open the account's mailboxes
        meanwhile, and must see either no mailbox or a complete one (a directory
        format builds it aside and renames it: `unigate.api.create_dir`).
        """

    @abc.abstractmethod
    def open(self, path: Path) -> MailboxStore:
        """Open an existing mailbox for use; :meth:`MailboxStore.load` follows."""

    def remove(self, path: Path) -> None:
        """Delete the mailbox and everything that belongs to it (index files too)."""
        import shutil

        if self.is_directory:
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
            for extra in path.parent.glob(path.name + ".*"):
                extra.unlink(missing_ok=True)

    def sidecars(self, path: Path) -> list[Path]:
        """Files besides ``path`` that belong to the mailbox (moved with it on rename)."""
        return []


@hookspec
def unigate_storage_formats() -> list[FormatDriver]:
    """Contribute mailbox format drivers.

    Called when: once at start-up, after plugins are loaded.

    Params: none.

    Return: a list of :class:`FormatDriver` instances. Every plugin contributes;
    two drivers claiming one extension make start-up fail, naming both plugins.

    Sync.

    Example::

        @hookimpl
        def unigate_storage_formats():
            return [TextMailboxDriver()]
    """
