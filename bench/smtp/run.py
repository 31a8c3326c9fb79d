"""SMTP throughput benchmark: unigate against Postfix and aiosmtpd, on loopback.

Not a test: a script that prints a table. ``--senders`` concurrent SMTP clients
(asyncio, PIPELINING of MAIL/RCPT/DATA, one connection each) send ``--count``
messages of ``--size`` bytes to ``--accounts`` local accounts. For each server:

* accepted msgs/s -- messages that got 250, over the time from the first MAIL to the
                     last 250;
* delivered msgs/s -- messages in the mailboxes, over the time from the first MAIL
                     until the last is stored (unigate: the Queue directory empty;
                     Postfix: every Maildir file present; aiosmtpd stores before 250);
* p50/p99 latency -- from the end of DATA (the final ``.``) to the 250.

Servers:

* unigate   -- ``python -m unigate serve`` with the smtp, local and storage_sliced
               plugins, log level 2 (every message fsynced before its 250: group commit);
* postfix   -- Debian ``postfix`` in a private instance (``-c CONFDIR``) with local
               Maildir delivery and the inflow throttle off (``in_flow_delay = 0``);
               its own ``smtp-source`` is run too, for its figure (``--postfix``);
* aiosmtpd  -- a handler writing each message to a Maildir with fsync (file and
               directory) before the 250 (``--aiosmtpd``; needs the package).

Usage::

    python bench/smtp/run.py                    # unigate only, 5,000 x 10 KB, 20 senders
    python bench/smtp/run.py --postfix --aiosmtpd
    python bench/smtp/run.py --count 500 --rounds 1   # a quick run

Every server runs ``--rounds`` times (default 3), the order rotated each round so that
none always goes first; the table shows each server's median round and the ratios
between those. One round on a shared 2-vCPU VM moves by +-20 %, which swung the
aiosmtpd ratio between 2.3 and 3.9 from one run to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Result:
    name: str
    accepted: int = 0
    refused: int = 0
    accept_seconds: float = 0.0
    deliver_seconds: float | None = None
    latencies: list[float] = field(default_factory=list)
    #: CPU seconds the benchmark client itself used while sending
    client_cpu: float = 0.0

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.accept_seconds if self.accept_seconds else 0.0

    @property
    def delivered_rate(self) -> float | None:
        if not self.deliver_seconds:
            return None
        return self.accepted / self.deliver_seconds

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def message(number: int, size: int) -> bytes:
    head = (
        f"From: sender@bench.test\r\nTo: bench\r\nSubject: bench {number}\r\n"
        f"Message-ID: <{number}@bench.test>\r\n\r\n"
    ).encode()
    line = b"0123456789" * 7 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def sender(
    port: int, numbers: list[int], accounts: list[str], size: int, result: Result
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)
    writer.write(b"EHLO bench.test\r\n")
    await _reply(reader)
    for number in numbers:
        rcpt = accounts[number % len(accounts)]
        writer.write(f"MAIL FROM:<s@bench.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        replies = [await _reply(reader) for _ in range(3)]
        if not replies[2].startswith(b"354"):
            result.refused += 1
            writer.write(b"RSET\r\n")
            await _reply(reader)
            continue
        writer.write(message(number, size).replace(b"\r\n.", b"\r\n..") + b".\r\n")
        await writer.drain()
        started = time.perf_counter()
        reply = await _reply(reader)
        if reply.startswith(b"250"):
            result.latencies.append(time.perf_counter() - started)
            result.accepted += 1
        else:
            result.refused += 1
    writer.write(b"QUIT\r\n")
    await _reply(reader)
    writer.close()


async def drive(
    port: int, count: int, senders: int, accounts: list[str], size: int, name: str
) -> Result:
    result = Result(name)
    shares = [list(range(i, count, senders)) for i in range(senders)]
    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(sender(port, share, accounts, size, result) for share in shares))
    result.accept_seconds = time.perf_counter() - started
    result.client_cpu = time.process_time() - cpu
    result.started = started  # type: ignore[attr-defined]
    return result


def wait_until(predicate, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _process_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ unigate


def run_unigate(args: argparse.Namespace, work: Path) -> Result:
    from unigate.objects import ObjectStore

    data = work / "unigate"
    objects = ObjectStore(data, main_domain="bench.test")
    accounts = [f"user{i}@bench.test" for i in range(args.accounts)]
    for account in accounts:
        objects.add_account(account, password="pw")
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

            [plugins]
            enabled = ["smtp", "local", "storage_sliced"]

            [listeners.smtp]
            bind = ["127.0.0.1:{port}"]
            [listeners.submission]
            bind = []
            [listeners.smtps]
            bind = []
            [listeners.lmtp]
            bind = []
            """
        )
    )
    profile = os.environ.get("UNIGATE_PROFILE")  # a path: run the server under cProfile
    wrap = ["-m", "cProfile", "-o", profile] if profile else []
    process = subprocess.Popen(
        [sys.executable, *wrap, "-m", "unigate", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_until(lambda: (data / "run" / "listeners.json").exists(), 30):
            raise RuntimeError("unigate did not start")
        idle_cpu = _process_cpu(process.pid)
        result = asyncio.run(drive(port, args.count, args.senders, accounts, args.size, "unigate"))
        queue = data / "Queue"
        wait_until(lambda: not any(queue.glob("*.msg")), 600, 0.01)
        result.deliver_seconds = time.perf_counter() - result.started  # type: ignore[attr-defined]
        (user_now, system_now), (user_idle, system_idle) = _process_cpu(process.pid), idle_cpu
        user, system = user_now - user_idle, system_now - system_idle
        busy = user + system
        print(
            f"unigate server: {busy:.1f} s CPU while busy (user {user:.1f}, system "
            f"{system:.1f}), {busy / args.count * 1000:.2f} ms per message",
            file=sys.stderr,
        )
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# ------------------------------------------------------------------ postfix


def _count_maildir(root: Path) -> int:
    total = 0
    for new in root.glob("*/Maildir/new"):  # noqa: B007
        total += sum(1 for _ in os.scandir(new))
    return total


def _master_cf(port: int) -> str:
    """Debian's master.cf without chroot, smtpd on our port."""
    out = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line[:1] not in ("#", " ", "\t", "") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"
            line = " ".join(fields)
        out.append(line)
    return "\n".join(out) + "\n"


def run_postfix(args: argparse.Namespace, work: Path) -> list[Result]:
    """A private Postfix instance (needs root: it registers its config directory
    in /etc/postfix/main.cf ``alternate_config_directories``)."""
    if not Path("/usr/sbin/postfix").exists():
        print("postfix is not installed (apt-get install postfix): skipped", file=sys.stderr)
        return []
    import pwd

    nobody = pwd.getpwnam("nobody")
    conf = work / "postfix-conf"
    conf.mkdir()
    queue = work / "postfix-queue"
    data = work / "postfix-data"
    home = work / "postfix-home"
    for path in (queue, data, home):
        path.mkdir()
    shutil.chown(data, "postfix", "postfix")
    shutil.chown(home, nobody.pw_uid, nobody.pw_gid)
    os.chmod(work, 0o755)
    port = free_port()
    users = [f"user{i}" for i in range(args.accounts)]
    virtual = conf / "virtual"
    virtual.write_text("".join(f"{u}@bench.test {u}/Maildir/\n" for u in users))
    (conf / "main.cf").write_text(
        textwrap.dedent(
            f"""\
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = bench.test
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            virtual_mailbox_domains = bench.test
            virtual_mailbox_base = {home}
            virtual_mailbox_maps = texthash:{virtual}
            virtual_uid_maps = static:{nobody.pw_uid}
            virtual_gid_maps = static:{nobody.pw_gid}
            virtual_destination_concurrency_limit = 20
            in_flow_delay = 0
            alias_maps =
            alias_database =
            smtpd_recipient_restrictions = permit_mynetworks, reject
            maillog_file_prefixes = {work}
            maillog_file = {work}/postfix.log
            """
        )
    )
    (conf / "master.cf").write_text(_master_cf(port))
    subprocess.run(["postconf", "-e", f"alternate_config_directories = {conf}"], check=True)
    subprocess.run(["postfix", "-c", str(conf), "check"], check=False)
    start = subprocess.run(["postfix", "-c", str(conf), "start"], capture_output=True)
    if start.returncode != 0:
        print(
            "postfix did not start:", start.stdout.decode(), start.stderr.decode(), file=sys.stderr
        )
        print(
            (work / "postfix.log").read_text() if (work / "postfix.log").exists() else "",
            file=sys.stderr,
        )
        return []
    results = []
    try:
        if not wait_until(lambda: _port_open(port), 20):
            print("postfix does not listen", file=sys.stderr)
            return []
        accounts = [f"{u}@bench.test" for u in users]
        result = asyncio.run(drive(port, args.count, args.senders, accounts, args.size, "postfix"))
        wait_until(lambda: _count_maildir(home) >= result.accepted, 600, 0.02)
        result.deliver_seconds = time.perf_counter() - result.started  # type: ignore[attr-defined]
        results.append(result)
        source = "/usr/sbin/smtp-source"
        if Path(source).exists():
            before = _count_maildir(home)
            started = time.perf_counter()
            subprocess.run(
                [
                    source,
                    "-s",
                    str(args.senders),
                    "-m",
                    str(args.count),
                    "-l",
                    str(args.size),
                    "-f",
                    "s@bench.test",
                    "-t",
                    "user0@bench.test",
                    f"127.0.0.1:{port}",
                ],
                check=False,
            )
            accepted_at = time.perf_counter() - started
            wait_until(lambda: _count_maildir(home) >= before + args.count, 600, 0.02)
            smtp_source = Result("postfix/smtp-source", accepted=args.count)
            smtp_source.accept_seconds = accepted_at
            smtp_source.deliver_seconds = time.perf_counter() - started
            results.append(smtp_source)
    finally:
        subprocess.run(["postfix", "-c", str(conf), "stop"], check=False)
        subprocess.run(["postconf", "-X", "alternate_config_directories"], check=False)
    return results


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------ aiosmtpd

AIOSMTPD_SERVER = """
import asyncio, os, sys, time
from aiosmtpd.controller import Controller

root = sys.argv[1]
counter = [0]

class Maildir:
    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        def store():
            for rcpt in envelope.rcpt_tos:
                box = os.path.join(root, rcpt.split("@")[0], "Maildir")
                for sub in ("tmp", "new", "cur"):
                    os.makedirs(os.path.join(box, sub), exist_ok=True)
                counter[0] += 1
                name = f"{time.time():.6f}.{os.getpid()}_{counter[0]}.bench"
                tmp = os.path.join(box, "tmp", name)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(tmp, os.path.join(box, "new", name))
                dfd = os.open(os.path.join(box, "new"), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        await asyncio.get_running_loop().run_in_executor(None, store)
        return "250 OK stored"

controller = Controller(Maildir(), hostname="127.0.0.1", port=int(sys.argv[2]),
                        data_size_limit=50_000_000)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


def run_aiosmtpd(args: argparse.Namespace, work: Path) -> Result | None:
    python = args.aiosmtpd_python or sys.executable
    check = subprocess.run([python, "-c", "import aiosmtpd"], capture_output=True)
    if check.returncode != 0:
        print("aiosmtpd is not installed for", python, ": skipped", file=sys.stderr)
        return None
    root = work / "aiosmtpd"
    root.mkdir()
    port = free_port()
    script = work / "aiosmtpd_server.py"
    script.write_text(AIOSMTPD_SERVER)
    process = subprocess.Popen(
        [python, str(script), str(root), str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        accounts = [f"user{i}@bench.test" for i in range(args.accounts)]
        result = asyncio.run(drive(port, args.count, args.senders, accounts, args.size, "aiosmtpd"))
        result.deliver_seconds = result.accept_seconds  # stored (fsynced) before the 250
        return result
    finally:
        process.kill()
        process.wait()


# ------------------------------------------------------------------ main


def median_round(results: list[Result]) -> Result:
    """The round whose delivered (else accepted) rate is the median of the server's."""
    ordered = sorted(results, key=lambda r: r.delivered_rate or r.accepted_rate)
    return ordered[(len(ordered) - 1) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--postfix", action="store_true", help="also run Postfix")
    parser.add_argument("--aiosmtpd", action="store_true", help="also run aiosmtpd")
    parser.add_argument("--aiosmtpd-python", help="a Python that has aiosmtpd installed")
    parser.add_argument("--skip-unigate", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="run every server this many times, in a rotated order, and show each one's "
        "median round (on a shared VM one round moves by +-20%%); 1 for a single round",
    )
    args = parser.parse_args()
    runners: list[Callable[[argparse.Namespace, Path], list[Result]]] = []
    if not args.skip_unigate:
        runners.append(lambda a, w: [run_unigate(a, w)])
    if args.postfix:
        runners.append(run_postfix)
    if args.aiosmtpd:
        runners.append(lambda a, w: [r for r in [run_aiosmtpd(a, w)] if r is not None])
    rounds: dict[str, list[Result]] = {}
    for number in range(args.rounds):
        done: list[Result] = []
        shift = number % max(1, len(runners))
        for run in runners[shift:] + runners[:shift]:  # nobody always goes first
            with tempfile.TemporaryDirectory(prefix="smtpbench-") as tmp:
                done.extend(run(args, Path(tmp)))
        for r in done:
            rounds.setdefault(r.name, []).append(r)
        if args.rounds > 1:
            print(
                f"round {number + 1}: "
                + ", ".join(f"{r.name} {r.delivered_rate or 0:.0f}" for r in done)
                + " delivered/s",
                file=sys.stderr,
            )
    results = [median_round(found) for found in rounds.values()]
    print(
        f"{args.count} messages of {args.size} bytes, {args.senders} senders, "
        f"{args.accounts} accounts, {os.cpu_count()} CPUs"
        + (f", median of {args.rounds} rounds" if args.rounds > 1 else "")
    )
    print(
        f"{'server':22} {'accepted/s':>11} {'delivered/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'refused':>8} {'client ms/msg':>14}"
    )
    for r in results:
        delivered = f"{r.delivered_rate:12.0f}" if r.delivered_rate else f"{'-':>12}"
        print(
            f"{r.name:22} {r.accepted_rate:11.0f} {delivered} {r.percentile(0.5):8.1f} "
            f"{r.percentile(0.99):8.1f} {r.refused:8} "
            f"{r.client_cpu / max(1, r.accepted) * 1000:14.2f}"
        )
    base = next((r for r in results if r.name == "unigate"), None)
    if base is not None and base.delivered_rate:
        for other in results:
            if other is not base and other.delivered_rate:
                print(
                    f"unigate / {other.name}: delivered x{base.delivered_rate / other.delivered_rate:.2f}, "
                    f"accepted x{base.accepted_rate / other.accepted_rate:.2f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
