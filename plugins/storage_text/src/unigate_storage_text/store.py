"""The text (``.mbox``) mailbox store: one file, From-line framed messages.

Why it looks like this: the file stays a legacy BSD mbox that local mailers can read
and append to, while the From-line comment (see :mod:`fromline`) carries UID, flags,
MODSEQ and the stored length, so opening jumps from message to message instead of
scanning, a torn tail is recognised by its length, and a flag change rewrites one
line in place. The first message is an invisible service message holding the
mailbox header (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, attributes) as padded JSON, so
attribute changes also rewrite in place. Big files get a ``.bdx`` index (:mod:`bdx`).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import mmap
import operator
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from unigate.api import fdatasync, fsync_dir, write_atomic, write_synced
from unigate_hookspecs.storage import (
    FlagChange,
    MailboxState,
    MailboxStore,
    MessageRecord,
    NewMessage,
)
from unigate_storage_text import bdx, fromline
from unigate_storage_text.copier import RunCopier

#: "Index Mailboxes larger than" (manual L11204)
DEFAULT_INDEX_THRESHOLD = 300 * 1024
HEADER_KIND = "mailbox"
_HEADER_PREFIX = b"Subject: Unigate mailbox data -- do not delete\nX-Unigate-Mailbox: 1\n\n"
_HEADER_ROOM = 512
_BOUNDARY = re.compile(rb"\n(\r?\n)From ")


@dataclass(slots=True)
class _Entry:
    """A message's place in the file and its metadata."""

    uid: int
    line_off: int
    line_len: int
    stored_len: int
    size: int
    internal_date: int
    modseq: int
    flags: frozenset[str]
    no_eol: bool
    #: None when the entry came from the index: read from the From-line when needed
    return_path: str | None = None
    #: needs a new From-line on the next write (legacy line, no length, duplicate UID)
    legacy: bool = False
    has_length: bool = True
    #: the flags or MODSEQ changed and the From-line on disk does not say so yet
    stale: bool = False

    @property
    def current(self) -> bool:
        """Does the From-line on disk describe the entry exactly (a rewrite may copy it)?"""
        return not (self.legacy or self.stale) and self.has_length

    @property
    def escapes(self) -> int:
        """How many ``>`` escaping added to the stored body."""
        return self.stored_len - self.size - (1 if self.no_eol else 0)

    @property
    def body_off(self) -> int:
        return self.line_off + self.line_len + 1

    def record(self) -> MessageRecord:
        return MessageRecord(self.uid, self.flags, self.internal_date, self.size, self.modseq)


@dataclass(slots=True)
class _Header:
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    attributes: dict[str, str]


def header_message(header: _Header, room: int = 0) -> tuple[bytes, bytes]:
    """The service message holding ``header``: (From-line, stored body incl. padding)."""
    payload = json.dumps(
        {
            "uidvalidity": header.uidvalidity,
            "uidnext": header.uidnext,
            "highestmodseq": header.highestmodseq,
            "attributes": header.attributes,
        },
        sort_keys=True,
    ).encode()
    body = _HEADER_PREFIX + payload
    if room == 0:
        room = len(body) + 1 + _HEADER_ROOM
    if len(body) + 1 > room:
        raise ValueError("header does not fit")
    body = body + b" " * (room - len(body) - 1) + b"\n"
    line = fromline.build(
        return_path="",
        uid=0,
        flags=frozenset(),
        internal_date=0,
        stored_length=len(body),
        modseq=0,
        no_eol=False,
        service=HEADER_KIND,
    )
    return line, body


