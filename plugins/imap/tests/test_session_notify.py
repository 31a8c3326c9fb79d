"""NOTIFY (RFC 5465) end to end: unsolicited STATUS, FETCH, EXPUNGE and LIST on the wire.

Every "arrives without a command" assertion reads the socket while the client sends
nothing; the other session (or a delivery through the kernel) makes the change.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from unigate.api import mailboxes as mb
from unigate.testing.server import serve_in_thread

A, B = "a@example.test", "b@example.test"
PASSWORDS = {A: "pw-a", B: "pw-b"}
SUPPORTED = b"BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_in_thread(
        tmp_path_factory.mktemp("notify"), plugins=["imap", "storage_sliced"]
    ) as running:
        objects = running.server.objects
        for account, password in PASSWORDS.items():
            objects.add_account(account, settings={"PasswordEncryption": "clear"})
            objects.update_account_settings(account, {"Password": password})
        yield running


class Client:
    """A raw IMAP client: commands are written by hand, every line read is kept."""

    def __init__(self, server: Any, account: str = A) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port("imap")), timeout=5)
        self.buf = b""
        self.n = 0
        assert self.line().startswith(b"* OK")
        assert self.cmd(f"LOGIN {account} {PASSWORDS[account]}").startswith(b"OK")

    def line(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        if out.endswith(b"}"):  # a literal: keep it on the line
            size = int(out.rsplit(b"{", 1)[1][:-1])
            while len(self.buf) < size:
                self.buf += self.sock.recv(65536)
            out += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]
            out += self.line(timeout)
        return out

    def cmd(self, text: str | bytes) -> bytes:
        """Send one command; return its tagged reply without the tag (untagged in .seen)."""
        self.n += 1
        tag = b"t%d" % self.n
        data = text.encode() if isinstance(text, str) else text
        self.sock.sendall(tag + b" " + data + b"\r\n")
        self.seen: list[bytes] = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line[len(tag) + 1 :]
            self.seen.append(line)

    def expect(self, pattern: bytes, timeout: float = 3.0) -> bytes:
        """The next unsolicited line matching ``pattern`` (a regex), read without a command."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; got {skipped}")
            try:
                line = self.line(remaining)
            except TimeoutError:
                continue
            if re.fullmatch(pattern, line, re.DOTALL):
                return line
            skipped.append(line)

    def quiet(self, seconds: float = 0.4) -> list[bytes]:
        """Whatever arrives within ``seconds`` (usually asserted to be nothing)."""
        got = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self.line(remaining))
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def pair(server: Any) -> Iterator[tuple[Client, Client]]:
    a, other = Client(server), Client(server)
    yield a, other
    a.close()
    other.close()


def _msg(subject: str) -> bytes:
    return f"From: x@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


def deliver(server: Any, account: str, mailbox: str, subject: str = "hi") -> int:
    mgr = server.server.service("mailboxes")
    return int(server.call(mgr.deliver, account, mailbox, _msg(subject)))


def test_capability(pair: tuple[Client, Client]) -> None:
    a, _ = pair
    assert a.cmd("CAPABILITY").startswith(b"OK")
    assert b" NOTIFY" in a.seen[0]


def test_new_message_elsewhere_gives_status_without_a_command(
    server: Any, pair: tuple[Client, Client]
) -> None:
    a, other = pair
    assert other.cmd("CREATE Reports").startswith(b"OK")
    assert a.cmd("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))") == b"OK NOTIFY completed"
    deliver(server, A, "Reports")
    line = a.expect(rb"\* STATUS Reports \(.*\)")
    assert re.fullmatch(
        rb"\* STATUS Reports \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)", line
    ), line
    # an expunge by the other session: MESSAGES drops
    assert other.cmd("SELECT Reports").startswith(b"OK")
    assert other.cmd("STORE 1 +FLAGS (\\Deleted)").startswith(b"OK")
    assert other.cmd("EXPUNGE").startswith(b"OK")
    assert re.fullmatch(
        rb"\* STATUS Reports \(MESSAGES 0 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)",
        a.expect(rb"\* STATUS Reports .*"),
    )
    # FlagChange was not asked for: a flag change says nothing
    deliver(server, A, "Reports")
    a.expect(rb"\* STATUS Reports .*")
    assert other.cmd("NOOP").startswith(b"OK")
    assert other.cmd("STORE 1 +FLAGS (\\Seen)").startswith(b"OK")
    assert a.quiet() == []


