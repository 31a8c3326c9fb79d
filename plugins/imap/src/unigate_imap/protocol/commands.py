"""Parsed IMAP commands: one frozen dataclass per command, plus their parts.

Every command carries ``tag`` and a class-level ``name`` (the wire keyword,
``"UID FETCH"`` style names are not used: UID variants set ``uid=True``).
Mailbox names are already decoded (modified UTF-7 or UTF-8, see
`ServerConnection.utf8`) and ``INBOX`` is case-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar

from .seqset import SequenceSet


# --------------------------------------------------------------------- search keys
@dataclass(frozen=True, slots=True)
class SearchKey:
    """Base of the SEARCH key tree (RFC 9051 §6.4.4)."""


@dataclass(frozen=True, slots=True)
class AllKey(SearchKey):
    pass


@dataclass(frozen=True, slots=True)
class AndKey(SearchKey):
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True, slots=True)
class OrKey(SearchKey):
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class NotKey(SearchKey):
    key: SearchKey


@dataclass(frozen=True, slots=True)
class FlagKey(SearchKey):
    """ANSWERED/UNANSWERED…, KEYWORD/UNKEYWORD; ``flag`` like ``\\Seen`` or ``$Junk``."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class TextKey(SearchKey):
    """``field`` in BCC, BODY, CC, FROM, SUBJECT, TEXT, TO, HEADER (then ``header`` is set)."""

    field: str
    value: str
    header: str | None = None


@dataclass(frozen=True, slots=True)
class DateKey(SearchKey):
    """BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE (``sent``)."""

    op: str  # "BEFORE" | "ON" | "SINCE"
    date: date
    sent: bool = False


@dataclass(frozen=True, slots=True)
class WithinKey(SearchKey):
    """OLDER/YOUNGER n (RFC 5032): internal date relative to ``now``."""

    older: bool
    seconds: int


@dataclass(frozen=True, slots=True)
class SizeKey(SearchKey):
    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class SeqKey(SearchKey):
    """A sequence set (``uid`` False) or ``UID`` set; ``$`` is `SequenceSet.saved`."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class ModSeqKey(SearchKey):
    """MODSEQ [entry-name entry-type] mod-sequence-valzer (RFC 7162)."""

    modseq: int
    entry: str | None = None
    entry_type: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectIdKey(SearchKey):
    """EMAILID / THREADID (RFC 8474)."""

    kind: str
    value: str


# --------------------------------------------------------------------- fetch
@dataclass(frozen=True, slots=True)
class Section:
    """``[1.2.HEADER.FIELDS (A B)]``: ``parts`` is the numeric path, ``text`` the specifier."""

    parts: tuple[int, ...] = ()
    text: str | None = None  # HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()

    def encode(self) -> bytes:
        out = ".".join(str(p) for p in self.parts)
        if self.text:
            out = f"{out}.{self.text}" if out else self.text
        if self.fields:
            out += " (" + " ".join(self.fields) + ")"
        return out.encode("ascii")


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One fetch item. ``name`` is ENVELOPE, FLAGS, BODY, BINARY, BINARY.SIZE, UID…

    ``section`` is set for ``BODY[...]``/``BINARY[...]``; ``partial`` is
    ``(offset, count)``; ``peek`` marks ``.PEEK``.
    """

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False

    def response_name(self) -> bytes:
        """The item name as it appears in the FETCH response (``BODY[1]<0>``)."""
        if self.section is None:
            return self.name.encode("ascii")
        out = self.name.encode("ascii") + b"[" + self.section.encode() + b"]"
        if self.partial is not None and self.name == "BODY":  # BINARY answers carry no <n>
            out += b"<%d>" % self.partial[0]
        return out


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: str  # ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND; ``options`` are the manual's ``(REPLACESUID(n) CHECKOLDEXISTS)``."""

    flags: tuple[str, ...]
    date: datetime | None
    data: bytes
    binary: bool = False  # sent as literal8 ``~{n}``
    options: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class QResync:
    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


#: RFC 5465 event names as the RFC spells them (the parser answers with these spellings)
NOTIFY_MESSAGE_EVENTS = ("MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange")
NOTIFY_OTHER_EVENTS = (
    "MailboxName",
    "SubscriptionChange",
    "MailboxMetadataChange",
    "ServerMetadataChange",
)


