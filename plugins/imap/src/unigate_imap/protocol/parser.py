"""The IMAP command grammar (RFC 9051 §9 and the extension RFCs): bytes -> `Command`.

`parse_command` takes one complete command as framed by `ServerConnection`: the
first line, and for each literal its ``{n}`` marker, CRLF and the ``n`` bytes
inline, followed by the rest of the line, without the final CRLF.  Grammar
errors raise `CommandSyntaxError` carrying the tag and the wire reply; nothing
else may escape (a fuzz test holds us to that).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from . import commands as c
from .limits import Limits
from .seqset import SequenceSet, SequenceSetError
from .utf7 import MUTF7Error, decode_mutf7

__all__ = ["CommandSyntaxError", "parse_command", "parse_tag"]

_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}
_ASTRING_SPECIALS = _ATOM_SPECIALS - {ord("]")}
_LIST_SPECIALS = _ATOM_SPECIALS - {ord("]"), ord("%"), ord("*")}
_TAG_SPECIALS = _ASTRING_SPECIALS | {ord("+")}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_SYSTEM_FLAGS = {
    f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
}
_UINT32 = 0xFFFFFFFF
_SEQ_START = frozenset(b"0123456789*$")
_UINT63 = 0x7FFFFFFFFFFFFFFF


class CommandSyntaxError(Exception):
    """A client command that cannot be accepted; ``response`` is the full wire reply."""

    def __init__(self, tag: str | None, text: str, *, response: bytes | None = None) -> None:
        super().__init__(text)
        self.tag = tag
        self.text = text
        self.response = response or f"{tag or '*'} BAD {text}\r\n".encode()


class _Bad(Exception):
    pass


class _Reader:
    __slots__ = ("buf", "pos", "limits", "tokens", "depth", "utf8")

    def __init__(self, buf: bytes, limits: Limits, utf8: bool) -> None:
        self.buf = buf
        self.pos = 0
        self.limits = limits
        self.tokens = 0
        self.depth = 0
        self.utf8 = utf8

    # -- basics
    def _tok(self) -> None:
        self.tokens += 1
        if self.tokens > self.limits.max_tokens:
            raise _Bad("too many tokens in command")

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def peek(self) -> int:
        return self.buf[self.pos] if self.pos < len(self.buf) else -1

    def startswith(self, text: bytes) -> bool:
        return self.buf[self.pos : self.pos + len(text)].upper() == text

    def expect(self, text: bytes) -> None:
        if not self.startswith(text):
            raise _Bad(f"expected {text.decode()!r}")
        self.pos += len(text)

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise _Bad("expected SP")
        self.pos += 1

    def try_sp(self) -> bool:
        if self.peek() == 0x20:
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise _Bad("unexpected characters at end of command")

    def open(self) -> None:
        if self.peek() != 0x28:
            raise _Bad("expected '('")
        self.pos += 1
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise _Bad("parentheses nested too deeply")

    def try_open(self) -> bool:
        if self.peek() == 0x28:
            self.open()
            return True
        return False

    def close(self) -> None:
        if self.peek() != 0x29:
            raise _Bad("expected ')'")
        self.pos += 1
        self.depth -= 1

    def try_close(self) -> bool:
        if self.peek() == 0x29:
            self.close()
            return True
        return False

    def _run(self, specials: frozenset[int]) -> bytes:
        self._tok()
        start = self.pos
        buf = self.buf
        n = len(buf)
        pos = start
        while pos < n and buf[pos] not in specials and buf[pos] < 0x80:
            pos += 1
        self.pos = pos
        return buf[start:pos]

    # -- tokens
    def atom(self) -> str:
        data = self._run(_ATOM_SPECIALS)
        if not data:
            raise _Bad("expected atom")
        return data.decode("ascii")

    def keyword(self) -> str:
        return self.atom().upper()

    def number(self, maximum: int = _UINT32, *, nonzero: bool = False) -> int:
        self._tok()
        start = self.pos
        buf = self.buf
        while self.pos < len(buf) and 0x30 <= buf[self.pos] <= 0x39:
            self.pos += 1
        digits = buf[start : self.pos]
        if not digits or len(digits) > 20:
            raise _Bad("expected number")
        value = int(digits)
        if value > maximum or (nonzero and value == 0):
            raise _Bad("number out of range")
        return value

    def quoted(self) -> bytes:
        self._tok()
        self.pos += 1  # opening quote
        out = bytearray()
        buf = self.buf
        while True:
            if self.pos >= len(buf):
                raise _Bad("unterminated quoted string")
            ch = buf[self.pos]
            self.pos += 1
            if ch == 0x22:
                return bytes(out)
            if ch == 0x5C:
                if self.pos >= len(buf) or buf[self.pos] not in (0x22, 0x5C):
                    raise _Bad("bad escape in quoted string")
                out.append(buf[self.pos])
                self.pos += 1
            elif ch in (0x0D, 0x0A, 0x00):
                raise _Bad("CR, LF or NUL in quoted string")
            else:
                out.append(ch)

    def literal(self, *, allow8: bool = False) -> tuple[bytes, bool]:
        """Returns ``(data, is_literal8)``."""
        self._tok()
        binary = False
        if self.peek() == 0x7E:  # "~"
            if not allow8:
                raise _Bad("literal8 not allowed here")
            binary = True
            self.pos += 1
        self.expect(b"{")
        size = self.number(maximum=1 << 62)
        if self.peek() == 0x2B:
            self.pos += 1
        self.expect(b"}\r\n")
        data = self.buf[self.pos : self.pos + size]
        if len(data) != size:
            raise _Bad("truncated literal")
        self.pos += size
        if not binary and 0 in data:
            raise _Bad("NUL in literal (use literal8)")
        return data, binary

    def string(self) -> bytes:
        ch = self.peek()
        if ch == 0x22:
            return self.quoted()
        if ch == 0x7B:
            return self.literal()[0]
        raise _Bad("expected string")

    def astring_bytes(self) -> bytes:
        ch = self.peek()
        if ch in (0x22, 0x7B):
            return self.string()
        data = self._run(_ASTRING_SPECIALS)
        if not data:
            raise _Bad("expected astring")
        return data

    def astring(self) -> str:
        return self.astring_bytes().decode("utf-8", "surrogateescape")

    def nstring(self) -> str | None:
        if self.startswith(b"NIL") and not self._atomchar_at(self.pos + 3):
            self.pos += 3
            self._tok()
            return None
        return self.string().decode("utf-8", "surrogateescape")

    def _atomchar_at(self, pos: int) -> bool:
        return pos < len(self.buf) and self.buf[pos] not in _ASTRING_SPECIALS

    def mailbox_text(self, raw: bytes) -> str:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad("mailbox name is not valid UTF-8") from None
        if not self.utf8:
            # a malformed name is kept as sent; the mailbox layer will simply not find it
            with contextlib.suppress(MUTF7Error):
                text = decode_mutf7(text)
        return "INBOX" if text.upper() == "INBOX" else text

    def mailbox(self) -> str:
        return self.mailbox_text(self.astring_bytes())

    def list_mailbox(self) -> str:
        ch = self.peek()
        raw = self.string() if ch in (0x22, 0x7B) else self._run(_LIST_SPECIALS)
        if ch not in (0x22, 0x7B) and not raw:
            raise _Bad("expected list-mailbox")
        return self.mailbox_text(raw)

    def seqset(self) -> SequenceSet:
        self._tok()
        start = self.pos
        buf = self.buf
        while self.pos < len(buf) and buf[self.pos] in b"0123456789:,*$":
            self.pos += 1
        try:
            return SequenceSet.parse(
                buf[start : self.pos].decode("ascii"), max_ranges=self.limits.max_tokens
            )
        except SequenceSetError as exc:
            raise _Bad(str(exc)) from None

    def flag(self) -> str:
        if self.peek() == 0x5C:
            self.pos += 1
            name = "\\" + self.atom()
            return _SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom()

    def flag_list(self) -> tuple[str, ...]:
        self.open()
        out: list[str] = []
        if not self.try_close():
            out.append(self.flag())
            while self.try_sp():
                out.append(self.flag())
            self.close()
        return tuple(out)

    def paren_atoms(self, *, allow_empty: bool = True) -> tuple[str, ...]:
        self.open()
        out: list[str] = []
        if not self.try_close():
            out.append(self.keyword())
            while self.try_sp():
                out.append(self.keyword())
            self.close()
        elif not allow_empty:
            raise _Bad("empty list")
        return tuple(out)

    def date_text(self) -> date:
        quoted = self.peek() == 0x22
        if quoted:
            self.pos += 1
        self._tok()
        start = self.pos
        while self.pos < len(self.buf) and self.buf[self.pos] not in b' )"':
            self.pos += 1
        text = self.buf[start : self.pos].decode("ascii", "replace")
        if quoted:
            self.expect(b'"')
        try:
            day, mon, year = text.split("-")
            if not (1 <= len(day) <= 2 and day.isdigit() and len(year) == 4 and year.isdigit()):
                raise ValueError
            return date(int(year), _MONTHS[mon.upper()], int(day))
        except (ValueError, KeyError):
            raise _Bad(f"bad date {text!r}") from None

    def date_time(self) -> datetime:
        self._tok()
        raw = self.quoted()
        text = raw.decode("ascii", "replace")
        try:
            fields = text.strip().split(" ")
            if len(fields) == 1:  # date only, as in the manual's APPEND example
                fields += ["00:00:00", "+0000"]
            dpart, tpart, zone = fields
            day, mon, year = dpart.split("-")
            hh, mm, ss = (int(x) for x in tpart.split(":"))
            if len(zone) != 5 or zone[0] not in "+-" or not zone[1:].isdigit():
                raise ValueError
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
            tz = timezone(-offset if zone[0] == "-" else offset)
            return datetime(int(year), _MONTHS[mon.upper()], int(day), hh, mm, ss, tzinfo=tz)
        except (ValueError, KeyError):
            raise _Bad(f"bad date-time {text!r}") from None


# ------------------------------------------------------------------ entry points
def parse_tag(line: bytes) -> str | None:
    """The tag of a (possibly broken) command line, or None when there is none."""
    end = 0
    while end < len(line) and end < 256 and line[end] not in _TAG_SPECIALS and line[end] < 0x80:
        end += 1
    if end == 0 or (end < len(line) and line[end] != 0x20):
        return None
    return line[:end].decode("ascii")


def parse_command(data: bytes, limits: Limits, *, utf8: bool = False) -> c.Command:
    """Parse one framed command (see module docstring)."""
    tag = parse_tag(data)
    if tag is None:
        raise CommandSyntaxError(None, "missing or invalid tag")
    r = _Reader(data, limits, utf8)
    r.pos = len(tag)
    try:
        r.sp()
        name = r.keyword()
        uid = False
        if name == "UID":
            r.sp()
            name = r.keyword()
            if name not in _UID_COMMANDS:
                raise _Bad(f"UID {name} is not a command")
            uid = True
        handler = _COMMANDS.get(name)
        if handler is None:
            raise _Bad(f"unknown command {name[:40]}")
        cmd = handler(r, tag, name, uid)
        r.end()
        return cmd
    except _Bad as exc:
        raise CommandSyntaxError(tag, str(exc)) from None
    except CommandSyntaxError:
        raise
    except RecursionError:
        raise CommandSyntaxError(tag, "command nested too deeply") from None


# ------------------------------------------------------------------ commands
_Handler = Callable[[_Reader, str, str, bool], c.Command]


def _simple(cls: type[c.Command]) -> _Handler:
    return lambda r, tag, name, uid: cls(tag)


def _authenticate(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mech = r.keyword()
    initial = None
    if r.try_sp():
        if r.peek() == 0x3D:  # "="
            r.pos += 1
            initial = b""
        else:
            token = r._run(_ATOM_SPECIALS)
            try:
                initial = base64.b64decode(token, validate=True)
            except (binascii.Error, ValueError):
                raise _Bad("invalid base64 initial response") from None
    return c.Authenticate(tag, mech, initial)


def _login(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    user = r.astring()
    r.sp()
    return c.Login(tag, user, r.astring())


def _enable(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    caps: list[str] = []
    while r.try_sp():
        caps.append(r.keyword())
    if not caps:
        raise _Bad("ENABLE needs a capability")
    return c.Enable(tag, tuple(caps))


def _select(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync = None
    if r.try_sp():
        r.open()
        while True:
            param = r.keyword()
            if param == "CONDSTORE":
                condstore = True
            elif param == "QRESYNC":
                r.sp()
                r.open()
                validity = r.number(nonzero=True)
                r.sp()
                modseq = r.number(_UINT63, nonzero=True)
                known = None
                match = None
                if r.try_sp():
                    if r.peek() != 0x28:
                        known = r.seqset()
                        r.try_sp()
                    if r.try_open():
                        a = r.seqset()
                        r.sp()
                        b = r.seqset()
                        r.close()
                        match = (a, b)
                r.close()
                qresync = c.QResync(validity, modseq, known, match)
            else:
                raise _Bad(f"unknown select parameter {param[:40]}")
            if not r.try_sp():
                break
        r.close()
    return c.Select(tag, mailbox, name == "EXAMINE", condstore, qresync)


def _one_mailbox(cls: Callable[[str, str], c.Command]) -> _Handler:
    def handler(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
        r.sp()
        return cls(tag, r.mailbox())

    return handler


def _create(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.try_sp():
        r.open()
        r.expect(b"USE")
        r.sp()
        uses = r.flag_list()
        r.close()
    return c.Create(tag, mailbox, uses)


def _rename(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    return c.Rename(tag, old, r.mailbox())


def _list(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    selection: tuple[str, ...] = ()
    extended = False
    if r.peek() == 0x28:
        selection = r.paren_atoms()
        extended = True
        r.sp()
    reference = r.mailbox()
    r.sp()
    patterns: list[str] = []
    if r.try_open():
        extended = True
        patterns.append(r.list_mailbox())
        while r.try_sp():
            patterns.append(r.list_mailbox())
        r.close()
    else:
        patterns.append(r.list_mailbox())
    returns: list[str] = []
    status_items = None
    if r.try_sp():
        extended = True
        r.expect(b"RETURN")
        r.sp()
        r.open()
        if not r.try_close():
            while True:
                opt = r.keyword()
                returns.append(opt)
                if opt == "STATUS":
                    r.sp()
                    status_items = r.paren_atoms(allow_empty=False)
                if not r.try_sp():
                    break
            r.close()
    return c.List(
        tag, reference, tuple(patterns), selection, tuple(returns), status_items, extended
    )


def _lsub(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    ref = r.mailbox()
    r.sp()
    return c.Lsub(tag, ref, r.list_mailbox())


def _status(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return c.Status(tag, mailbox, r.paren_atoms(allow_empty=False))


def _append_message(r: _Reader) -> c.AppendMessage:
    flags: tuple[str, ...] = ()
    when = None
    if r.peek() == 0x28:
        flags = r.flag_list()
        r.sp()
    if r.peek() == 0x22:
        when = r.date_time()
        r.sp()
    options: list[tuple[str, str | None]] = []
    if r.try_open():  # vendor append options: NAME or NAME(value)
        while True:
            opt = r.keyword()
            value = None
            if r.peek() == 0x28:
                r.open()
                value = r.astring()
                r.close()
            options.append((opt, value))
            if not r.try_sp():
                break
        r.close()
        r.sp()
    if r.startswith(b"CATENATE"):
        raise _Bad("CATENATE is not supported")
    data, binary = r.literal(allow8=True)
    return c.AppendMessage(flags, when, data, binary, tuple(options))


def _append(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    messages = []
    while r.try_sp():
        if messages:
            # RFC 3502's grammar has one SP between append-messages; imapclient's
            # multiappend sends two after a literal (Dovecot accepts it). Extra SPs
            # there cannot change the meaning of a valid command, so accept them.
            while r.try_sp():
                pass
        messages.append(_append_message(r))
    if not messages:
        raise _Bad("APPEND needs a message")
    return c.Append(tag, mailbox, tuple(messages))


def _expunge(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    if uid:
        r.sp()
        return c.Expunge(tag, r.seqset())
    return c.Expunge(tag)


# -- search
def _search_text(r: _Reader, charset: str) -> str:
    raw = r.astring_bytes()
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise _Bad("search text does not match the charset") from None


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True),
    "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True),
    "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True),
    "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True),
    "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True),
}
_TEXT_KEYS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
_DATE_KEYS = {
    "BEFORE": ("BEFORE", False),
    "ON": ("ON", False),
    "SINCE": ("SINCE", False),
    "SENTBEFORE": ("BEFORE", True),
    "SENTON": ("ON", True),
    "SENTSINCE": ("SINCE", True),
}


def _search_key(r: _Reader, charset: str) -> c.SearchKey:
    ch = r.peek()
    if ch == 0x28:
        r.open()
        keys = [_search_key(r, charset)]
        while r.try_sp():
            keys.append(_search_key(r, charset))
        r.close()
        return keys[0] if len(keys) == 1 else c.AndKey(tuple(keys))
    if ch in _SEQ_START:
        return c.SeqKey(r.seqset())
    word = r.keyword()
    if word in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[word]
        return c.FlagKey(flag, present)
    if word == "ALL":
        return c.AllKey()
    if word in _TEXT_KEYS:
        r.sp()
        return c.TextKey(word, _search_text(r, charset))
    if word in _DATE_KEYS:
        r.sp()
        op, sent = _DATE_KEYS[word]
        return c.DateKey(op, r.date_text(), sent)
    if word in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return c.FlagKey(r.flag(), word == "KEYWORD")
    if word == "NEW":
        return c.AndKey((c.FlagKey("\\Recent"), c.FlagKey("\\Seen", False)))
    if word == "OLD":
        return c.FlagKey("\\Recent", False)
    if word == "HEADER":
        r.sp()
        field = r.astring()
        r.sp()
        return c.TextKey("HEADER", _search_text(r, charset), field)
    if word in ("LARGER", "SMALLER"):
        r.sp()
        return c.SizeKey(word == "LARGER", r.number(_UINT63))
    if word == "NOT":
        r.sp()
        return c.NotKey(_search_key(r, charset))
    if word == "OR":
        r.sp()
        left = _search_key(r, charset)
        r.sp()
        return c.OrKey(left, _search_key(r, charset))
    if word == "UID":
        r.sp()
        return c.SeqKey(r.seqset(), uid=True)
    if word == "MODSEQ":
        r.sp()
        entry = etype = None
        if r.peek() == 0x22:
            entry = r.quoted().decode("utf-8", "replace")
            r.sp()
            etype = r.keyword()
            if etype not in ("PRIV", "SHARED", "ALL"):
                raise _Bad("bad MODSEQ entry type")
            r.sp()
        return c.ModSeqKey(r.number(_UINT63), entry, etype)
    if word in ("OLDER", "YOUNGER"):
        r.sp()
        return c.WithinKey(word == "OLDER", r.number(nonzero=True))
    if word in ("EMAILID", "THREADID"):
        r.sp()
        return c.ObjectIdKey(word, r.atom())
    raise _Bad(f"unknown search key {word[:40]}")


def _search_program(r: _Reader, charset: str) -> c.SearchKey:
    keys = [_search_key(r, charset)]
    while r.try_sp():
        keys.append(_search_key(r, charset))
    return keys[0] if len(keys) == 1 else c.AndKey(tuple(keys))


def _check_charset(tag: str, charset: str) -> str:
    try:
        codecs.lookup(charset)
    except LookupError:
        raise CommandSyntaxError(
            tag,
            "unsupported charset",
            response=f"{tag} NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n".encode(),
        ) from None
    return charset.upper()


def _return_opts(r: _Reader) -> tuple[str, ...] | None:
    if not r.startswith(b"RETURN "):
        return None
    r.expect(b"RETURN")
    r.sp()
    opts = r.paren_atoms()
    for opt in opts:
        if opt not in ("MIN", "MAX", "ALL", "COUNT", "SAVE"):
            raise _Bad(f"unknown search return option {opt[:40]}")
    r.sp()
    return opts


def _search(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    opts = _return_opts(r)
    charset = None
    if r.startswith(b"CHARSET "):
        r.expect(b"CHARSET")
        r.sp()
        charset = _check_charset(tag, r.astring())
        r.sp()
    key = _search_program(r, charset or "utf-8")
    return c.Search(tag, uid, charset, key, opts)


_SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)


def _sort(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    opts = _return_opts(r)
    words = r.paren_atoms(allow_empty=False)
    crit: list[c.SortCriterion] = []
    reverse = False
    for w in words:
        if w == "REVERSE" and not reverse:
            reverse = True
            continue
        if w not in _SORT_KEYS:
            raise _Bad(f"unknown sort key {w[:40]}")
        crit.append(c.SortCriterion(w, reverse))
        reverse = False
    if reverse or not crit:
        raise _Bad("REVERSE must precede a sort key")
    r.sp()
    charset = _check_charset(tag, r.astring())
    r.sp()
    return c.Sort(tag, uid, tuple(crit), charset, _search_program(r, charset), opts)


def _thread(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    algorithm = r.keyword()
    if algorithm not in ("ORDEREDSUBJECT", "REFERENCES"):
        raise _Bad(f"unknown thread algorithm {algorithm[:40]}")
    r.sp()
    charset = _check_charset(tag, r.astring())
    r.sp()
    return c.Thread(tag, uid, algorithm, charset, _search_program(r, charset))


# -- fetch
_SIMPLE_ATTS = frozenset(
    {
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
        "PREVIEW",
    }
)
_MACROS = {
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


def _section(r: _Reader, binary: bool) -> c.Section:
    r.expect(b"[")
    r._tok()
    start = r.pos
    while r.pos < len(r.buf) and r.buf[r.pos] not in b"] ":
        r.pos += 1
    spec = r.buf[start : r.pos].decode("ascii", "replace").upper()
    parts: list[int] = []
    pieces = spec.split(".") if spec else []
    while pieces and pieces[0].isdigit():
        value = int(pieces.pop(0))
        if value == 0 or value > _UINT32:
            raise _Bad("bad section part")
        parts.append(value)
    text = ".".join(pieces) or None
    fields: tuple[str, ...] = ()
    if binary and text is not None:
        raise _Bad("BINARY section takes part numbers only")
    if text is not None:
        if text not in ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
            raise _Bad("bad section text")
        if text == "MIME" and not parts:
            raise _Bad("MIME needs a part number")
        if text.startswith("HEADER.FIELDS"):
            r.sp()
            r.open()
            names = [r.astring().upper()]
            while r.try_sp():
                names.append(r.astring().upper())
            r.close()
            fields = tuple(names)
    r.expect(b"]")
    return c.Section(tuple(parts), text, fields)


def _fetch_att(r: _Reader) -> c.FetchAtt:
    r._tok()
    start = r.pos
    while r.pos < len(r.buf) and (chr(r.buf[r.pos]).isalnum() or r.buf[r.pos] == 0x2E):
        r.pos += 1
    word = r.buf[start : r.pos].decode("ascii", "replace").upper()
    if word in ("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE") and r.peek() == 0x5B:
        base = word.split(".")[0] if word != "BINARY.SIZE" else word
        section = _section(r, binary=base.startswith("BINARY"))
        partial = None
        if r.peek() == 0x3C and base != "BINARY.SIZE":
            r.pos += 1
            offset = r.number(_UINT63)  # number64 / nz-number64 (RFC 9051)
            r.expect(b".")
            count = r.number(_UINT63, nonzero=True)
            r.expect(b">")
            partial = (offset, count)
        return c.FetchAtt(base, section, partial, word.endswith(".PEEK"))
    if word in _SIMPLE_ATTS:
        return c.FetchAtt(word)
    raise _Bad(f"unknown fetch attribute {word[:40]}")


def _fetch_atts(r: _Reader) -> tuple[tuple[c.FetchAtt, ...], str | None]:
    if r.try_open():
        atts = [_fetch_att(r)]
        while r.try_sp():
            atts.append(_fetch_att(r))
        r.close()
        return tuple(atts), None
    for macro, names in _MACROS.items():
        if r.startswith(macro.encode()) and not r._atomchar_at(r.pos + len(macro)):
            r.pos += len(macro)
            return tuple(c.FetchAtt(n) for n in names), macro
    return (_fetch_att(r),), None


def _fetch(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    seq = r.seqset()
    r.sp()
    atts, macro = _fetch_atts(r)
    changed = None
    vanished = False
    if r.try_sp():
        r.open()
        while True:
            mod = r.keyword()
            if mod == "CHANGEDSINCE":
                r.sp()
                changed = r.number(_UINT63)
            elif mod == "VANISHED":
                vanished = True
            else:
                raise _Bad(f"unknown fetch modifier {mod[:40]}")
            if not r.try_sp():
                break
        r.close()
    if vanished and (not uid or changed is None):
        raise _Bad("VANISHED needs UID FETCH with CHANGEDSINCE")
    if uid and not any(a.name == "UID" for a in atts):
        atts = atts + (c.FetchAtt("UID"),)
    return c.Fetch(tag, uid, seq, atts, macro, changed, vanished)


def _store(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    seq = r.seqset()
    r.sp()
    unchanged = None
    if r.try_open():
        r.expect(b"UNCHANGEDSINCE")
        r.sp()
        unchanged = r.number(_UINT63)
        r.close()
        r.sp()
    mode = ""
    if r.peek() in (0x2B, 0x2D):
        mode = chr(r.peek())
        r.pos += 1
    item = r.keyword()
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise _Bad("expected FLAGS or FLAGS.SILENT")
    r.sp()
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        out = [r.flag()]
        while r.try_sp():
            out.append(r.flag())
        flags = tuple(out)
    return c.Store(tag, uid, seq, mode, item.endswith(".SILENT"), flags, unchanged)


def _copy_move(cls: Callable[[str, bool, SequenceSet, str], c.Command]) -> _Handler:
    def handler(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
        r.sp()
        seq = r.seqset()
        r.sp()
        return cls(tag, uid, seq, r.mailbox())

    return handler


def _mailbox_identifier(cls: Callable[[str, str, str], c.Command]) -> _Handler:
    def handler(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
        r.sp()
        mailbox = r.mailbox()
        r.sp()
        return cls(tag, mailbox, r.astring())

    return handler


def _setacl(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    ident = r.astring()
    r.sp()
    return c.SetAcl(tag, mailbox, ident, r.astring())


def _getquota(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    return c.GetQuota(tag, r.astring())


def _setquota(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    root = r.astring()
    r.sp()
    r.open()
    limits: list[tuple[str, int]] = []
    if not r.try_close():
        while True:
            res = r.keyword()
            r.sp()
            limits.append((res, r.number(_UINT63)))
            if not r.try_sp():
                break
        r.close()
    return c.SetQuota(tag, root, tuple(limits))


def _id(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    if r.startswith(b"NIL"):
        r.pos += 3
        return c.Id(tag, None)
    r.open()
    params: list[tuple[str, str | None]] = []
    if not r.try_close():
        while True:
            key = r.string().decode("utf-8", "replace")
            r.sp()
            params.append((key, r.nstring()))
            if not r.try_sp():
                break
        r.close()
    return c.Id(tag, tuple(params))


def _compress(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    return c.Compress(tag, r.keyword())


_NOTIFY_FILTERS = frozenset(
    {"SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES"}
)
_NOTIFY_EVENT_NAMES = {e.upper(): e for e in c.NOTIFY_MESSAGE_EVENTS + c.NOTIFY_OTHER_EVENTS}


def _notify(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    """NOTIFY (RFC 5465 §8), with the event rules whose breach is a BAD (§5, §6.1).

    Unknown event names are ``event-ext`` atoms: valid here, refused by the session
    with ``NO [BADEVENT]`` like the known events it does not support.
    """
    r.sp()
    word = r.keyword()
    if word == "NONE":
        return c.Notify(tag, False, None)
    if word != "SET":
        raise _Bad("expected NONE or SET")
    r.sp()
    status = False
    if r.startswith(b"STATUS "):
        r.expect(b"STATUS ")
        status = True
    groups: list[c.NotifyEventGroup] = []
    while True:
        groups.append(_notify_group(r))
        if not r.try_sp():
            break
    if sum(1 for g in groups if g.selected) > 1:
        raise _Bad("NOTIFY: SELECTED or SELECTED-DELAYED may be given once")
    return c.Notify(tag, status, tuple(groups))


def _notify_group(r: _Reader) -> c.NotifyEventGroup:
    r.open()
    filt = r.keyword()
    if filt not in _NOTIFY_FILTERS:
        raise _Bad(f"unknown NOTIFY filter {filt[:40]}")
    boxes: list[str] = []
    if filt in ("SUBTREE", "MAILBOXES"):
        r.sp()
        if r.try_open():
            boxes.append(r.mailbox())
            while r.try_sp():
                boxes.append(r.mailbox())
            r.close()
        else:
            boxes.append(r.mailbox())
    r.sp()
    events: list[str] = []
    fetch_atts: tuple[c.FetchAtt, ...] = ()
    if r.startswith(b"NONE") and not r._atomchar_at(r.pos + 4):
        r.expect(b"NONE")
    else:
        r.open()
        while True:
            word = r.keyword()
            ev = _NOTIFY_EVENT_NAMES.get(word, word)
            events.append(ev)
            if ev == "MessageNew" and r.startswith(b" ("):
                r.sp()
                r.open()
                atts = [_fetch_att(r)]
                while r.try_sp():
                    atts.append(_fetch_att(r))
                r.close()
                fetch_atts += tuple(atts)
            if not r.try_sp():
                break
        r.close()
    r.close()
    group = c.NotifyEventGroup(filt, tuple(boxes), tuple(events), fetch_atts)
    _check_notify_events(group)
    return group


def _check_notify_events(group: c.NotifyEventGroup) -> None:
    """The rules RFC 5465 answers with BAD: which events need which, and what SELECTED takes."""
    events = set(group.events)
    if ("MessageNew" in events) != ("MessageExpunge" in events):
        raise _Bad("NOTIFY: MessageNew and MessageExpunge must be given together")
    for needy in ("FlagChange", "AnnotationChange"):
        if needy in events and "MessageNew" not in events:
            raise _Bad(f"NOTIFY: {needy} needs MessageNew and MessageExpunge")
    if group.selected and events & set(c.NOTIFY_OTHER_EVENTS):
        raise _Bad("NOTIFY: only message events are allowed for the selected mailbox")
    if group.fetch_attributes and not group.selected:
        raise _Bad("NOTIFY: fetch attributes are only allowed for the selected mailbox")


def _replace(r: _Reader, tag: str, name: str, uid: bool) -> c.Command:
    r.sp()
    target = r.number(nonzero=True)
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return c.Replace(tag, uid, target, mailbox, _append_message(r))


_COMMANDS: dict[str, _Handler] = {
    "CAPABILITY": _simple(c.Capability),
    "NOOP": _simple(c.Noop),
    "LOGOUT": _simple(c.Logout),
    "STARTTLS": _simple(c.StartTLS),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "SELECT": _select,
    "EXAMINE": _select,
    "CREATE": _create,
    "DELETE": _one_mailbox(c.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(c.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(c.Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _simple(c.Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _simple(c.Idle),
    "CHECK": _simple(c.Check),
    "CLOSE": _simple(c.Close),
    "UNSELECT": _simple(c.Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy_move(c.Copy),
    "MOVE": _copy_move(c.Move),
    "SORT": _sort,
    "THREAD": _thread,
    "GETACL": _one_mailbox(c.GetAcl),
    "SETACL": _setacl,
    "DELETEACL": _mailbox_identifier(c.DeleteAcl),
    "LISTRIGHTS": _mailbox_identifier(c.ListRights),
    "MYRIGHTS": _one_mailbox(c.MyRights),
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _one_mailbox(c.GetQuotaRoot),
    "SETQUOTA": _setquota,
    "ID": _id,
    "COMPRESS": _compress,
    "NOTIFY": _notify,
    "REPLACE": _replace,
}
_UID_COMMANDS = frozenset(
    {"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "SORT", "THREAD", "EXPUNGE", "REPLACE"}
)