def test_set_status_and_condstore_highestmodseq(server: Any, pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert other.cmd("CREATE Stat1").startswith(b"OK")
    deliver(server, A, "Stat1")
    assert a.cmd("ENABLE CONDSTORE").startswith(b"OK")
    assert a.cmd("SELECT INBOX").startswith(b"OK")
    reply = a.cmd(
        "NOTIFY SET STATUS (SELECTED NONE) (MAILBOXES (Stat1 INBOX) (MessageNew MessageExpunge FlagChange))"
    )
    assert reply == b"OK NOTIFY completed"
    # one STATUS before the OK, with HIGHESTMODSEQ; none for the selected INBOX
    assert [x for x in a.seen if x.startswith(b"* STATUS")] == [a.seen[-1]]
    assert re.fullmatch(
        rb"\* STATUS Stat1 \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)",
        a.seen[-1],
    )
    # FlagChange in another mailbox: a STATUS with the new HIGHESTMODSEQ
    assert other.cmd("SELECT Stat1").startswith(b"OK")
    assert other.cmd("STORE 1 +FLAGS (\\Flagged)").startswith(b"OK")
    a.expect(rb"\* STATUS Stat1 \(MESSAGES 1 .* HIGHESTMODSEQ \d+\)")
    # the selected mailbox is a snapshot with SELECTED NONE: no EXISTS, not even at NOOP
    deliver(server, A, "INBOX")
    assert a.quiet() == []
    assert a.cmd("NOOP") == b"OK NOOP completed" and a.seen == []


def test_selected_mailbox_updates_arrive_unsolicited(
    server: Any, pair: tuple[Client, Client]
) -> None:
    a, other = pair
    assert other.cmd("CREATE Live").startswith(b"OK")
    uid = deliver(server, A, "Live", "first")
    assert a.cmd("SELECT Live").startswith(b"OK")
    assert other.cmd("SELECT Live").startswith(b"OK")
    reply = a.cmd(
        "NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
        " MessageExpunge FlagChange))"
    )
    assert reply == b"OK NOTIFY completed"
    # a flag change by the other session: FETCH with UID and FLAGS, no command needed
    assert other.cmd(f"UID STORE {uid} +FLAGS (\\Flagged)").startswith(b"OK")
    assert a.expect(rb"\* 1 FETCH .*") == b"* 1 FETCH (FLAGS (\\Flagged) UID %d)" % uid
    # a new message: EXISTS, then the FETCH the client asked for
    uid2 = deliver(server, A, "Live", "second")
    assert a.expect(rb"\* \d+ EXISTS") == b"* 2 EXISTS"
    assert a.expect(rb"\* 2 FETCH .*", 3) == (
        b"* 2 FETCH (UID %d BODY[HEADER.FIELDS (SUBJECT)] {19}\r\nSubject: second\r\n\r\n)" % uid2
    )
    # an expunge: at once (SELECTED, not SELECTED-DELAYED)
    assert other.cmd(f"UID STORE {uid} +FLAGS (\\Deleted)").startswith(b"OK")
    a.expect(rb"\* 1 FETCH .*")
    assert other.cmd("EXPUNGE").startswith(b"OK")
    assert a.expect(rb"\* \d+ EXPUNGE") == b"* 1 EXPUNGE"
    # the session's own STORE is answered by the command, not repeated unsolicited
    assert a.cmd(f"UID STORE {uid2} +FLAGS (\\Seen)").startswith(b"OK")
    assert a.quiet() == []


def test_no_messagenew_fetch_for_the_sessions_own_additions(
    server: Any, pair: tuple[Client, Client]
) -> None:
    """RFC 5465 §5.2: what the session appended, copied or moved into the selected
    mailbox itself gets its EXISTS but no MessageNew FETCH; a delivery still does."""
    a, other = pair
    assert a.cmd("CREATE Own").startswith(b"OK")
    assert a.cmd("CREATE Elsewhere").startswith(b"OK")
    uid = deliver(server, A, "Own", "first")
    deliver(server, A, "Elsewhere", "moved")
    assert a.cmd("SELECT Own").startswith(b"OK")
    assert a.cmd("NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge))").startswith(b"OK")
    data = _msg("appended")
    assert a.cmd(b"APPEND Own {%d+}\r\n%s" % (len(data), data)).startswith(b"OK [APPENDUID")
    lines = a.seen
    assert a.cmd(f"UID COPY {uid} Own").startswith(b"OK [COPYUID")
    lines += a.seen
    assert a.cmd(f"UID COPY {uid} ~{A}/Own").startswith(b"OK")  # another name of it
    lines += a.seen + a.quiet()
    assert b"* 4 EXISTS" in lines and not [line for line in lines if b"FETCH" in line]
    uid_new = deliver(server, A, "Own", "delivered")
    assert a.expect(rb"\* 5 FETCH .*") == b"* 5 FETCH (UID %d)" % uid_new
    assert other.cmd("SELECT Elsewhere").startswith(b"OK")
    assert other.cmd("MOVE 1 Own").startswith(b"OK")  # moved in by another session
    assert a.expect(rb"\* 6 FETCH .*").startswith(b"* 6 FETCH (UID ")


def test_selected_delayed_holds_expunges_until_a_command_allows_them(
    server: Any, pair: tuple[Client, Client]
) -> None:
    a, other = pair
    assert other.cmd("CREATE Delay").startswith(b"OK")
    for i in range(3):
        deliver(server, A, "Delay", f"m{i}")
    assert a.cmd("SELECT Delay").startswith(b"OK")
    assert other.cmd("SELECT Delay").startswith(b"OK")
    assert a.cmd("NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))").startswith(b"OK")
    assert other.cmd("STORE 1 +FLAGS (\\Deleted)").startswith(b"OK")
    assert other.cmd("EXPUNGE").startswith(b"OK")
    deliver(server, A, "Delay", "m3")
    # the new message is announced at once; the expunge is not (numbers stay valid)
    assert a.expect(rb"\* \d+ EXISTS") == b"* 4 EXISTS"
    assert a.quiet() == []
    # non-UID FETCH may not carry an EXPUNGE; NOOP does
    assert a.cmd("FETCH 1 (UID)").startswith(b"OK")
    assert not any(x.endswith(b"EXPUNGE") for x in a.seen)
    assert a.cmd("NOOP").startswith(b"OK")
    assert a.seen == [b"* 1 EXPUNGE"]


def test_mailbox_names_created_renamed_deleted(pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert a.cmd("NOTIFY SET (PERSONAL (MailboxName))").startswith(b"OK")
    assert other.cmd("CREATE Proj/Alpha").startswith(b"OK")
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasChildren \\Noselect) "/" Proj'
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasNoChildren) "/" Proj/Alpha'
    assert other.cmd("RENAME Proj/Alpha Beta").startswith(b"OK")
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasNoChildren) "/" Beta ("OLDNAME" (Proj/Alpha))'
    assert other.cmd("DELETE Beta").startswith(b"OK")
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\NonExistent) "/" Beta'
    # the client's own changes are not reported back to it
    assert a.cmd("CREATE Mine").startswith(b"OK")
    assert a.cmd("DELETE Mine").startswith(b"OK")
    assert a.quiet() == []


