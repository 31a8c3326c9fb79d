"""IMAP benchmark: the same mailbox served by unigate and by Dovecot, on loopback.

Not a test: a script that prints a table. For each ``--count`` (default 10,000) a
mailbox of generated messages (2-6 KB, 1 % with "needle" in the Subject) is loaded
into each server through IMAP APPEND (20 parallel sessions), then timed:

* login+select      -- connect, LOGIN, SELECT INBOX (mean of 10; passwords are stored
                       in clear text by both servers, so no hashing is timed);
* fetch flags       -- ``FETCH 1:* (UID FLAGS RFC822.SIZE)``;
* fetch envelope    -- ``FETCH 1:* ENVELOPE``, first (cold) then again (warm);
* uid search header -- ``UID SEARCH HEADER Subject needle``;
* 1000 bodies       -- ``UID FETCH 1:1000 BODY.PEEK[]``;
* 20 sessions mixed -- 20 concurrent sessions each: login, select, fetch flags, a
                       search, 50 bodies, a STORE, logout (wall time);
* after restart     -- the server is stopped and started again on the same data, then
                       ``FETCH 1:* ENVELOPE`` and the header search are timed once more
                       (nothing in memory: unigate answers from the storage driver's
                       derived-data cache, Dovecot from its index cache).

Every item but the cold envelope fetch is the median of ``REPEAT`` runs (the
restart items: of as many restarts): single shots on a shared machine varied by a
factor of two from one run to the next.

Servers: unigate (``python -m unigate serve``, imap + storage_sliced, log level 2) and
Dovecot (Debian ``dovecot-imapd``, a private instance with Maildir storage, started
with ``dovecot -F -c CONF``; skipped when it is not installed or ``--no-dovecot``).
Ratios are Dovecot time / unigate time (> 1: unigate is faster).

Usage::

    python bench/imap/run.py                       # 10,000 messages, both servers
    python bench/imap/run.py --count 1000          # a quick run
    python bench/imap/run.py --count 10000 --count 100000
    python bench/imap/run.py --count 100000 --keep /var/tmp/ib   # keep both mailboxes
    python bench/imap/run.py --count 100000 --reuse /var/tmp/ib  # time them again
    python bench/imap/run.py --count 100000 --dovecot-files      # Dovecot loaded as files

``--reuse DIR`` serves the mailboxes an earlier ``--keep DIR`` run loaded, without
loading them again (a 100,000-message load takes Dovecot over an hour on a 2-CPU VM):
the APPEND row is left out, and "envelope (cold)" is then the first fetch after a
start, not after the load. ``--dovecot-files`` gives Dovecot the same messages as
Maildir files named as its own APPEND names them (see `populate_maildir`), and its
APPEND row is then left out.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

USER = "bench@bench.test"
PASSWORD = "pw"
SESSIONS = 20
#: runs of each warm item (and server restarts) whose median is reported
REPEAT = 5

#: fills a server's mailbox: ``(port, count) -> rows to report`` (none, or the load time)
Loader = Callable[[int, int], dict[str, float]]


# ------------------------------------------------------------------ a tiny client
#: a literal's announcement at the end of a response line (quoted strings hold no CRLF)
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")


class Client:
    """A blocking IMAP client that reads whole responses up to the tagged line.

    A response is found, not parsed: the tagged line is searched for in what arrived,
    skipping literals, with C-level searches over the buffer. Why: a Python loop per
    line cost 2-3 us a line, so a 100,000-line FETCH took the client as long as either
    server took to answer, and the timings measured this client (as a C client such
    as mbsync would not).
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buf = bytearray()
        self.n = 0
        self._until(b"\r\n")

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(bytes(self.buf[-200:]))
        self.buf += chunk

    def _until(self, marker: bytes) -> bytes:
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                end = i + len(marker)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            self._fill()

    def cmd(self, text: str | bytes) -> bytes:
        self.n += 1
        tag = b"B%d" % self.n
        data = text.encode() if isinstance(text, str) else text
        self.sock.sendall(tag + b" " + data + b"\r\n")
        return self.wait(tag)

    def wait(self, tag: bytes) -> bytes:
        """The whole response to ``tag`` (untagged lines, literals, the tagged line)."""
        buf = self.buf
        start = tag + b" "
        marker = b"\n" + start
        pos = 0  # where the search goes on: past whole lines and skipped literals
        line_start = True  # is ``pos`` the start of a line?
        while True:
            literal = _LITERAL.search(buf, pos)
            stop = literal.start() if literal else len(buf)
            if line_start and buf.startswith(start, pos):
                found = pos
            else:
                found = buf.find(marker, pos, stop)
                found = found + 1 if found >= 0 else -1
            if found >= 0:
                end = buf.find(b"\r\n", found)
                if end < 0:
                    self._fill()
                    continue
                out = bytes(buf[: end + 2])
                del buf[: end + 2]
                if not out.startswith(tag + b" OK", found):
                    raise RuntimeError(out[found:].decode(errors="replace"))
                return out
            if literal is None:
                last = buf.rfind(b"\r\n", pos)
                if last >= 0:  # go on from the last whole line
                    pos, line_start = last + 2, True
                self._fill()
                continue
            after = literal.end() + int(literal.group(1))
            while len(buf) < after:
                self._fill()
            pos, line_start = after, False

    def login(self) -> None:
        self.cmd(f'LOGIN "{USER}" "{PASSWORD}"')

    def append_many(self, messages: list[bytes]) -> None:
        tags = []
        for msg in messages:
            self.n += 1
            tag = b"B%d" % self.n
            tags.append(tag)
            self.sock.sendall(tag + b" APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        for tag in tags:
            self.wait(tag)

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, RuntimeError):
            self.cmd("LOGOUT")
        self.sock.close()


