"""Logs in the manual's record shape, address lists and the classification order."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import anyio
import pytest

from unigate.addresslist import AddressList
from unigate.classify import AddressClassifier, dnsbl_name
from unigate.logs import LogHub
from unigate.settings import ProtectionSettings

RECORD = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (\d) (\S+) (.*)$")


def test_records_have_the_manual_shape_and_levels_per_component(tmp_path: Path) -> None:
    out = io.StringIO()
    hub = LogHub(directory=tmp_path, level=2, components={"IMAP": 5}, stream=out)
    hub.start()
    session = hub.logger("imap", 437425, "[64.173.55.175]")
    session.data("inp", b"1 CAPABILITY\r\n")
    hub.logger("smtp").low("not shown: SMTP is at level 2")
    hub.logger("smtp").major("shown")
    hub.stop()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    level, tag, text = RECORD.match(lines[0]).groups()  # type: ignore[union-attr]
    assert (level, tag, text) == ("5", "IMAP-437425([64.173.55.175])", r"inp: 1 CAPABILITY\r\n")
    assert RECORD.match(lines[1]).groups() == ("2", "SMTP", "shown")  # type: ignore[union-attr]
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\d", files[0].name)
    assert files[0].read_text().splitlines() == lines


def test_overflow_is_marked_not_blocking(tmp_path: Path) -> None:
    out = io.StringIO()
    hub = LogHub(directory=None, level=5, stream=out, limit=100)
    for number in range(1000):  # the writer is not started: the queue fills, producers never block
        hub.logger("x").info(f"record {number}")
    hub.start()
    hub.logger("x").info("after")
    hub.stop()
    lines = out.getvalue().splitlines()
    assert lines.count("***") == 1
    assert lines[-1].endswith("x record 99") or lines[-1].endswith("X after")
    assert len(lines) <= 102


def test_json_lines_option() -> None:
    out = io.StringIO()
    hub = LogHub(directory=None, level=5, stream=out, json_lines=True)
    hub.start()
    hub.logger("smtp", 7).major("hello")
    hub.stop()
    record = json.loads(out.getvalue())
    assert record["level"] == 2 and record["tag"] == "SMTP-000007" and record["text"] == "hello"


def test_stdlib_logging_is_bridged() -> None:
    import logging

    out = io.StringIO()
    hub = LogHub(directory=None, level=5, stream=out)
    hub.start()
    logging.getLogger("unigate.queue").warning("disk %s", "slow")
    hub.stop()
    assert RECORD.match(out.getvalue().strip()).groups() == ("3", "QUEUE", "disk slow")  # type: ignore[union-attr]


def test_address_list_format() -> None:
    text = """
    ; the manual's examples
    10.34.56.78
    10.34.50.01-10.34.59.99   ; a range with leading zeros
    192.168.0.0/16
    !192.168.7.0/24           ; excluded from what the lines above built
    2001:db8::/32
    """
    listed = AddressList.parse(text)
    for inside in ("10.34.56.78", "10.34.55.1", "192.168.1.1", "2001:db8::1", "::ffff:192.168.1.1"):
        assert inside in listed, inside
    for outside in ("10.34.60.1", "192.168.7.7", "8.8.8.8", "2001:db9::1", "junk"):
        assert outside not in listed, outside
    with pytest.raises(ValueError, match="line 2"):
        AddressList.parse("10.0.0.1\n10.0.0.0/33\n")


def test_dnsbl_query_names() -> None:
    assert dnsbl_name("192.0.2.99", "bl.example") == "99.2.0.192.bl.example"
    assert dnsbl_name("2001:db8::1", "bl.example").startswith("1.0.0.0.0.0.0.0")


def test_classification_in_the_manual_order() -> None:
    settings = ProtectionSettings(
        client_addresses=["10.0.0.0/8"],
        blacklisted=["192.0.2.0/24", "10.9.9.9"],
        white_holes=["192.0.2.5"],
        denied=["198.51.100.1"],
        debug=["192.0.2.7"],
    )
    classifier = AddressClassifier(settings)

    async def classify(ip: str):
        return await classifier.classify(ip)

    client = anyio.run(classify, "10.1.2.3")
    assert client.client and client.label == "Trusted"
    listed = anyio.run(classify, "192.0.2.8")
    assert listed.blacklisted and listed.label.startswith("Blacklisted")
    assert not anyio.run(classify, "192.0.2.5").blacklisted  # white hole
    assert anyio.run(classify, "192.0.2.7").debug
    assert classifier.is_denied("198.51.100.1")
    plain = anyio.run(classify, "203.0.113.9")
    assert plain.label == "Regular"
    classifier.trust_temporarily("203.0.113.9")
    assert anyio.run(classify, "203.0.113.9").label == "TempTrusted"
    classifier.block_temporarily("203.0.113.10")
    classifier.block_temporarily("192.0.2.5")
    assert anyio.run(classify, "203.0.113.10").temp_blocked
    assert not anyio.run(classify, "192.0.2.5").temp_blocked


def test_dnsbl_lookup_against_a_local_dns_server() -> None:
    import socket
    import threading

    import dns.message
    import dns.rrset

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    listed = {"20.113.0.203.bl.test."}

    def answer() -> None:
        while True:
            try:
                data, peer = server.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            name = query.question[0].name
            if str(name) in listed:
                reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.0.2"))
            else:
                reply.set_rcode(3)  # NXDOMAIN
            server.sendto(reply.to_wire(), peer)

    threading.Thread(target=answer, daemon=True).start()
    try:
        settings = ProtectionSettings(rbl=["bl.test"], client_addresses=["10.0.0.0/8"])
        classifier = AddressClassifier(settings, dns_servers=[f"127.0.0.1:{port}"])
        hit = anyio.run(classifier.classify, "203.0.113.20")
        miss = anyio.run(classifier.classify, "203.0.113.21")
        client = anyio.run(classifier.classify, "10.0.0.20")
    finally:
        server.close()
    assert hit.blacklisted and hit.blacklist_source == "bl.test"
    assert not miss.blacklisted
    assert not client.blacklisted  # clients are never looked up