def test_subscription_changes(pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert other.cmd("CREATE Subs").startswith(b"OK")
    assert a.cmd(
        "NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge)) (PERSONAL (SubscriptionChange))"
    ).startswith(b"OK")
    assert other.cmd("SUBSCRIBE Subs").startswith(b"OK")
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasNoChildren \\Subscribed) "/" Subs'
    assert other.cmd("UNSUBSCRIBE Subs").startswith(b"OK")
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasNoChildren) "/" Subs'
    assert other.cmd("SUBSCRIBE Ghost").startswith(b"OK")  # a name that does not exist
    assert a.expect(rb"\* LIST .*") == b'* LIST (\\NonExistent \\Subscribed) "/" Ghost'
    assert other.cmd("UNSUBSCRIBE Ghost").startswith(b"OK")
    a.expect(rb'\* LIST \(\\NonExistent\) "/" Ghost')


def test_subscribed_filter_follows_the_subscription_list(
    server: Any, pair: tuple[Client, Client]
) -> None:
    a, other = pair
    assert other.cmd("CREATE Followed").startswith(b"OK")
    assert a.cmd("NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge))").startswith(b"OK")
    deliver(server, A, "Followed")
    assert a.quiet() == []
    assert other.cmd("SUBSCRIBE Followed").startswith(b"OK")  # §6.4: re-evaluated at once
    deliver(server, A, "Followed")
    a.expect(rb"\* STATUS Followed \(MESSAGES 2 .*\)")
    assert other.cmd("UNSUBSCRIBE Followed").startswith(b"OK")


def test_notify_none_stops_everything(server: Any, pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert a.cmd("SELECT INBOX").startswith(b"OK")
    assert a.cmd(
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (PERSONAL (MessageNew MessageExpunge MailboxName))"
    ).startswith(b"OK")
    assert other.cmd("CREATE Quiet").startswith(b"OK")
    a.expect(rb'\* LIST .* "/" Quiet')
    assert a.cmd("NOTIFY NONE") == b"OK NOTIFY completed"
    assert other.cmd("DELETE Quiet").startswith(b"OK")
    deliver(server, A, "INBOX")
    assert a.quiet() == []
    assert a.cmd("NOOP") == b"OK NOOP completed" and a.seen == []  # a snapshot from now on


def test_notify_set_is_an_implicit_noop(server: Any, pair: tuple[Client, Client]) -> None:
    a, _ = pair
    assert a.cmd("CREATE Implicit").startswith(b"OK")
    assert a.cmd("SELECT Implicit").startswith(b"OK")
    deliver(server, A, "Implicit")
    assert a.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge))").startswith(b"OK")
    assert a.seen == [b"* 1 EXISTS"]