@dataclass(frozen=True, slots=True)
class NotifyEventGroup:
    """``(filter-mailboxes events)`` of NOTIFY SET (RFC 5465 §8).

    ``filter`` is upper case (``SELECTED``, ``SELECTED-DELAYED``, ``INBOXES``,
    ``PERSONAL``, ``SUBSCRIBED``, ``SUBTREE``, ``MAILBOXES``); ``mailboxes`` the names
    of SUBTREE/MAILBOXES (decoded, never wildcards); ``events`` the event names in the
    RFC's spelling (an unknown ``event-ext`` atom stays as sent, upper case), empty for
    NONE; ``fetch_attributes`` the MessageNew fetch-att list (selected filters only).
    """

    filter: str
    mailboxes: tuple[str, ...]
    events: tuple[str, ...]
    fetch_attributes: tuple[FetchAtt, ...] = ()

    @property
    def selected(self) -> bool:
        """True for SELECTED and SELECTED-DELAYED (the currently selected mailbox)."""
        return self.filter in ("SELECTED", "SELECTED-DELAYED")


# --------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    name: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Capability(Command):
    name: ClassVar[str] = "CAPABILITY"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    name: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Logout(Command):
    name: ClassVar[str] = "LOGOUT"


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    name: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """``initial_response`` None: none given; ``b""``: SASL-IR ``=`` (empty)."""

    mechanism: str = ""
    initial_response: bytes | None = None
    name: ClassVar[str] = "AUTHENTICATE"


@dataclass(frozen=True, slots=True)
class Login(Command):
    username: str = ""
    password: str = field(default="", repr=False)
    name: ClassVar[str] = "LOGIN"


@dataclass(frozen=True, slots=True)
class Enable(Command):
    capabilities: tuple[str, ...] = ()
    name: ClassVar[str] = "ENABLE"


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT, or EXAMINE when ``readonly``."""

    mailbox: str = ""
    readonly: bool = False
    condstore: bool = False
    qresync: QResync | None = None
    name: ClassVar[str] = "SELECT"


@dataclass(frozen=True, slots=True)
class Create(Command):
    mailbox: str = ""
    special_use: tuple[str, ...] = ()
    name: ClassVar[str] = "CREATE"


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str = ""
    name: ClassVar[str] = "DELETE"


@dataclass(frozen=True, slots=True)
class Rename(Command):
    old: str = ""
    new: str = ""
    name: ClassVar[str] = "RENAME"


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str = ""
    name: ClassVar[str] = "SUBSCRIBE"


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    mailbox: str = ""
    name: ClassVar[str] = "UNSUBSCRIBE"


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST with RFC 5258 selection/return options; ``status_items`` for RETURN (STATUS (...))."""

    reference: str = ""
    patterns: tuple[str, ...] = ()
    selection_options: tuple[str, ...] = ()
    return_options: tuple[str, ...] = ()
    status_items: tuple[str, ...] | None = None
    extended: bool = False
    name: ClassVar[str] = "LIST"


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    reference: str = ""
    pattern: str = ""
    name: ClassVar[str] = "LSUB"


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    name: ClassVar[str] = "NAMESPACE"


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()
    name: ClassVar[str] = "STATUS"


@dataclass(frozen=True, slots=True)
class Append(Command):
    """APPEND, several messages with MULTIAPPEND."""

    mailbox: str = ""
    messages: tuple[AppendMessage, ...] = ()
    name: ClassVar[str] = "APPEND"


@dataclass(frozen=True, slots=True)
class Idle(Command):
    name: ClassVar[str] = "IDLE"


@dataclass(frozen=True, slots=True)
class Check(Command):
    name: ClassVar[str] = "CHECK"


