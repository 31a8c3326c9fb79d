"""Storage benchmark: the text (.mbox) and sliced (.mslc) drivers against Dovecot.

Not a test: a script that prints a table. For each format it measures

* append   -- ``--count`` messages of about ``--size`` bytes, in batches of ``--batch``
              (our drivers: one ``append`` call per batch, durable on return;
              Dovecot: one IMAP MULTIAPPEND command per batch); only the call is
              timed, not the making of the messages,
* single   -- ``--single`` more messages appended one at a time into a new mailbox,
              each durable before the next starts (ours: one ``append`` call each;
              Dovecot: one IMAP APPEND each): the rate a writer that needs every
              message acknowledged sees, set against the disk's own fsync rate,
* open     -- a cold open: a fresh store and ``load()`` (Dovecot: SELECT in a fresh
              ``imap`` process, process start-up excluded),
* flags    -- all flags read (ours: walk the loaded records; Dovecot: UID FETCH 1:* FLAGS),
* flag-set -- ``\\Flagged`` set on every tenth message (Dovecot: UID STORE +FLAGS.SILENT),
* expunge  -- 10% of the messages expunged (Dovecot: STORE \\Deleted + UID EXPUNGE),
* reclaim  -- the space given back (ours: ``compact()``; mdbox: ``doveadm purge``;
              maildir frees files at expunge),

plus the bytes on disk before and after. Before the formats run, the disk itself is
measured on the same filesystem (a file beside the mailboxes): serial ``--size``
appends to one file, each followed by ``fdatasync``, and serial appends of one batch
(``--batch`` x ``--size`` bytes) each followed by one ``fdatasync``. The append
figures are printed as a ratio to that batch rate: the time one durable batch takes
on this disk with nothing but one write and one flush.

Dovecot (package ``dovecot-core`` and ``dovecot-imapd``) is driven through its
``imap`` binary in pre-authenticated mode (``doveadm -c CONF exec imap``) with a
minimal config in a temporary directory, and ``doveadm purge``; formats ``mdbox`` and ``maildir``. Dovecot runs
with its default ``mail_fsync = optimized``. Everything runs on one machine in one
run; the page cache is warm for every "cold" open.

Usage::

    python bench/storage/run.py --count 100000          # the full run
    python bench/storage/run.py --count 2000            # a quick run (seconds)
    python bench/storage/run.py --formats mslc,mdbox    # a subset
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from unigate_hookspecs.storage import FlagChange, FormatDriver, NewMessage
from unigate_storage_sliced.driver import SlicedDriver
from unigate_storage_text.driver import TextDriver

OURS = ("mbox", "mslc")
DOVECOT = ("mdbox", "maildir")
METRICS = ("append", "single", "open", "flags", "flag-set", "expunge", "reclaim")


def make_message(i: int, size: int) -> bytes:
    """A deterministic RFC 5322 message of about ``size`` bytes (CRLF)."""
    head = (
        f"Return-Path: <sender{i % 97}@example.org>\r\n"
        f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\n"
        f"To: user@example.com\r\nSubject: benchmark message {i}\r\n"
        f"Message-ID: <{i}.bench@example.org>\r\nDate: Wed, 25 Nov 2026 11:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    body: list[str] = []
    n = len(head)
    k = 0
    while n < size:
        line = f"Line {k:05d} of message {i}: the quick brown fox jumps over the lazy dog.\r\n"
        if k == 7:
            line = "\r\nFrom here on, a line that a text mailbox must escape.\r\n"
        body.append(line)
        n += len(line)
        k += 1
    return (head + "".join(body)).encode()


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return sum(p.stat().st_size for p in [path, *path.parent.glob(path.name + ".*")])
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


# -- the disk itself ---------------------------------------------------------------


def disk_fsync(root: Path, size: int, batch: int, rounds: int) -> dict[str, float]:
    """Seconds per durable append on this filesystem: one ``size`` write + ``fdatasync``,
    and one ``batch`` x ``size`` write + ``fdatasync`` (``rounds`` of each, serial)."""
    sync = getattr(os, "fdatasync", os.fsync)
    out: dict[str, float] = {}
    for key, chunk in (("fsync-1", size), ("fsync-batch", size * batch)):
        data = os.urandom(chunk)
        path = root / f"{key}.probe"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            t = time.perf_counter()
            for _ in range(rounds):
                os.write(fd, data)
                sync(fd)
            out[key] = (time.perf_counter() - t) / rounds
        finally:
            os.close(fd)
            path.unlink()
    return out


# -- our drivers -------------------------------------------------------------------


def run_ours(
    fmt: str, root: Path, count: int, batch: int, size: int, single: int
) -> dict[str, float]:
    driver: FormatDriver = TextDriver() if fmt == "mbox" else SlicedDriver()
    path = root / f"INBOX.{fmt}"
    driver.create(path, 1)
    store = driver.open(path)
    store.load()
    res: dict[str, float] = {}
    spent = 0.0
    modseq = 1
    for start in range(0, count, batch):
        batch_msgs = [
            NewMessage(make_message(i, size), frozenset(), 1_795_000_000 + i, modseq)
            for i in range(start, min(count, start + batch))
        ]
        t = time.perf_counter()
        store.append(batch_msgs)
        spent += time.perf_counter() - t
        modseq += 1
    res["append"] = spent
    store.close()
    store = driver.open(path)
    res["open"], state = timed(store.load)
    res["open-records"] = len(state.records)  # type: ignore[attr-defined]
    res["flags"], _ = timed(lambda: sum(1 for r in state.records if "\\Flagged" in r.flags))  # type: ignore[attr-defined]
    uids = [r.uid for r in state.records]  # type: ignore[attr-defined]
    changes = [FlagChange(u, frozenset({"\\Flagged"}), modseq) for u in uids[::10]]
    res["flag-set"], _ = timed(lambda: store.set_flags(changes))
    modseq += 1
    res["size-before"] = disk_bytes(path)
    victims = uids[5::10]
    res["expunge"], _ = timed(lambda: store.expunge(victims, modseq))
    res["reclaim"], _ = timed(store.compact)
    store.close()
    res["size-after"] = disk_bytes(path)
    store = driver.open(path)
    res["reopen"], state2 = timed(store.load)
    got = len(state2.records)  # type: ignore[attr-defined]
    assert got == count - len(victims), (got, count, len(victims))
    flagged = sum(1 for r in state2.records if "\\Flagged" in r.flags)  # type: ignore[attr-defined]
    assert flagged == len(changes), flagged
    store.close()
    res["single"] = _single_ours(driver, root / f"single.{fmt}", single, size)
    return res


def _single_ours(driver: FormatDriver, path: Path, count: int, size: int) -> float:
    """Seconds to append ``count`` messages one durable ``append`` call at a time."""
    os.sync()  # the run before left the disk writing back: let it finish, untimed
    driver.create(path, 2)
    store = driver.open(path)
    store.load()
    spent = 0.0
    for i in range(count):
        message = [NewMessage(make_message(i, size), frozenset(), 1_795_000_000 + i, i + 1)]
        t = time.perf_counter()
        store.append(message)
        spent += time.perf_counter() - t
    store.close()
    return spent


# -- Dovecot -----------------------------------------------------------------------


class Imap:
    """A pre-authenticated Dovecot ``imap`` process spoken to over pipes."""

    def __init__(self, conf: Path, home: Path, user: str) -> None:
        env = {**os.environ, "USER": user, "HOME": str(home)}
        self.log = open(home.parent / "imap-stderr.log", "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            ["doveadm", "-c", str(conf), "exec", "imap"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=home,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.out = self.proc.stdout
        self.inp = self.proc.stdin
        greeting = self.out.readline()
        if b"PREAUTH" not in greeting:
            raise RuntimeError(f"dovecot imap did not start: {greeting!r}")
        self.n = 0

    def cmd(self, text: bytes, literals: list[bytes] | None = None) -> list[bytes]:
        self.n += 1
        tag = b"b%d" % self.n
        self.inp.write(tag + b" " + text)
        for lit in literals or []:
            self.inp.write(lit)
        self.inp.write(b"\r\n")
        self.inp.flush()
        lines: list[bytes] = []
        while True:
            line = self.out.readline()
            if not line:
                raise RuntimeError("imap process ended")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line.decode(errors="replace"))
                return lines
            lines.append(line)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.cmd(b"LOGOUT")
        self.proc.wait(timeout=30)
        self.log.close()


def _uidsets(uids: list[int], per: int = 2000) -> list[bytes]:
    return [",".join(map(str, uids[i : i + per])).encode() for i in range(0, len(uids), per)]


def dovecot_setup(fmt: str, root: Path) -> tuple[Path, Path, str]:
    user = "unigatebench"
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", user], check=True)
    home = root / "home"
    (root / "run").mkdir(parents=True)
    home.mkdir()
    location = f"mdbox:{home}/mdbox" if fmt == "mdbox" else f"maildir:{home}/Maildir"
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""protocols =
ssl = no
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
mail_location = {location}
mail_uid = {user}
mail_gid = {user}
mail_home = {home}
first_valid_uid = 0
imap_max_line_length = 1M
"""
    )
    shutil.chown(root, user)
    for p in root.rglob("*"):
        shutil.chown(p, user)
    return conf, home, user