def test_idle_reports_what_notify_asked_for(server: Any, pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert other.cmd("CREATE IdleBox").startswith(b"OK")
    assert a.cmd("NOTIFY SET (MAILBOXES IdleBox (MessageNew MessageExpunge))").startswith(b"OK")
    a.n += 1
    a.sock.sendall(b"t%d IDLE\r\n" % a.n)
    assert a.line().startswith(b"+ ")
    deliver(server, A, "IdleBox")
    a.expect(rb"\* STATUS IdleBox \(MESSAGES 1 .*\)")
    a.sock.sendall(b"DONE\r\n")
    assert a.line() == b"t%d OK IDLE terminated" % a.n


@pytest.mark.parametrize(
    "events",
    [
        "MessageNew MessageExpunge AnnotationChange",
        "MailboxMetadataChange",
        "ServerMetadataChange",
        "MailboxName Frobnicate",
    ],
)
def test_unsupported_events_get_badevent(pair: tuple[Client, Client], events: str) -> None:
    a, _ = pair
    assert (
        a.cmd(f"NOTIFY SET (PERSONAL ({events}))")
        == b"NO [" + SUPPORTED + b"] Unsupported NOTIFY event"
    )


def test_bad_event_combinations_on_the_wire(pair: tuple[Client, Client]) -> None:
    a, _ = pair
    assert a.cmd("NOTIFY SET (INBOXES (MessageNew))") == (
        b"BAD NOTIFY: MessageNew and MessageExpunge must be given together"
    )
    assert a.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge SubscriptionChange))") == (
        b"BAD NOTIFY: only message events are allowed for the selected mailbox"
    )
    # a refused NOTIFY leaves the previous one in place: here, none (the default)
    assert a.cmd("NOOP") == b"OK NOOP completed"


def test_overflow_turns_notify_off(server: Any, pair: tuple[Client, Client]) -> None:
    a, other = pair
    assert a.cmd("NOTIFY SET (PERSONAL (MailboxName))").startswith(b"OK")
    mgr = server.server.service("mailboxes")

    def flood() -> None:  # faster than any session can take them: no await in between
        for watch in list(mgr._watches.get(A, ())):
            for i in range(watch.limit + 1):
                watch._push(mb.MailboxCreated(A, f"flood{i}"))

    server.call(flood)
    assert a.expect(rb"\* OK \[NOTIFICATIONOVERFLOW\].*")
    assert other.cmd("CREATE AfterFlood").startswith(b"OK")
    assert a.quiet() == []
    assert a.cmd("NOOP") == b"OK NOOP completed" and a.seen == []


def test_other_accounts_need_rights(server: Any, pair: tuple[Client, Client]) -> None:
    a, _ = pair
    b = Client(server, B)
    try:
        assert b.cmd("CREATE Shared").startswith(b"OK")
        assert b.cmd(f"SETACL Shared {A} l").startswith(b"OK")
        # a may look Shared up but not read it: \NoAccess, and no STATUS later
        assert a.cmd("NOTIFY SET (SUBTREE ~b (MessageNew MessageExpunge MailboxName))") == (
            b"OK NOTIFY completed"
        )
        assert a.seen == []  # a SUBTREE of the account itself: nothing to refuse yet
        deliver(server, B, "Shared")
        assert a.quiet() == []
        assert b.cmd("CREATE Hidden").startswith(b"OK")  # no rights for a: not a word
        assert a.quiet() == []
        assert b.cmd(f"SETACL Hidden {A} lr").startswith(b"OK")  # now a can see it
        assert a.expect(rb"\* LIST .*") == b'* LIST (\\HasNoChildren) "/" ~b/Hidden'
        deliver(server, B, "Hidden")
        a.expect(rb"\* STATUS ~b/Hidden \(MESSAGES 1 .*\)")
        assert a.cmd("NOTIFY SET (MAILBOXES ~b/Shared (MessageNew MessageExpunge))") == (
            b"OK NOTIFY completed"
        )
        assert a.seen == [b'* LIST (\\NoAccess) "/" ~b/Shared']
        assert b.cmd("DELETE Hidden").startswith(b"OK")
    finally:
        b.close()
