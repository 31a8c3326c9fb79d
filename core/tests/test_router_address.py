"""Router address parsing: the manual's RFC 822 forms, quotes, IP literals, URIs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unigate.router.address import (
    Address,
    AddressError,
    is_simple,
    parse_address,
    via_host,
)


@pytest.mark.parametrize(
    "text",
    ["<@zzzz:xxxx@yyyy>", "zzzz!yyyy!xxxx", "xxxx%yyyy@zzzz", "@zzzz:xxxx@yyyy", "xxxx%yyyy%zzzz"],
)
def test_route_forms_of_the_manual_all_give_domain_zzzz(text: str) -> None:
    # manual: "the domain name part is zzzz, while the local part is xxxx@yyyy"
    assert parse_address(text) == Address("xxxx%yyyy", "zzzz")


def test_canonical_form_of_a_multi_hop_source_route() -> None:
    # to a first, then b, then y: local%domain1%domain2@domain (rightmost % = next hop)
    assert parse_address("<@a,@b:x@y>") == Address("x%y%b", "a")
    assert parse_address("a!b!c!user") == Address("user%c%b", "a")
    assert parse_address("user@h1@h2") == Address("user%h1", "h2")


def test_domain_is_lower_cased_and_trailing_dot_dropped() -> None:
    assert parse_address("Bill@ThatCompany.COM.") == Address("Bill", "thatcompany.com")


def test_plain_name_has_the_empty_domain() -> None:
    assert parse_address("support") == Address("support", "")
    assert str(parse_address("support")) == "support"


def test_quoted_local_part_loses_needless_quotes() -> None:
    # manual (Local Delivery): <support@client.com> = "requests#staff"@hq.client.com
    assert parse_address('"requests#staff"@hq.client.com') == Address(
        "requests#staff", "hq.client.com"
    )


def test_quoted_local_part_keeps_needed_quotes_and_hides_separators() -> None:
    a = parse_address('"a@b c"@x.com')
    assert a == Address('"a@b c"', "x.com")
    assert not is_simple(a)
    assert parse_address('"u%v"@x.com').local == '"u%v"'


def test_ip_literals_are_bracketed() -> None:
    # manual: user@10.34.45.67 is converted into user@[10.34.45.67]
    assert parse_address("user@10.34.45.67") == Address("user", "[10.34.45.67]")
    assert parse_address("user@[10.34.45.67]") == Address("user", "[10.34.45.67]")
    assert parse_address("user@[IPv6:2001:db8::1]").domain == "[ipv6:2001:db8::1]"


def test_uri_schemes() -> None:
    # manual "tel: Routing": tel:phoneNumber is sip:phoneNumber@tel internally
    assert parse_address("tel:+123456") == Address("+123456", "tel")
    assert parse_address("sip:bob@example.com;transport=tcp") == Address("bob", "example.com")
    assert parse_address("mailto:bob@example.com") == Address("bob", "example.com")


@pytest.mark.parametrize("text", ["", "<>", "user@", "@x", '"unterminated@x', "a!!b", "%x"])
def test_malformed_addresses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_address(text)


def test_simple_addresses() -> None:
    assert is_simple(Address("user", "host"))
    assert not is_simple(parse_address("user%host1@host2"))
    assert not is_simple(parse_address("<@host2:user@host1>"))


def test_via_host_port_rule() -> None:
    # manual: host.domain.dom.26._via --> host.domain.dom:26
    assert via_host("host.domain.dom.26") == ("host.domain.dom:26", "host.domain.dom")
    assert via_host("host.com") == ("host.com", "host.com")
    assert via_host("[10.1.2.3]") == ("[10.1.2.3]", "[10.1.2.3]")
    assert via_host("[10.1.2.3].2525") == ("[10.1.2.3]:2525", "[10.1.2.3]")


_atom = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_+#", min_size=1, max_size=12)
# Labels start with a letter: an all-digit dotted name is an IPv4 literal, which the parser
# brackets on purpose ("user@1.2.3.4" -> domain "[1.2.3.4]").
_domain = st.lists(
    st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True),
    min_size=1,
    max_size=4,
).map(".".join)


@given(_atom, st.lists(_domain, min_size=1, max_size=4))
def test_all_three_route_forms_agree(user: str, hops: list[str]) -> None:
    """hops[0] is reached first; the user lives at hops[-1]."""
    canonical = parse_address("%".join([user, *reversed(hops[1:])]) + "@" + hops[0])
    bang = parse_address("!".join([*hops, user]))
    if len(hops) > 1:
        source = parse_address(
            "<" + ",".join("@" + h for h in hops[:-1]) + ":" + user + "@" + hops[-1] + ">"
        )
        assert source == canonical
    assert bang == canonical
    assert canonical.domain == hops[0]


@given(_atom, _domain)
def test_parse_is_idempotent_on_canonical_text(user: str, domain: str) -> None:
    a = parse_address(f"{user}@{domain}")
    assert parse_address(str(a)) == a


@given(st.text(max_size=40))
def test_parse_never_raises_anything_but_address_error(text: str) -> None:
    with contextlib.suppress(AddressError):
        parse_address(text)