def _parse_header(body: bytes) -> _Header | None:
    _, sep, payload = body.partition(b"\n\n")
    try:
        obj = json.loads(payload if sep else body)
        return _Header(
            int(obj["uidvalidity"]),
            int(obj["uidnext"]),
            int(obj["highestmodseq"]),
            {str(k): str(v) for k, v in obj.get("attributes", {}).items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


_RETURN_PATH = re.compile(rb"(?im)^return-path:[ \t]*<([^<>\s()]*)>")


def _return_path(data: bytes) -> str:
    """The Return-Path header's address, if it is safe in a From-line, else ''.

    Searched in the header (what precedes the first empty line, within 4 KB) in place:
    no copies of the head of every appended message.
    """
    end = 4096
    for blank in (b"\r\n\r\n", b"\n\n"):
        found = data.find(blank, 0, end)
        if found != -1:
            end = found
    m = _RETURN_PATH.search(data, 0, end)
    if m is None:
        return ""
    try:
        return m.group(1).decode("ascii")
    except UnicodeDecodeError:
        return ""


_UID = operator.attrgetter("uid")
_LEGACY = operator.attrgetter("legacy")
_MODSEQ = operator.attrgetter("modseq")
_HAS_LENGTH = operator.attrgetter("has_length")
_RECORD_FIELDS = operator.attrgetter("uid", "flags", "internal_date", "size", "modseq")


@contextlib.contextmanager
def _image(fd: int, size: int) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, mapped (an empty file cannot be mapped)."""
    if size == 0:
        yield b""
        return
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as image:
        yield image


class TextStore(MailboxStore):
    """An open ``.mbox`` file. The manager serialises calls, so there are no locks."""

    def __init__(self, path: Path, index_threshold: int = DEFAULT_INDEX_THRESHOLD) -> None:
        self.path = path
        self.index_path = path.with_name(path.name + ".bdx")
        self.index_threshold = index_threshold
        self._fd: int | None = None
        self._entries: list[_Entry] = []
        self._by_uid: dict[int, _Entry] = {}
        self._header = _Header(0, 1, 0, {})
        self._header_line_len = 0
        self._header_room = 0
        #: appends moved UIDNEXT/HIGHESTMODSEQ past what the header on disk says
        self._header_behind = False
        self._needs_rewrite = False
        self._index_state = "absent"  # absent | clean | dirty
        #: bytes of the file the index covers (0: no usable index)
        self._indexed_size = 0
        self._size = 0

    # -- opening ---------------------------------------------------------------
    def _open_fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR)
        return self._fd

    def load(self) -> MailboxState:
        # many new objects and no cycles: pause the cyclic GC during the open
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if gc_was_enabled:
                gc.enable()

    def _load(self) -> MailboxState:
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)  # a killed rewrite
        fd = self._open_fd()
        st = os.fstat(fd)
        size = st.st_size
        warnings: list[str] = []
        self._entries = []
        self._needs_rewrite = False
        header_end = self._load_header(fd, size, warnings)
        indexed = bdx.read(self.index_path, st.st_ino, size)
        start = header_end
        if indexed is not None and indexed[0] >= header_end:
            indexed_size, rows = indexed
            self._entries = list(itertools.starmap(_Entry, rows))
            start = indexed_size
            self._index_state = "clean"
            self._indexed_size = indexed_size
        else:
            self._index_state = "dirty" if self.index_path.exists() else "absent"
            self._indexed_size = 0
        if size > start:
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as image:
                parsed, good_end = self._scan(image, start, warnings)
        else:
            parsed, good_end = self._scan(b"", start, warnings)
        self._entries.extend(parsed)
        if good_end < size:
            os.ftruncate(fd, good_end)
            fdatasync(fd)
            warnings.append(f"torn tail cut: {size - good_end} bytes at offset {good_end}")
            size = good_end
        self._size = size
        self._fix_missing_separator(fd)
        in_order = self._assign_uids(warnings)
        self._by_uid = {e.uid: e for e in self._entries}
        if (
            (self._index_state != "clean" or parsed)
            and not self._needs_rewrite
            and self._size > self.index_threshold
        ):
            self._write_index()
        elif self._size <= self.index_threshold and self._index_state != "absent":
            self._remove_index()
        entries = self._entries if in_order else sorted(self._entries, key=_UID)
        # C loops only: the fields as a plain tuple, then the NamedTuple made from it
        # without its Python-level __new__
        records = list(map(tuple.__new__, repeat(MessageRecord), map(_RECORD_FIELDS, entries)))
        h = self._header
        return MailboxState(
            uidvalidity=h.uidvalidity,
            uidnext=h.uidnext,
            highestmodseq=h.highestmodseq,
            records=records,
            attributes=dict(h.attributes),
            warnings=warnings,
        )

    def _load_header(self, fd: int, size: int, warnings: list[str]) -> int:
        """Read the service header message; returns where the messages start."""
        head = os.pread(fd, min(size, 64 * 1024), 0)
        nl = head.find(b"\n")
        fl = fromline.parse(head[:nl]) if nl > 0 else None
        if fl is not None and fl.service == HEADER_KIND and fl.stored_length is not None:
            body_end = nl + 1 + fl.stored_length
            if body_end > len(head) and body_end <= size:
                head = os.pread(fd, body_end, 0)
            parsed = _parse_header(head[nl + 1 : body_end]) if body_end <= size else None
            if parsed is not None:
                self._header = parsed
                self._header_line_len = nl
                self._header_room = fl.stored_length
                end = body_end + 1 if head[body_end : body_end + 1] == b"\n" else body_end
                return end
            warnings.append("mailbox header message damaged: rebuilt")
        else:
            warnings.append("no mailbox header (legacy mbox): UIDVALIDITY and UIDs generated")
        stamp = int(os.fstat(fd).st_mtime) or int(time.time())
        self._header = _Header(stamp, 1, 0, {})
        self._header_line_len = 0
        self._header_room = 0
        self._needs_rewrite = True
        return 0

    def _scan(
        self, data: bytes | mmap.mmap, start: int, warnings: list[str]
    ) -> tuple[list[_Entry], int]:
        """Parse the messages of the file image ``data`` from ``start``.

        Returns them and the end of the last good one. With stored lengths the scan
        jumps from From-line to From-line and never touches the bodies.
        """
        out: list[_Entry] = []
        pos = start
        n = len(data)
        while pos < n:
            nl = data.find(b"\n", pos)
            if nl == -1:
                return out, pos  # torn From-line (or stray bytes) at the end
            fl = fromline.parse(data[pos:nl])
            if fl is None:
                m = _BOUNDARY.search(data, pos)
                skip_to = m.end() - 5 if m else n
                warnings.append(
                    f"skipped {skip_to - pos} bytes that are not a message at offset {pos}"
                )
                pos = skip_to
                continue
            body = nl + 1
            if fl.service is not None:
                if fl.stored_length is not None and body + fl.stored_length <= n:
                    end = body + fl.stored_length
                    pos = end + 1 if data[end : end + 1] == b"\n" else end
                    continue
                if fl.stored_length is not None:
                    return out, pos
            stored_len: int | None = None
            if fl.stored_length is not None:
                end = body + fl.stored_length
                if end > n:
                    warnings.append(f"torn message (UID {fl.uid}) cut at offset {pos}")
                    return out, pos
                if end == n or data[end : end + 1] == b"\n":
                    stored_len = fl.stored_length
                    nxt = min(end + 1, n)
                    following = data[nxt : nxt + 5]
                    if not b"From ".startswith(following):
                        stored_len = None  # the length is wrong (hand-edited file)
                if stored_len is None:
                    warnings.append(f"message UID {fl.uid}: length mismatch, boundary scanned")
            if stored_len is None:
                m = _BOUNDARY.search(data, nl)
                if m is not None:
                    nxt = m.end() - 5
                    stored_len = max(0, nxt - body - len(m.group(1)))
                else:
                    nxt = n
                    region = data[body:]
                    if region.endswith(b"\n\r\n") or region == b"\r\n":
                        stored_len = len(region) - 2
                    elif region.endswith(b"\n\n") or region == b"\n":
                        stored_len = len(region) - 1
                    else:
                        stored_len = len(region)
                has_length = False
            else:
                nxt = min(body + stored_len + 1, n)
                has_length = True
            if fl.service is not None:
                pos = nxt
                continue
            if has_length and fl.escapes is not None:
                escapes = fl.escapes
                no_eol = fl.no_eol
            else:
                stored = data[body : body + stored_len]
                escapes = fromline.count_escapes(stored)
                no_eol = fl.no_eol and stored.endswith(b"\n")
            msg_size = stored_len - escapes - (1 if no_eol else 0)
            date = fl.internal_date if fl.internal_date is not None else 0
            legacy = fl.uid is None or fl.uid == 0
            out.append(
                _Entry(
                    fl.uid or 0,
                    pos,
                    nl - pos,
                    stored_len,
                    msg_size,
                    date,
                    fl.modseq,
                    fl.flags,
                    no_eol,
                    fl.return_path,
                    legacy,
                    has_length,
                )
            )
            pos = nxt
        return out, pos

    def _fix_missing_separator(self, fd: int) -> None:
        if not self._entries:
            return
        last = self._entries[-1]
        if last.has_length and last.body_off + last.stored_len == self._size:
            os.pwrite(fd, b"\n", self._size)
            fdatasync(fd)
            self._size += 1

    def _assign_uids(self, warnings: list[str]) -> bool:
        """Give legacy and duplicate-UID messages new UIDs; True when the entries are
        then in UID order. The usual file (ours, UIDs increasing) is checked with C
        loops only."""
        h = self._header
        entries = self._entries
        uids = list(map(_UID, entries))
        increasing = all(map(operator.lt, [0, *uids], uids))
        if increasing and not any(map(_LEGACY, entries)):
            h.highestmodseq = max(h.highestmodseq, max(map(_MODSEQ, entries), default=0))
            h.uidnext = max(h.uidnext, uids[-1] + 1 if uids else 1)
            if not all(map(_HAS_LENGTH, entries)):
                self._needs_rewrite = True
            return True
        seen: set[int] = set()
        top = 0
        for e in self._entries:
            if not e.legacy and (e.uid in seen or e.uid <= top):
                e.legacy = True
            if not e.legacy:
                seen.add(e.uid)
                top = e.uid
            if e.modseq > h.highestmodseq:
                h.highestmodseq = e.modseq
        h.uidnext = max(h.uidnext, top + 1)
        legacy = [e for e in self._entries if e.legacy]
        for e in legacy:
            e.uid = h.uidnext
            h.uidnext += 1
            e.modseq = e.modseq or h.highestmodseq
        if legacy:
            self._needs_rewrite = True
            warnings.append(
                f"legacy mbox: {len(legacy)} message(s) without a usable From-line comment; "
                "UIDs generated, flags empty until the first change rewrites the file"
            )
        if self._entries and any(not e.has_length for e in self._entries):
            self._needs_rewrite = True
        uids = list(map(_UID, entries))
        return all(map(operator.lt, uids, uids[1:]))

    # -- writing ---------------------------------------------------------------
    def append(self, messages: Sequence[NewMessage]) -> list[MessageRecord]:
        fd = self._open_fd()
        if os.fstat(fd).st_size != self._size:
            self._load()  # a local mailer appended (Legacy INBOX): never write over it
        if self._needs_rewrite:
            self._rewrite(set())
        fd = self._open_fd()
        h = self._header
        chunks: list[bytes | memoryview] = []
        new: list[_Entry] = []
        records: list[MessageRecord] = []
        off = self._size
        now = int(time.time())
        for msg in messages:
            data = msg.data
            points = fromline.escape_points(data)
            no_eol = not data.endswith(b"\n")
            stored_len = len(data) + len(points) + (1 if no_eol else 0)
            date = msg.internal_date or now
            rp = _return_path(data)
            flags = frozenset(msg.flags)
            uid = h.uidnext
            line = fromline.build(
                return_path=rp,
                uid=uid,
                flags=flags,
                internal_date=date,
                stored_length=stored_len,
                modseq=msg.modseq,
                no_eol=no_eol,
                escapes=len(points),
            )
            chunks.append(line + b"\n")
            if points:
                chunks += fromline.escaped_pieces(data, points)
            else:
                chunks.append(data)
            chunks.append(b"\n\n" if no_eol else b"\n")
            new.append(
                _Entry(
                    uid, off, len(line), stored_len, len(data), date, msg.modseq, flags, no_eol, rp
                )
            )
            records.append(tuple.__new__(MessageRecord, (uid, flags, date, len(data), msg.modseq)))
            off += len(line) + stored_len + 2
            h.uidnext = uid + 1
            if msg.modseq > h.highestmodseq:
                h.highestmodseq = msg.modseq
        # the message bytes go to the kernel where they are: no joined copy of the batch.
        # The header is not rewritten: the From-lines just written carry the new UIDs
        # and MODSEQs, which an open takes over the header's (`_assign_uids`), so one
        # place on disk is flushed per append, not two; `close` catches the header up.
        write_synced(fd, chunks, self._size)
        self._header_behind = True
        self._size = off
        self._entries.extend(new)
        self._by_uid.update((e.uid, e) for e in new)
        return records

    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        if not changes:
            return
        if self._needs_rewrite:
            self._rewrite(set())
        pending: list[tuple[_Entry, bytes]] = []
        overflow = False
        for ch in changes:
            e = self._by_uid.get(ch.uid)
            if e is None:
                continue
            e.flags = frozenset(ch.flags)
            e.modseq = ch.modseq
            e.stale = True
            self._header.highestmodseq = max(self._header.highestmodseq, ch.modseq)
            try:
                line = fromline.build(
                    return_path=self._return_path_of(e),
                    uid=e.uid,
                    flags=e.flags,
                    internal_date=e.internal_date,
                    stored_length=e.stored_len,
                    modseq=e.modseq,
                    no_eol=e.no_eol,
                    width=e.line_len,
                    escapes=e.escapes,
                )
            except ValueError:
                overflow = True
                continue
            pending.append((e, line))
        if overflow:
            self._rewrite(set())
            return
        if not pending:
            return
        self._dirty_index()
        fd = self._open_fd()
        for e, line in pending:
            os.pwrite(fd, line, e.line_off)
        fdatasync(fd)
        for e, _line in pending:
            e.stale = False

    def expunge(self, uids: Sequence[int], modseq: int) -> None:
        self._header.highestmodseq = max(self._header.highestmodseq, modseq)
        gone = {u for u in uids if u in self._by_uid}
        if not gone and not self._needs_rewrite:
            return
        self._rewrite(gone)

    def _return_path_of(self, e: _Entry) -> str:
        if e.return_path is None:
            e.return_path = fromline.return_path(os.pread(self._open_fd(), e.line_len, e.line_off))
        return e.return_path

    def _write_header_in_place(self, fd: int) -> bool:
        """Rewrite the header message's padded body; False when it does not fit."""
        if self._header_room == 0:
            return False
        try:
            _line, body = header_message(self._header, self._header_room)
        except ValueError:
            return False
        os.pwrite(fd, body, self._header_line_len + 1)
        self._header_behind = False
        return True

    def set_attributes(self, attributes: dict[str, str]) -> None:
        self._header.attributes = dict(attributes)
        fd = self._open_fd()
        if self._needs_rewrite or not self._write_header_in_place(fd):
            self._rewrite(set())
            return
        fdatasync(fd)

    def compact(self) -> None:
        if self._needs_rewrite:
            self._rewrite(set())

    def read(self, uid: int) -> bytes:
        e = self._by_uid[uid]
        stored = os.pread(self._open_fd(), e.stored_len, e.body_off)
        data = fromline.unescape(stored)
        return data[:-1] if e.no_eol else data

    def close(self) -> None:
        """Close the file; first bring the index up to date when flags changed or
        messages were appended since it was written, so the next open reads it."""
        if self._fd is not None:
            behind = self._header_behind and not self._needs_rewrite
            if behind and self._write_header_in_place(self._fd):
                fdatasync(self._fd)
            stale = self._index_state == "dirty" or self._indexed_size < self._size
            if stale and self._size > self.index_threshold and not self._needs_rewrite:
                self._write_index()
            os.close(self._fd)
            self._fd = None

    # -- whole-file rewrite and the index --------------------------------------
    def _rewrite(self, drop: set[int]) -> None:
        """Write the live messages to a new file and rename it over (compaction).

        A message whose From-line is current moves byte for byte (From-line, body,
        separator) as part of a run of adjacent ones, copied in the kernel; only the
        others get a new From-line, and their bodies are read.
        """
        fd = self._open_fd()
        if os.fstat(fd).st_size != self._size:
            self._load()  # take in what a local mailer appended before dropping the file
            fd = self._open_fd()
        h = self._header
        line, body = header_message(h)
        self._header_line_len = len(line)
        self._header_room = len(body)
        self._header_behind = False
        tmp = self.path.with_name(self.path.name + ".tmp")
        out = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            copier = RunCopier(fd, out)
            copier.write(line + b"\n" + body + b"\n")
            with _image(fd, self._size) as image:
                kept = [self._move(e, image, copier) for e in self._entries if e.uid not in drop]
            copier.flush()
            os.fsync(out)
        finally:
            os.close(out)
        self._remove_index()
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        os.close(fd)
        self._fd = None
        self._entries = kept
        self._by_uid = {e.uid: e for e in kept}
        self._size = copier.size
        self._needs_rewrite = False
        if self._size > self.index_threshold:
            self._write_index()

    def _move(self, e: _Entry, image: bytes | mmap.mmap, copier: RunCopier) -> _Entry:
        """Put one message in the rewritten file; returns its entry there."""
        off = copier.size
        end = e.body_off + e.stored_len
        if e.current and image[end - 1 : end] == b"\n":
            copier.copy(e.line_off, end + 1 - e.line_off)  # the separator after it too
            return _Entry(
                e.uid,
                off,
                e.line_len,
                e.stored_len,
                e.size,
                e.internal_date,
                e.modseq,
                e.flags,
                e.no_eol,
                e.return_path,
            )
        stored = image[e.body_off : end]
        no_eol = e.no_eol
        if not stored.endswith(b"\n"):
            stored += b"\n"
            no_eol = True
        new_line = fromline.build(
            return_path=self._return_path_of(e),
            uid=e.uid,
            flags=e.flags,
            internal_date=e.internal_date,
            stored_length=len(stored),
            modseq=e.modseq,
            no_eol=no_eol,
            escapes=e.escapes,
        )
        copier.write(new_line + b"\n" + stored + b"\n")
        return _Entry(
            e.uid,
            off,
            len(new_line),
            len(stored),
            e.size,
            e.internal_date,
            e.modseq,
            e.flags,
            no_eol,
            self._return_path_of(e),
        )

    def _write_index(self) -> None:
        st = os.fstat(self._open_fd())
        rows = [
            bdx.IndexRow(
                e.uid,
                e.line_off,
                e.line_len,
                e.stored_len,
                e.size,
                e.internal_date,
                e.modseq,
                e.flags,
                e.no_eol,
            )
            for e in self._entries
        ]
        bdx.write(self.index_path, st.st_ino, self._size, rows)
        self._index_state = "clean"
        self._indexed_size = self._size

    def _dirty_index(self) -> None:
        if self._index_state == "clean":
            bdx.mark_dirty(self.index_path)
            self._index_state = "dirty"

    def _remove_index(self) -> None:
        if self._index_state != "absent" or self.index_path.exists():
            self.index_path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
        self._index_state = "absent"
        self._indexed_size = 0


def create(path: Path, uidvalidity: int) -> None:
    """Write an empty mailbox: just the service header message."""
    line, body = header_message(_Header(uidvalidity, 1, 0, {}))
    if path.exists():
        raise FileExistsError(path)
    write_atomic(path, [line, b"\n", body, b"\n"])
