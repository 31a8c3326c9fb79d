"""Random command streams against a live POP3 server: every session ends cleanly, none crashes."""

from __future__ import annotations

import socket
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unigate_pop.testing import PASSWORD, USER, message, pop_server

COMMANDS = [
    f"USER {USER}",
    f"PASS {PASSWORD}",
    "PASS wrong",
    "STAT",
    "LIST",
    "LIST 2",
    "LIST 99",
    "UIDL",
    "UIDL 1",
    "RETR 1",
    "RETR 3",
    "TOP 2 0",
    "TOP 1 99999999",
    "DELE 1",
    "DELE 2",
    "RSET",
    "NOOP",
    "LAST",
    "CAPA",
    "AUTH",
    "AUTH PLAIN",
    "AUTH PLAIN =",
    "AUTH XYZ",
    "*",
    "APOP x " + "0" * 32,
    "XTND XMIT",
    "RETR 0",
    "LIST -1",
    "",
    "TOP 1",
]

line = st.one_of(
    st.sampled_from(COMMANDS).map(lambda c: c.encode() + b"\r\n"),
    st.binary(max_size=60),
)


def test_random_sessions_never_crash(tmp_path: Path) -> None:
    with pop_server(tmp_path, extra="[pop]\nsessions_per_account = 0\n") as pop:
        for i in (1, 2, 3):
            pop.deliver(message(i))
        port = pop.port()

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(line, max_size=25), st.booleans())
        def session(lines: list[bytes], quit_at_end: bool) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                assert sock.recv(1000).startswith(b"+OK")
                sock.sendall(b"".join(lines) + (b"\r\nQUIT\r\n" if quit_at_end else b""))
                sock.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
                for reply in received.split(b"\r\n"):
                    assert not reply.startswith(b"-ERR mailbox error")

        session()
        # the server still works, and no session crashed
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert sock.recv(1000).startswith(b"+OK")
        logs = pop.data_dir / "SystemLogs"
    text = b"".join(p.read_bytes() for p in logs.rglob("*") if p.is_file())
    assert b"session failed" not in text