def run_dovecot(
    fmt: str, root: Path, count: int, batch: int, size: int, single: int
) -> dict[str, float]:
    conf, home, user = dovecot_setup(fmt, root)
    store_dir = home / ("mdbox" if fmt == "mdbox" else "Maildir")
    res: dict[str, float] = {}
    imap = Imap(conf, home, user)
    spent = 0.0
    for start in range(0, count, batch):
        parts: list[bytes] = []
        for i in range(start, min(count, start + batch)):
            data = make_message(i, size)
            parts.append(b' () "25-Nov-2026 11:00:00 +0000" {%d+}\r\n' % len(data) + data)
        t = time.perf_counter()
        imap.cmd(b"APPEND INBOX" + parts[0], parts[1:])
        spent += time.perf_counter() - t
    res["append"] = spent
    imap.close()
    imap = Imap(conf, home, user)
    res["open"], lines = timed(lambda: imap.cmd(b"SELECT INBOX"))
    exists = next(int(x.split()[1]) for x in lines if x.endswith(b" EXISTS\r\n"))  # type: ignore[attr-defined]
    res["open-records"] = exists
    res["flags"], fetched = timed(lambda: imap.cmd(b"UID FETCH 1:* (FLAGS)"))
    uids = [int(x.split(b"UID ")[1].split()[0].rstrip(b")")) for x in fetched if b" FETCH " in x]  # type: ignore[attr-defined]
    uids.sort()

    def flag_set() -> None:
        for s in _uidsets(uids[::10]):
            imap.cmd(b"UID STORE " + s + b" +FLAGS.SILENT (\\Flagged)")

    res["flag-set"], _ = timed(flag_set)
    res["size-before"] = disk_bytes(store_dir)
    victims = uids[5::10]

    def expunge() -> None:
        for s in _uidsets(victims):
            imap.cmd(b"UID STORE " + s + b" +FLAGS.SILENT (\\Deleted)")
            imap.cmd(b"UID EXPUNGE " + s)

    res["expunge"], _ = timed(expunge)
    imap.close()
    env = {**os.environ, "USER": user, "HOME": str(home)}
    res["reclaim"], _ = timed(
        lambda: subprocess.run(["doveadm", "-c", str(conf), "purge"], env=env, cwd=home, check=True)
    )
    res["size-after"] = disk_bytes(store_dir)
    imap = Imap(conf, home, user)
    res["reopen"], lines = timed(lambda: imap.cmd(b"SELECT INBOX"))
    exists = next(int(x.split()[1]) for x in lines if x.endswith(b" EXISTS\r\n"))  # type: ignore[attr-defined]
    assert exists == count - len(victims), exists
    imap.cmd(b"CREATE single")
    os.sync()  # as for ours: the disk quiet before the timed appends
    spent = 0.0
    for i in range(single):
        data = make_message(i, size)
        literal = b' () "25-Nov-2026 11:00:00 +0000" {%d+}\r\n' % len(data) + data
        t = time.perf_counter()
        imap.cmd(b"APPEND single" + literal)
        spent += time.perf_counter() - t
    res["single"] = spent
    imap.close()
    return res