@dataclass(frozen=True, slots=True)
class Close(Command):
    name: ClassVar[str] = "CLOSE"


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    name: ClassVar[str] = "UNSELECT"


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE when ``uid_set`` is given."""

    uid_set: SequenceSet | None = None
    name: ClassVar[str] = "EXPUNGE"


@dataclass(frozen=True, slots=True)
class Search(Command):
    """``return_options`` None: classic SEARCH reply; a tuple: ESEARCH (empty = ALL)."""

    uid: bool = False
    charset: str | None = None
    key: SearchKey = AllKey()
    return_options: tuple[str, ...] | None = None
    name: ClassVar[str] = "SEARCH"


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    uid: bool = False
    sequence_set: SequenceSet = SequenceSet()
    attributes: tuple[FetchAtt, ...] = ()
    macro: str | None = None  # ALL / FAST / FULL when used
    changedsince: int | None = None
    vanished: bool = False
    name: ClassVar[str] = "FETCH"


@dataclass(frozen=True, slots=True)
class Store(Command):
    """``mode`` is ``""`` (replace), ``"+"`` or ``"-"``."""

    uid: bool = False
    sequence_set: SequenceSet = SequenceSet()
    mode: str = ""
    silent: bool = False
    flags: tuple[str, ...] = ()
    unchangedsince: int | None = None
    name: ClassVar[str] = "STORE"


@dataclass(frozen=True, slots=True)
class Copy(Command):
    uid: bool = False
    sequence_set: SequenceSet = SequenceSet()
    mailbox: str = ""
    name: ClassVar[str] = "COPY"


@dataclass(frozen=True, slots=True)
class Move(Command):
    uid: bool = False
    sequence_set: SequenceSet = SequenceSet()
    mailbox: str = ""
    name: ClassVar[str] = "MOVE"


@dataclass(frozen=True, slots=True)
class Sort(Command):
    uid: bool = False
    criteria: tuple[SortCriterion, ...] = ()
    charset: str = "UTF-8"
    key: SearchKey = AllKey()
    return_options: tuple[str, ...] | None = None
    name: ClassVar[str] = "SORT"


@dataclass(frozen=True, slots=True)
class Thread(Command):
    uid: bool = False
    algorithm: str = "REFERENCES"
    charset: str = "UTF-8"
    key: SearchKey = AllKey()
    name: ClassVar[str] = "THREAD"


@dataclass(frozen=True, slots=True)
class GetAcl(Command):
    mailbox: str = ""
    name: ClassVar[str] = "GETACL"


@dataclass(frozen=True, slots=True)
class SetAcl(Command):
    """``rights`` may start with ``+`` or ``-`` (RFC 4314)."""

    mailbox: str = ""
    identifier: str = ""
    rights: str = ""
    name: ClassVar[str] = "SETACL"


@dataclass(frozen=True, slots=True)
class DeleteAcl(Command):
    mailbox: str = ""
    identifier: str = ""
    name: ClassVar[str] = "DELETEACL"


@dataclass(frozen=True, slots=True)
class ListRights(Command):
    mailbox: str = ""
    identifier: str = ""
    name: ClassVar[str] = "LISTRIGHTS"


@dataclass(frozen=True, slots=True)
class MyRights(Command):
    mailbox: str = ""
    name: ClassVar[str] = "MYRIGHTS"


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    root: str = ""
    name: ClassVar[str] = "GETQUOTA"


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    mailbox: str = ""
    name: ClassVar[str] = "GETQUOTAROOT"


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    root: str = ""
    limits: tuple[tuple[str, int], ...] = ()
    name: ClassVar[str] = "SETQUOTA"


@dataclass(frozen=True, slots=True)
class Id(Command):
    """``params`` None for ``ID NIL``; values may be None."""

    params: tuple[tuple[str, str | None], ...] | None = None
    name: ClassVar[str] = "ID"


@dataclass(frozen=True, slots=True)
class Compress(Command):
    mechanism: str = "DEFLATE"
    name: ClassVar[str] = "COMPRESS"


@dataclass(frozen=True, slots=True)
class Notify(Command):
    """NOTIFY NONE (``groups`` None) or NOTIFY SET [STATUS] groups (RFC 5465)."""

    status: bool = False
    groups: tuple[NotifyEventGroup, ...] | None = None
    name: ClassVar[str] = "NOTIFY"


@dataclass(frozen=True, slots=True)
class Replace(Command):
    """REPLACE / UID REPLACE (RFC 8508): ``target`` is one sequence number or UID."""

    uid: bool = False
    target: int = 0
    mailbox: str = ""
    message: AppendMessage = AppendMessage((), None, b"")
    name: ClassVar[str] = "REPLACE"


__all__ = [
    n
    for n, v in dict(globals()).items()
    if isinstance(v, type) and v.__module__ == __name__ and not n.startswith("_")
] + ["NOTIFY_MESSAGE_EVENTS", "NOTIFY_OTHER_EVENTS"]
