"""Crash loop: kill -9 the server again and again under load; nothing lost, nothing twice.

Not a test: a script that prints a verdict (``tests/test_mail_crash.py`` is the short
version in the suite). ``--senders`` concurrent SMTP clients send ``--count`` numbered
messages to local accounts; ``--kills`` times the server process is killed with SIGKILL
at a random moment and started again on the same data directory. Finally the server
runs until its Queue is empty, and the mailboxes are read back through the mailbox
manager. Every message that got a 250 must be stored exactly once (counted by
Message-ID); no message that got a 4xx/5xx may be stored. Messages whose reply was
lost in a kill are "unknown": either outcome is correct for them, but never twice.

Usage::

    python bench/crashloop/run.py                       # 5,000 messages, 20 senders, 10 kills
    python bench/crashloop/run.py --count 1000 --kills 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLUGINS = ["smtp", "local", "storage_sliced"]


@dataclass
class Ledger:
    pending: deque[int]
    accepted: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)
    unknown: set[int] = field(default_factory=set)


def body(number: int, size: int) -> bytes:
    head = f"Message-ID: <{number}@crashloop.test>\r\nSubject: crash {number}\r\n\r\n".encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def sender(port: int, ledger: Ledger, accounts: list[str], size: int) -> None:
    """Send until the pending list is empty or the server dies."""
    current: int | None = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _reply(reader)
        writer.write(b"EHLO crash.test\r\n")
        await _reply(reader)
        while ledger.pending:
            current = ledger.pending.popleft()
            rcpt = accounts[current % len(accounts)]
            writer.write(f"MAIL FROM:<s@crash.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
            replies = [await _reply(reader) for _ in range(3)]
            if not replies[2].startswith(b"354"):
                ledger.refused.add(current)
                current = None
                writer.write(b"RSET\r\n")
                await _reply(reader)
                continue
            writer.write(body(current, size) + b".\r\n")
            reply = await _reply(reader)
            (ledger.accepted if reply.startswith(b"250") else ledger.refused).add(current)
            current = None
        writer.write(b"QUIT\r\n")
        writer.close()
    except (OSError, ConnectionError, asyncio.IncompleteReadError):
        if current is not None:
            ledger.unknown.add(current)  # sent, reply lost: may or may not be queued


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(work: Path, port: int) -> Path:
    data = work / "data"
    config = work / "unigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [server]
            data_dir = "{data}"
            main_domain = "crash.test"
            default_addresses = ["127.0.0.1"]
            shutdown_grace = 2.0

            [logging]
            console = false
            level = 2

            [plugins]
            enabled = {PLUGINS!r}

            [listeners.smtp]
            bind = ["127.0.0.1:{port}"]
            [listeners.submission]
            bind = []
            [listeners.smtps]
            bind = []
            [listeners.lmtp]
            bind = []
            """
        ).replace("'", '"')
    )
    return config


def start(config: Path, data: Path) -> subprocess.Popen[bytes]:
    ready = data / "run" / "listeners.json"
    ready.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "unigate", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return process


async def round_of_sending(
    port: int,
    ledger: Ledger,
    accounts: list[str],
    args: argparse.Namespace,
    process: subprocess.Popen[bytes] | None,
    kill_after: float | None,
) -> None:
    tasks = [
        asyncio.create_task(sender(port, ledger, accounts, args.size)) for _ in range(args.senders)
    ]
    if kill_after is not None and process is not None:
        done, _ = await asyncio.wait(tasks, timeout=kill_after)
        process.kill()  # kill -9, whatever the senders are doing
        process.wait()
    await asyncio.gather(*tasks)


def read_message_ids(work: Path, accounts: list[str]) -> Counter[int]:
    import anyio.from_thread
    import anyio.lowlevel

    from unigate.testing.server import serve_in_thread
    from unigate_hookspecs import hookimpl

    token: list[Any] = []

    class Kit:
        @hookimpl
        async def unigate_startup(self, server: Any) -> None:
            token.append(anyio.lowlevel.current_token())

    counts: Counter[int] = Counter()
    reader_dir = work / "reader"
    reader_dir.mkdir()
    (reader_dir / "data").symlink_to(work / "data")
    with serve_in_thread(
        reader_dir, plugins=PLUGINS, domain="crash.test", extra_plugins=[("kit", Kit())]
    ) as running:
        manager = running.server.service("mailboxes")

        async def read(account: str) -> list[bytes]:
            session = await manager.open(account, "INBOX", user=account)
            try:
                return [await session.read(rec.uid) for rec in session.messages()]
            finally:
                await session.close()

        for account in accounts:
            for data in anyio.from_thread.run(read, account, token=token[0]):
                match = re.search(rb"Message-ID: <(\d+)@crashloop.test>", data)
                if match:
                    counts[int(match.group(1))] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="crashloop-"))
    from unigate.objects import ObjectStore

    objects = ObjectStore(work / "data", main_domain="crash.test")
    accounts = [f"user{i}@crash.test" for i in range(args.accounts)]
    for account in accounts:
        objects.add_account(account, password="pw")
    port = free_port()
    config = write_config(work, port)
    ledger = Ledger(deque(range(args.count)))
    started = time.monotonic()
    # spread the kills over the expected sending time (about 1.5 ms per message)
    span = max(0.3, args.count * 0.0015 / max(1, args.kills))
    for kill in range(args.kills):
        process = start(config, work / "data")
        delay = rng.uniform(0.2, 2 * span)
        before = len(ledger.accepted)
        asyncio.run(round_of_sending(port, ledger, accounts, args, process, delay))
        print(
            f"kill {kill + 1}: after {delay:.2f}s, {len(ledger.accepted) - before} accepted "
            f"this round, {len(ledger.pending)} still to send",
            flush=True,
        )
    process = start(config, work / "data")
    asyncio.run(round_of_sending(port, ledger, accounts, args, None, None))
    queue = work / "data" / "Queue"
    deadline = time.monotonic() + 600
    while any(queue.glob("*.msg")) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    counts = read_message_ids(work, accounts)
    duplicates = {n: c for n, c in counts.items() if c > 1}
    missing = ledger.accepted - counts.keys()
    refused_stored = ledger.refused & counts.keys()
    unknown_stored = ledger.unknown & counts.keys()
    print(
        f"{args.count} messages, {args.senders} senders, {args.kills} kills, "
        f"{time.monotonic() - started:.1f}s"
    )
    print(
        f"accepted (250): {len(ledger.accepted)}; refused: {len(ledger.refused)}; "
        f"reply lost in a kill: {len(ledger.unknown)} ({len(unknown_stored)} of them stored)"
    )
    print(f"stored: {sum(counts.values())} copies of {len(counts)} messages")
    print(
        f"duplicates: {len(duplicates)}; accepted but missing: {len(missing)}; "
        f"refused but stored: {len(refused_stored)}"
    )
    ok = not duplicates and not missing and not refused_stored
    print("PASS" if ok else f"FAIL {sorted(duplicates)[:10]} {sorted(missing)[:10]}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"data kept in {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