# -- the table ---------------------------------------------------------------------


def fmt_value(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    if metric.startswith("size"):
        return f"{v / 1e6:.1f} MB"
    if metric in ("append", "single"):
        return f"{v:.2f} s"
    return f"{v * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument(
        "--single", type=int, default=1000, help="messages appended one durable call at a time"
    )
    ap.add_argument(
        "--fsync-rounds", type=int, default=200, help="serial appends timed for the disk's rate"
    )
    ap.add_argument("--formats", default=",".join(OURS + DOVECOT))
    ap.add_argument("--dir", type=Path, default=None, help="where to put the mailboxes")
    ap.add_argument("--keep", action="store_true", help="keep the mailboxes afterwards")
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    if any(f in DOVECOT for f in formats) and shutil.which("doveadm") is None:
        print("doveadm not found (apt-get install dovecot-core dovecot-imapd): Dovecot skipped")
        formats = [f for f in formats if f not in DOVECOT]
    results: dict[str, dict[str, float]] = {}
    base = Path(tempfile.mkdtemp(prefix="unigate-bench-", dir=args.dir))
    base.chmod(0o755)  # Dovecot runs as an unprivileged user
    try:
        disk = disk_fsync(base, args.size, args.batch, args.fsync_rounds)
        for fmt in formats:
            root = base / fmt
            root.mkdir()
            print(
                f"running {fmt} ({args.count} messages of ~{args.size} bytes, batches of {args.batch}) ...",
                file=sys.stderr,
                flush=True,
            )
            runner = run_ours if fmt in OURS else run_dovecot
            results[fmt] = runner(fmt, root, args.count, args.batch, args.size, args.single)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    rows = [*METRICS, "reopen", "size-before", "size-after"]
    pairs = [(a, b) for a in OURS for b in DOVECOT if a in results and b in results]
    header = ["metric", *results, *(f"{a}/{b}" for a, b in pairs)]
    table = [header]
    for m in rows:
        line = [m, *(fmt_value(m, results[f].get(m)) for f in results)]
        for a, b in pairs:
            va, vb = results[a].get(m), results[b].get(m)
            line.append(f"{va / vb:.2f}x" if va is not None and vb else "-")
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(
        f"\n{args.count} messages of ~{args.size} bytes, batches of {args.batch}; "
        "ratios < 1 mean ours is faster/smaller"
    )
    for r in table:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    batches = -(-args.count // args.batch)
    print(
        f"\ndisk (same filesystem, {args.fsync_rounds} serial appends each): "
        f"{args.size} B write + fdatasync {disk['fsync-1'] * 1e6:.0f} us "
        f"({1 / disk['fsync-1']:.0f}/s); {args.batch} x {args.size} B write + fdatasync "
        f"{disk['fsync-batch'] * 1000:.2f} ms ({args.batch / disk['fsync-batch']:.0f} messages/s)"
    )
    for fmt, res in results.items():
        per_batch = res["append"] / batches
        print(
            f"{fmt}: append {res['append'] / args.count * 1e6:.0f} us per message, "
            f"{per_batch * 1000:.2f} ms per batch = {per_batch / disk['fsync-batch']:.2f}x "
            f"the disk's durable batch ({per_batch / disk['fsync-1']:.1f}x one {args.size} B fdatasync); "
            f"cold open {res['open'] * 1000:.1f} ms"
        )
    for fmt, res in results.items():
        each = res["single"] / args.single
        print(
            f"{fmt}: one message per durable append {each * 1e6:.0f} us ({1 / each:.0f} messages/s) "
            f"= {each / disk['fsync-1']:.2f}x the time of one {args.size} B write + fdatasync "
            f"(the disk's fsync rate: {1 / disk['fsync-1']:.0f}/s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
