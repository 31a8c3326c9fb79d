"""Unit tests of the local plugin's helpers."""

from __future__ import annotations

from unigate_local.delivery import direct_mailbox, trace_headers


def test_direct_mailbox() -> None:
    assert direct_mailbox("Sent#alice") == "Sent"
    assert direct_mailbox("alice") is None
    assert direct_mailbox("#alice") is None


def test_trace_headers() -> None:
    assert trace_headers("bob@remote.test", "alice@example.test", "17-3") == (
        b"Return-Path: <bob@remote.test>\r\nDelivered-To: alice@example.test\r\n"
        b"X-Queue-ID: 17-3\r\n"
    )
    assert trace_headers("", "a@b", "1-0").startswith(b"Return-Path: <>\r\n")