def make_message(n: int, rng: random.Random) -> bytes:
    subject = f"needle report {n}" if n % 100 == 0 else f"bench message {n}"
    head = (
        f"From: Sender {n % 97} <s{n % 97}@bench.test>\r\n"
        f"To: Bench <{USER}>\r\nCc: other{n % 13}@bench.test\r\n"
        f"Subject: {subject}\r\nDate: Mon, 02 Nov 2026 10:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{n}@bench.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    return head + line * rng.randint(30, 100)


def the_messages(count: int) -> list[bytes]:
    """The mailbox both servers hold: message ``n`` (from 1) is the ``n``-th appended."""
    rng = random.Random(7)
    return [make_message(n, rng) for n in range(1, count + 1)]


def populate(port: int, count: int) -> float:
    messages = the_messages(count)
    chunks = [messages[i::SESSIONS] for i in range(SESSIONS)]
    start = time.perf_counter()
    errors: list[BaseException] = []

    def work(part: list[bytes]) -> None:
        try:
            c = Client(port)
            c.login()
            for i in range(0, len(part), 50):
                c.append_many(part[i : i + 50])
            c.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(fn: Callable[[], object], runs: int = REPEAT) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def measure(port: int, count: int) -> dict[str, float]:
    out: dict[str, float] = {}

    def login_select() -> None:
        c = Client(port)
        c.login()
        c.cmd("SELECT INBOX")
        c.sock.close()

    out["login+select"] = sum(timed(login_select) for _ in range(10)) / 10
    c = Client(port)
    c.login()
    c.cmd("SELECT INBOX")
    out["fetch 1:* flags"] = median_of(lambda: c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE)"))
    out["fetch 1:* envelope (cold)"] = timed(lambda: c.cmd("FETCH 1:* ENVELOPE"))
    out["fetch 1:* envelope (warm)"] = median_of(lambda: c.cmd("FETCH 1:* ENVELOPE"))
    out["uid search header"] = median_of(lambda: c.cmd('UID SEARCH HEADER Subject "needle"'))
    out["1000 full bodies"] = median_of(lambda: c.cmd("UID FETCH 1:1000 BODY.PEEK[]"))
    c.close()

    def mixed(seed: int) -> None:
        rng = random.Random(seed)
        s = Client(port)
        s.login()
        s.cmd("SELECT INBOX")
        s.cmd("FETCH 1:* (UID FLAGS)")
        s.cmd('UID SEARCH SUBJECT "needle"')
        for _ in range(50):
            s.cmd(f"FETCH {rng.randint(1, count)} BODY.PEEK[]")
        n = rng.randint(1, count)
        s.cmd(f"STORE {n} +FLAGS (\\Flagged)")
        s.close()

    def concurrent() -> None:
        threads = [threading.Thread(target=mixed, args=(i,)) for i in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    out[f"{SESSIONS} sessions mixed"] = median_of(concurrent, 3)
    return out


def measure_restarted(port: int) -> dict[str, float]:
    """The first envelope fetch and header search of a freshly started server."""
    c = Client(port)
    c.login()
    c.cmd("SELECT INBOX")
    out = {
        "envelope after restart": timed(lambda: c.cmd("FETCH 1:* ENVELOPE")),
        "search after restart": timed(lambda: c.cmd('UID SEARCH HEADER Subject "needle"')),
    }
    c.close()
    return out


def restarted(start: Callable[[], subprocess.Popen[bytes]], port: int) -> dict[str, float]:
    """`measure_restarted` over ``REPEAT`` fresh starts of the server: the medians."""
    runs: list[dict[str, float]] = []
    for _ in range(REPEAT):
        process = start()
        try:
            wait_port(port)
            runs.append(measure_restarted(port))
        finally:
            stop(process)
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ servers
def run_unigate(work: Path, count: int, reuse: bool = False) -> dict[str, float]:
    from unigate.objects import ObjectStore

    data = work / "unigate"
    if not reuse:
        objects = ObjectStore(data, main_domain="bench.test")
        # clear-text password storage on both sides (Dovecot: {PLAIN}): login time is
        # the protocol's, not argon2's
        objects.add_account(USER, settings={"PasswordEncryption": "clear"})
        objects.update_account_settings(USER, {"Password": PASSWORD})
    port = free_port()
    config = work / "unigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [server]
            data_dir = "{data}"
            main_domain = "bench.test"
            default_addresses = ["127.0.0.1"]

            [logging]
            console = false
            level = 2

            [protection]
            cleartext_logins = "always"

            [plugins]
            enabled = ["imap", "storage_sliced"]

            [listeners.imap]
            bind = ["127.0.0.1:{port}"]
            [listeners.imaps]
            bind = []
            """
        )
    )

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "unigate", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    return _run(start, port, count, None if reuse else append_load)


def append_load(port: int, count: int) -> dict[str, float]:
    """The usual load: `populate` through IMAP APPEND, reported as a row."""
    return {"load (APPEND)": populate(port, count)}


def populate_maildir(maildir: Path, owner: tuple[int, int]) -> Loader:
    """A loader that writes the messages as Maildir files, as Dovecot's APPEND would.

    For ``--dovecot-files``: Dovecot's own APPEND of 100,000 messages into a Maildir
    takes over an hour here (it slows as the folder grows), and that load is not what
    the benchmark compares. Each file is named the way Dovecot names its own
    (``time.Mn.host,S=size,W=vsize:2,``, LF line ends as ``mail_save_crlf = no``
    stores them), with times that grow with ``n`` so that Dovecot's first sync gives
    message ``n`` UID ``n`` (it orders new files by those times). That first sync, a
    SELECT, is part of the load; no row is reported for it.
    """

    def load(port: int, count: int) -> dict[str, float]:
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        base = int(time.time()) - count
        for n, message in enumerate(the_messages(count), 1):
            body = message.replace(b"\r\n", b"\n")
            name = f"{base + n}.M{n}P1.bench,S={len(body)},W={len(message)}:2,"
            path = maildir / "cur" / name
            path.write_bytes(body)
            os.utime(path, (base + n, base + n))
        for folder in (maildir, *(maildir / sub for sub in ("cur", "new", "tmp"))):
            os.chown(folder, *owner)
        for entry in os.scandir(maildir / "cur"):
            os.chown(entry.path, *owner)
        c = Client(port)
        c.login()
        answer = c.cmd("SELECT INBOX")
        first = c.cmd("UID FETCH 1 BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        c.close()
        if f"* {count} EXISTS".encode() not in answer or b"<1@bench.test>" not in first:
            raise RuntimeError("Dovecot did not number the Maildir files in order")
        return {}

    return load


def _run(
    start: Callable[[], subprocess.Popen[bytes]], port: int, count: int, load: Loader | None
) -> dict[str, float]:
    """``load`` (None: the mailbox is there already), `measure`, then the `restarted`
    medians, for one server; the rows the loader reports come after `measure`'s."""
    process = start()
    try:
        wait_port(port)
        loaded = load(port, count) if load is not None else {}
        result = measure(port, count)
        result.update(loaded)
    finally:
        stop(process)
    result.update(restarted(start, port))
    return result


def run_dovecot(
    work: Path, count: int, reuse: bool = False, files: bool = False
) -> dict[str, float] | None:
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None:
        return None
    root = work / "dovecot"
    (root / "mail").mkdir(parents=True, exist_ok=reuse)
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)
    (root / "run").mkdir(exist_ok=reuse)
    (root / "state").mkdir(exist_ok=reuse)
    passwd = root / "passwd"
    passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port = free_port()
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:  # Dovecot refuses to give mail to root: use nobody
        import pwd

        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        os.chown(root / "mail", uid, gid)
    conf = root / "dovecot.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            base_dir = {root}/run
            state_dir = {root}/state
            log_path = {root}/dovecot.log
            protocols = imap
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            first_valid_uid = 0
            mail_location = maildir:{root}/mail/%u
            default_login_user = dovenull
            default_internal_user = dovecot
            passdb {{
              driver = passwd-file
              args = {passwd}
            }}
            userdb {{
              driver = static
              args = uid={uid} gid={gid} home={root}/mail/%u
            }}
            service imap-login {{
              inet_listener imap {{
                address = 127.0.0.1
                port = {port}
              }}
              inet_listener imaps {{
                port = 0
              }}
            }}
            protocol imap {{
              mail_max_userip_connections = 200
            }}
            service anvil {{
              chroot =
            }}
            service imap-login {{
              chroot =
            }}
            """
        )
    )

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    loader = populate_maildir(root / "mail" / USER, (uid, gid)) if files else append_load
    return _run(start, port, count, None if reuse else loader)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, action="append", help="messages in the mailbox")
    parser.add_argument("--no-dovecot", action="store_true")
    parser.add_argument(
        "--dovecot-files",
        action="store_true",
        help="give Dovecot the mailbox as Maildir files instead of through APPEND",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, help="work in this (new) directory and keep it")
    where.add_argument("--reuse", type=Path, help="serve the mailboxes a --keep run left there")
    args = parser.parse_args(argv)
    for count in args.count or [10_000]:
        with tempfile.TemporaryDirectory(prefix="imapbench-") as tmp:
            work = Path(tmp)
            if args.keep:
                work = args.keep / str(count)
                work.mkdir(parents=True)
            elif args.reuse:
                work = args.reuse / str(count)
                if not (work / "unigate").is_dir():
                    parser.error(f"{work} holds no mailboxes of a --keep run")
            reuse = args.reuse is not None
            print(f"\n== {count:,} messages ==", flush=True)
            ours = run_unigate(work, count, reuse)
            theirs = None
            if not args.no_dovecot and (not reuse or (work / "dovecot" / "mail").is_dir()):
                theirs = run_dovecot(work, count, reuse, args.dovecot_files)
            print(f"{'operation':30} {'unigate s':>10} {'dovecot s':>10} {'ratio':>7}")
            for key, value in ours.items():
                other = theirs.get(key) if theirs else None
                ratio = f"{other / value:7.2f}" if other and value else "      -"
                dov = f"{other:10.3f}" if other is not None else "         -"
                print(f"{key:30} {value:10.3f} {dov} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
