"""The Router engine: every example of the manual's Router section, with the expected
result written from the manual's prose (line numbers of manual.txt in the comments)."""

from __future__ import annotations

import pytest

from unigate.router import (
    DEFAULT_TABLE,
    FailureKind,
    Reroute,
    Route,
    RouteFailure,
    RouteOp,
    Router,
    RouterOptions,
    StaticDomain,
    StaticDomainObjects,
)

MAIL, SIGNAL, ACCESS = RouteOp.MAIL, RouteOp.SIGNAL, RouteOp.ACCESS


@pytest.fixture
def objects() -> StaticDomainObjects:
    """Main Domain mycompany.com (as in the manual's examples) and a few secondaries."""
    return StaticDomainObjects(
        StaticDomain(
            "mycompany.com",
            aliases=["mycompany-alias.net"],
            accounts=[
                "postmaster",
                "bill",
                "sales-client1",
                "c15-sales",
                "cl7-sales",
                "public",
                "pbx",
                "client1",
                "uuabc",
                "joe",
            ],
            account_aliases={"123": "bill"},
            ips=["10.0.0.1"],
        ),
        StaticDomain(
            "client.com",
            aliases=["client-alias.com"],
            accounts=["Bill", "user"],
            forwarders={"jim": "john@otherdomain.com"},
            groups={"team": ["Bill", "x@remote.example"]},
            lists=["news"],
            ips=["10.34.45.67"],
        ),
        StaticDomain("domainx.dom", accounts=["postmaster", "011490088899", "bob"]),
        StaticDomain("local.domain.dom", accounts=["bob"]),
        StaticDomain("hq.client.com", accounts=["staff"]),
        StaticDomain("dept1.xyz.com", accounts=["u"]),
        StaticDomain("dept2.xyz.com", accounts=["u"]),
        StaticDomain("company.com.local-dom", accounts=[]),
    )


def route(table: str, objects, address: str, op: RouteOp = MAIL, **options) -> Route | RouteFailure:
    return Router(table, objects, RouterOptions(**options)).route(address, op)


def ok(result: Route | RouteFailure) -> Route:
    assert isinstance(result, Route), result
    return result


def failed(result: Route | RouteFailure, kind: FailureKind) -> RouteFailure:
    assert isinstance(result, RouteFailure), result
    assert result.kind is kind, result
    return result


# -- Address Structure and Main Domain Name (L4912-4947) ------------------------------------


def test_main_domain_cut_off_table() -> None:
    objs = StaticDomainObjects(StaticDomain("company.com", accounts=["support"]))
    r = Router("", objs)
    # support@company.com -> local "support", domain cut off -> the support account
    assert ok(r.route("support@company.com", MAIL)) == Route(
        "LOCAL", "support@company.com", "support"
    )
    # <@company.com:sales@example.com> -> sales@example.com -> sales at example.com
    assert ok(r.route("<@company.com:sales@example.com>", MAIL)) == Route(
        "SMTP", "example.com", "sales@example.com"
    )
    lines = r.explain("<@company.com:sales@example.com>", MAIL)
    assert "main domain cut-off: sales%example.com" in lines
    assert "empty domain, local part split again: sales@example.com" in lines


def test_main_domain_alias_is_cut_off_too(objects) -> None:
    assert ok(route("<sales> = bill", objects, "sales@MyCompany-Alias.net")).queue == (
        "bill@mycompany.com"
    )


# -- Domain-level records (L5059-5124) ---------------------------------------------------


def test_domain_record_replaces_the_domain(objects) -> None:
    r = route("hq.company.com = twisted.company.com", objects, "u@hq.company.com")
    assert ok(r) == Route("SMTP", "twisted.company.com", "u@twisted.company.com")


def test_domain_record_with_a_relay_path(objects) -> None:
    # "redirected to the system relay.company.com, and then ... to hq.company.com"
    r = route("hq.company.com = hq.company.com@relay.company.com", objects, "u@hq.company.com")
    assert ok(r) == Route("SMTP", "relay.company.com", "u%hq.company.com@relay.company.com")


def test_subdomains_to_one_domain(objects) -> None:
    t = "*.old_company.com = new_company.com"
    assert ok(route(t, objects, "u@a.b.old_company.com")).address == "u@new_company.com"
    # the sample needs the dot: old_company.com itself is not a subdomain
    assert ok(route(t, objects, "u@old_company.com")).queue == "old_company.com"


def test_subdomains_of_the_main_domain(objects) -> None:
    # "the address user@mail.mycompany.com will be processed as the user@mycompany.com"
    r = route("*.mycompany.com = mycompany.com", objects, "bill@mail.mycompany.com")
    assert ok(r) == Route("LOCAL", "bill@mycompany.com", "bill")


def test_subdomain_wildcard_substitution(objects) -> None:
    r = route("*.old_company.com = *.new_company.com", objects, "u@host5.old_company.com")
    assert ok(r).queue == "host5.new_company.com"


def test_system_star_to_unified_account(objects) -> None:
    # system-abc.mycompany.com -> uuabc.local: stored in the Main-Domain account uuabc
    r = route("system-*.mycompany.com = uu*.local", objects, "x@system-abc.mycompany.com")
    assert ok(r) == Route("LOCAL", "uuabc@mycompany.com", "x")


def test_domain_records_never_match_the_main_domain(objects) -> None:
    assert ok(route("*com = error", objects, "bill")).module == "LOCAL"
    failed(route("*com = error", objects, "x@a.com"), FailureKind.ERROR)
    # and a record that maps a domain onto itself is a loop
    failed(route("* = elsewhere.com", objects, "x@a.com"), FailureKind.LOOP)


# -- Account-level records (L5126-5215) ---------------------------------------------------


def test_account_record_in_the_main_domain(objects) -> None:
    # "all messages to sales@mycompany.com will go to bill"
    assert ok(route("<sales> = bill", objects, "sales@mycompany.com")) == Route(
        "LOCAL", "bill@mycompany.com", "bill"
    )


def test_account_record_to_a_remote_address(objects) -> None:
    r = route("<sales> = Bill@thatcompany.com", objects, "sales@mycompany.com")
    assert ok(r) == Route("SMTP", "thatcompany.com", "Bill@thatcompany.com")


def test_account_record_wildcard_in_the_route(objects) -> None:
    r = route("<dept-*> = postmaster@*-dept.mycompany.com", objects, "dept-sales@mycompany.com")
    assert ok(r) == Route("SMTP", "sales-dept.mycompany.com", "postmaster@sales-dept.mycompany.com")


def test_account_record_in_a_secondary_domain(objects) -> None:
    r = route("<sales@client.com> = Bill@client.com", objects, "sales@client.com")
    assert ok(r) == Route("LOCAL", "Bill@client.com", "Bill")
    # a right side without a domain is in the Main Domain: Bill@mycompany.com
    r = route("<sales@client.com> = Bill", objects, "sales@client.com")
    assert ok(r) == Route("LOCAL", "bill@mycompany.com", "Bill")


def test_mail_only_records_for_a_foreign_domain(objects) -> None:
    t = "Mail:<sales@client1.com> = sales-client1\nMail:client1.com = new.client1.com\n"
    assert ok(route(t, objects, "sales@client1.com")) == Route(
        "LOCAL", "sales-client1@mycompany.com", "sales-client1"
    )
    assert ok(route(t, objects, "info@client1.com")) == Route(
        "SMTP", "new.client1.com", "info@new.client1.com"
    )
    # Signals are not affected by Mail: records
    assert ok(route(t, objects, "sales@client1.com", SIGNAL)) == Route(
        "SIP", "client1.com", "sales@client1.com"
    )


def test_address_spaces_per_domain(objects) -> None:
    """The manual prints "<*@client5.com> = c15-*" but its prose says "cl5-sales"
    (digest 02 §9.4): the record is the configuration, so c15-sales it is."""
    t = "<*@client5.com> = c15-*\n<*@client7.com> = cl7-*\n"
    assert ok(route(t, objects, "sales@client5.com")).queue == "c15-sales@mycompany.com"
    assert ok(route(t, objects, "sales@client7.com")).queue == "cl7-sales@mycompany.com"


def test_account_record_for_a_domain_alias_name(objects) -> None:
    # records match the literal name first; the alias becomes the domain name afterwards
    t = "<sales@client.com> = Bill@client.com"
    assert ok(route(t, objects, "sales@client-alias.com")).queue == "Bill@client.com"
    t = "<sales@client-alias.com> = bill"
    assert ok(route(t, objects, "sales@client-alias.com")).queue == "bill@mycompany.com"


# -- All-Local records (L5217-5246) -------------------------------------------------------


def test_all_local_record_stays_in_the_same_domain(objects) -> None:
    t = "<abuse@*> = postmaster"
    assert ok(route(t, objects, "abuse@domainX.dom")) == Route(
        "LOCAL", "postmaster@domainx.dom", "postmaster"
    )
    assert ok(route(t, objects, "abuse@mycompany.com")).queue == "postmaster@mycompany.com"
    # a non-local domain is untouched
    assert ok(route(t, objects, "abuse@x.example")) == Route("SMTP", "x.example", "abuse@x.example")


def test_all_local_record_with_a_domain_in_the_route(objects) -> None:
    # -> postmaster@somedomain.com@domainX.dom -> postmaster@somedomain.com
    r = Router("<abuse@*> = postmaster@somedomain.com", objects)
    assert ok(r.route("abuse@domainX.dom", MAIL)) == Route(
        "SMTP", "somedomain.com", "postmaster@somedomain.com"
    )
    lines = r.explain("abuse@domainX.dom", MAIL)
    assert any("-> postmaster%somedomain.com@domainx.dom" in line for line in lines)


def test_all_local_wildcard(objects) -> None:
    # +490088899@domainX.dom -> 011490088899@domainX.dom
    r = route("<+*@*> = 011*", objects, "+490088899@domainX.dom")
    assert ok(r) == Route("LOCAL", "011490088899@domainx.dom", "011490088899")


# -- Special addresses (L5248-5336) -------------------------------------------------------


def test_null_records(objects) -> None:
    t = "<*@bad.company.com> = null\n<junk> = null\n"
    assert ok(route(t, objects, "any@bad.company.com")) == Route(
        "SYSTEM", "NULL", "null@mycompany.com"
    )
    assert ok(route(t, objects, "junk@mycompany.com", SIGNAL)).queue == "NULL"


@pytest.mark.parametrize("name", ["null", "MAILER-DAEMON", "Calendar-Alarm"])
def test_black_hole_names(objects, name: str) -> None:
    assert ok(route("", objects, f"{name}@client.com")).queue == "NULL"
    assert ok(route("", objects, "x@null")).queue == "NULL"


def test_error_records(objects) -> None:
    t = "bad.company.com = error\n<junk> = error\n"
    failed(route(t, objects, "x@bad.company.com"), FailureKind.ERROR)
    failed(route(t, objects, "junk@mycompany.com"), FailureKind.ERROR)
    failed(route("", objects, "error"), FailureKind.ERROR)
    failed(route("", objects, "x@error"), FailureKind.ERROR)


def test_blacklisted_spamtrap_incomplete(objects) -> None:
    assert failed(route("", objects, "blacklisted"), FailureKind.BLACKLISTED).text == (
        "Blacklisted Address"
    )
    failed(route("", objects, "x@blacklisted"), FailureKind.BLACKLISTED)
    # manual (Protection): <misterX> = spamtrap
    t = "<misterX> = spamtrap\n<johnsmith@subdomain.com> = spamtrap\n"
    failed(route(t, objects, "misterx@mycompany.com"), FailureKind.SPAMTRAP)
    failed(route(t, objects, "johnsmith@subdomain.com"), FailureKind.SPAMTRAP)


def test_incomplete_record() -> None:
    """Printed as <(1-4d)*> = incomplete (two wildcards, digest 02 §9.1/§9.3): we use
    <(1-4d)@*>, and follow the record's 1-4 (the prose says 1-, 2- or 3-digit)."""
    objs = StaticDomainObjects(StaticDomain("mycompany.com"))
    r = Router("<(1-4d)@*> = incomplete", objs)
    for number in ("1", "12", "123", "1234"):
        result = failed(r.route(number, SIGNAL), FailureKind.INCOMPLETE)
        assert result.text == "Address Incomplete"
    failed(r.route("12345", SIGNAL), FailureKind.UNKNOWN)


def test_listserver_all_alldomains_loginpage(objects) -> None:
    assert ok(route("", objects, "listserver@client.com")) == Route(
        "LIST", "listserver@client.com", "listserver"
    )
    assert ok(route("", objects, "all@client.com")) == Route("SYSTEM", "ALL", "all@client.com")
    assert ok(route("", objects, "alldomains")).queue == "ALLDOMAINS"
    assert ok(route("", objects, "LoginPage@client-alias.com", ACCESS)) == Route(
        "LOCAL", "LoginPage@client.com", "LoginPage"
    )


def test_here_suffix_avoids_loops(objects) -> None:
    t = (
        "dept1.xyz.com = dept1.xyz.com._here\n"
        "dept2.xyz.com = dept2.xyz.com._here\n"
        "*.xyz.com = *.abc.com\n"
    )
    assert ok(route(t, objects, "u@dept1.xyz.com")) == Route("LOCAL", "u@dept1.xyz.com", "u")
    assert ok(route(t, objects, "u@dept2.xyz.com")).queue == "u@dept2.xyz.com"
    assert ok(route(t, objects, "u@sales.xyz.com")).queue == "sales.abc.com"
    assert ok(route("", objects, "bill@mycompany.com.here")).queue == "bill@mycompany.com"
    failed(route("", objects, "u@nowhere.com._here"), FailureKind.UNROUTABLE)


# -- Explicit routing via remote systems (L5339-5427) -------------------------------------


def test_via_suffix_sends_the_local_part_only() -> None:
    objs = StaticDomainObjects(StaticDomain("company.com", accounts=["user"]))
    t = (
        "sales.company.com = sales.company.com._via ; explicitly relay to a remote host\n"
        "*.company.com     = company.com           ; all other subdomains are rerouted\n"
    )
    r = Router(t, objs)
    # <user@sales.company.com> is relayed to the sales.company.com host as <user>
    assert ok(r.route("user@sales.company.com", MAIL)) == Route("SMTP", "sales.company.com", "user")
    assert ok(r.route("user@any.company.com", MAIL)) == Route("LOCAL", "user@company.com", "user")
    assert ok(r.route("user@sales.company.com", SIGNAL)).module == "SIP"


@pytest.mark.parametrize("client", ["client1.com", "client2.com", "client3.com"])
def test_via_with_a_domain_route(objects, client: str) -> None:
    t = "\n".join(f"client{i}.com = client{i}.com@host.com._via" for i in (1, 2, 3))
    assert ok(route(t, objects, f"user@{client}")) == Route("SMTP", "host.com", f"user@{client}")


def test_flexible_relay_with_and_without_via(objects) -> None:
    """The manual's tables use client1.host where the records say client1.com (digest 02
    §9.8): the flow is the same; we test it with the records' names."""
    common = "client1.com = client1.com@relay\nclient2.com = client2.com@relay\n"
    with_via = route(common + "relay = host.com._via\n", objects, "user@client1.com")
    assert ok(with_via) == Route("SMTP", "host.com", "user@client1.com")
    without = route(common + "relay = host.com\n", objects, "user@client1.com")
    assert ok(without) == Route("SMTP", "host.com", "user%client1.com@host.com")


def test_via_port_number(objects) -> None:
    r = route("", objects, "x@host.domain.dom.26._via")
    assert ok(r) == Route("SMTP", "host.domain.dom:26", "x")


def test_relay_suffix_appends_the_host(objects) -> None:
    t = (
        "*.sales.company.com = *.sales.company.com._relay ; explicitly relay outside\n"
        "*.company.com       = company.com           ; all other subdomains are rerouted\n"
    )
    assert ok(route(t, objects, "user@x.sales.company.com")) == Route(
        "SMTP", "x.sales.company.com", "user@x.sales.company.com"
    )
    assert ok(route("", objects, "user@h.example.2525._relay")) == Route(
        "SMTP", "h.example:2525", "user@h.example"
    )


def test_smtp_suffixes_force_smtp(objects) -> None:
    assert ok(route("", objects, "u@h.example._smtp", SIGNAL)) == Route("SMTP", "h.example", "u")


# -- Real-time applications (L5429-5453) --------------------------------------------------


def test_application_targets(objects) -> None:
    t = "<someName@someDomain> = myProgram#user@client.com"
    assert ok(route(t, objects, "someName@someDomain", SIGNAL)) == Route(
        "PBX", "user@client.com", "myProgram#user", application="myProgram"
    )
    t = "<someName@someDomain> = myProgram{mixer,fast}#user@client.com"
    r = ok(route(t, objects, "someName@someDomain", SIGNAL))
    assert (r.application, r.parameters) == ("myProgram", ("mixer", "fast"))
    number = "1" * 20
    t = "<+(20d)@someDomain> = myProgram{num=*}#user@client.com"
    r = ok(route(t, objects, f"+{number}@someDomain", SIGNAL))
    assert r.parameters == (f"num={number}",)
    # 21 digits do not match (20d): someDomain has no dot and is unroutable
    failed(route(t, objects, f"+{number}1@someDomain", SIGNAL), FailureKind.UNROUTABLE)


# -- Routing by IP addresses (L5479-5487) -------------------------------------------------


def test_ip_address_of_a_secondary_domain(objects) -> None:
    assert ok(route("", objects, "user@10.34.45.67")) == Route("LOCAL", "user@client.com", "user")


def test_ip_address_of_the_main_domain(objects) -> None:
    assert ok(route("", objects, "bill@[10.0.0.1]")).queue == "bill@mycompany.com"


def test_foreign_ip_address_is_relayed_to(objects) -> None:
    assert ok(route("", objects, "user@10.9.9.9")) == Route("SMTP", "[10.9.9.9]", "user")
    # table records can be written for the bracketed form
    t = "[10.9.9.9] = elsewhere.example"
    assert ok(route(t, objects, "user@10.9.9.9")).queue == "elsewhere.example"


# -- External helper routing (L5518-5536) -------------------------------------------------


def test_external_helper(objects) -> None:
    t = "NoRelay:Signal:<011*@*> = tele-*@external ; route using an external program"
    r = Router(t, objects)
    asked: list[tuple[str, RouteOp]] = []

    def helper(address: str, op: RouteOp):
        asked.append((address, op))
        if address.endswith("@external"):
            return Reroute("+15556666@gw.example")
        return None

    result = ok(r.route("0115556666@local.domain.dom", SIGNAL, extra=helper))
    assert asked[0] == ("tele-5556666@external", SIGNAL)
    assert result == Route("SIP", "gw.example", "+15556666@gw.example")
    failed(r.route("0115556666@local.domain.dom", SIGNAL), FailureKind.UNROUTABLE)


# -- ENUM routing (L5538-5580) ------------------------------------------------------------

ENUM_TABLE = """\
<+(d)@*> = +*@telnum ; direct +number to e164 "telnum" domain
telnum = e164.arpa._enum ; direct +number to e164.arpa
e164.arpa._noenum = pstn
<+44*@pstn> = gatewaycaller{+44*}#pbx
pstn = main.office.dom
"""


def test_enum_hit(objects) -> None:
    """The first record is printed "<+(d)*>" (two wildcards): "<+(d)@*>" is meant."""

    asked = []

    def naptr(address: str, op: RouteOp):
        asked.append(address)
        if address.endswith("._enum"):
            return Reroute("pbx@communicate.ru")  # sip:pbx@communicate.ru, prefix removed
        return None

    r = Router(ENUM_TABLE, objects)
    result = r.route("+74992713154@local.domain.dom", SIGNAL, extra=naptr)
    assert ok(result) == Route("SIP", "communicate.ru", "pbx@communicate.ru")
    assert asked == ["+74992713154@e164.arpa._enum", "pbx@communicate.ru"]


def test_enum_miss_goes_to_noenum_then_pstn(objects) -> None:
    r = Router(ENUM_TABLE, objects)
    result = r.route("+74992713152@local.domain.dom", SIGNAL)
    assert ok(result) == Route("SIP", "main.office.dom", "+74992713152@main.office.dom")
    lines = r.explain("+74992713152@local.domain.dom", SIGNAL)
    assert any("+74992713152@e164.arpa._noenum" in line for line in lines)
    # +44 numbers go to the local gatewaycaller application
    uk = ok(r.route("+442071234567@local.domain.dom", SIGNAL))
    assert (uk.module, uk.queue, uk.application, uk.parameters) == (
        "PBX",
        "pbx@mycompany.com",
        "gatewaycaller",
        ("+442071234567",),
    )


# -- Default records (L5588-5684), with the §9.1 repairs ----------------------------------


@pytest.fixture
def default_router(objects) -> Router:
    return Router(DEFAULT_TABLE, objects)


def test_default_root_localhost_mailhost(default_router: Router) -> None:
    assert ok(default_router.route("root", MAIL)).queue == "postmaster@mycompany.com"
    assert ok(default_router.route("bill@localhost", MAIL)).queue == "bill@mycompany.com"
    assert ok(default_router.route("bill@mailhost", MAIL)).queue == "bill@mycompany.com"


def test_default_white_hole(default_router: Router) -> None:
    r = ok(default_router.route("blacklist-admin-x@blacklisted", MAIL))
    assert r.queue == "postmaster@mycompany.com"


def test_default_voicemail(default_router: Router) -> None:
    # *nnn: the voicemail application for the account with the alias nnn
    r = ok(default_router.route("*123@mycompany.com", SIGNAL))
    assert (r.module, r.queue, r.application) == ("PBX", "bill@mycompany.com", "voicemail")


def test_default_pbx_and_pickup(default_router: Router) -> None:
    r = ok(default_router.route("712@mycompany.com", SIGNAL))
    assert (r.queue, r.application, r.parameters) == ("pbx@mycompany.com", "pbx", ("12",))
    r = ok(default_router.route("8123", SIGNAL))
    assert (r.application, r.parameters) == ("pickup", ("123",))


def test_default_tel_and_phone_numbers(default_router: Router) -> None:
    r = ok(default_router.route("tel:+74992713154", SIGNAL))
    assert (r.application, r.parameters) == ("gatewaycaller", ("+74992713154",))
    r = ok(default_router.route("+74992713154@domainX.dom", SIGNAL))
    assert r.queue == "pbx@mycompany.com"
    # the telnum -> pstn record is Signal-only: mail to a +number stops at "telnum"
    failed(default_router.route("+74992713154@domainX.dom", MAIL), FailureKind.UNROUTABLE)


def test_default_emergency(default_router: Router) -> None:
    for number in ("911@domainX.dom", "112"):
        r = ok(default_router.route(number, SIGNAL))
        assert (r.queue, r.application) == ("pbx@mycompany.com", "emergency")


def test_default_local_area_call(default_router: Router) -> None:
    r = ok(default_router.route("5551234@domainX.dom", SIGNAL))
    assert (r.queue, r.application, r.parameters) == (
        "pbx@mycompany.com",
        "localAreaCall",
        ("5551234",),
    )


# -- Non-qualified domain names (L5704) ---------------------------------------------------


def test_non_qualified_suffix(objects) -> None:
    failed(route("", objects, "user@someserver"), FailureKind.UNROUTABLE)
    r = route("", objects, "user@someserver", nonqualified_suffix="myorg.org")
    assert ok(r) == Route("SMTP", "someserver.myorg.org", "user@someserver.myorg.org")
    # records come first: server1 = server1.myorg.org
    assert ok(route("server1 = server1.myorg.org", objects, "u@server1")).queue == (
        "server1.myorg.org"
    )


# -- All-Domain Aliases (L5708-5748) ------------------------------------------------------


def test_all_domain_alias(objects) -> None:
    aliases = (("abuse", "postmaster@mycompany.com"),)
    r = route("", objects, "abuse@domainX.dom", all_domain_aliases=aliases)
    assert ok(r).queue == "postmaster@mycompany.com"


def test_all_domain_alias_loop_makes_postmaster_unusable(objects) -> None:
    aliases = (("postmaster", "postmaster@mycompany.com"),)
    r = failed(
        route("", objects, "postmaster", ACCESS, all_domain_aliases=aliases), FailureKind.LOOP
    )
    assert "postmaster -> postmaster" in r.text


def test_all_domain_alias_safe_forms(objects) -> None:
    r = route(
        "",
        objects,
        "postmaster@domainX.dom",
        all_domain_aliases=(("postmaster", "anyname@postmaster.local"),),
    )
    assert ok(r) == Route("LOCAL", "postmaster@mycompany.com", "anyname")
    r = route(
        "",
        objects,
        "postmaster@domainX.dom",
        all_domain_aliases=(("postmaster", "mailboxName#postmaster"),),
    )
    assert ok(r) == Route(
        "LOCAL", "postmaster@mycompany.com", "mailboxName#postmaster", mailbox="mailboxName"
    )


def test_all_domain_alias_dial_plan(objects) -> None:
    """Digest 02 §9.19: the dial plan exists only as prose; 91* -> *@client.com."""
    r = route("", objects, "91user@domainX.dom", all_domain_aliases=(("91*", "*@client.com"),))
    assert ok(r).queue == "user@client.com"


# -- Relay marker (Protection, L6198-6258) ------------------------------------------------


def test_relay_marker_table_of_the_manual() -> None:
    objs = StaticDomainObjects(StaticDomain("mydomain.com"))
    t = (
        "Relay:<joe> = joe5@bigprovdiar.com\n"
        "NoRelay:bigprovdiar.com = bigprovdiar.com@relay3.com._via\n"
    )
    r = Router(t, objs)
    result = ok(r.route("joe@mydomain.com", MAIL))
    assert result == Route("SMTP", "relay3.com", "joe5@bigprovdiar.com", relay=True)
    lines = r.explain("joe@mydomain.com", MAIL)
    assert lines[1] == "main domain cut-off: joe"
    assert "joe -> joe5@bigprovdiar.com (relay marker set)" in lines[2]
    assert "-> joe5%bigprovdiar.com@relay3.com._via (relay marker set)" in lines[3]
    # with NoRelay:<joe> the marker is never set
    r = Router(t.replace("Relay:<joe>", "NoRelay:<joe>"), objs)
    assert ok(r.route("joe@mydomain.com", MAIL)).relay is False


def test_norelay_is_the_default(objects) -> None:
    """Digest 02 §9.5: the manual shows "Relay:<user> = ..." and then "<user> = ..."
    (a lost "R:"?). Without a prefix a record is NoRelay: it cannot relay."""
    assert ok(route("Relay:<user> = user@other.host", objects, "user")).relay is True
    assert ok(route("<user> = user@other.host", objects, "user")).relay is False
    assert ok(route("NoRelay:<user> = user@other.host", objects, "user")).relay is False
    assert ok(route("R:<user> = user@other.host", objects, "user")).relay is True


def test_relay_for_a_backed_up_host(objects) -> None:
    """ "Relay:<*@clienthost.com> = client1.com" has a domain-only right side (digest 02
    §9.5); the intended account-level form is "*@client1.com"."""
    r = route("Relay:clienthost.com = client1.com", objects, "u@clienthost.com")
    assert ok(r) == Route("SMTP", "client1.com", "u@client1.com", relay=True)
    r = route("Relay:<*@clienthost.com> = *@client1.com", objects, "u@clienthost.com")
    assert ok(r) == Route("SMTP", "client1.com", "u@client1.com", relay=True)


def test_relay_prefix_does_not_mark_complex_addresses(objects) -> None:
    # a route with several hops is not simple: Relay: does not set the marker
    r = route("Relay:clienthost.com = client1.com", objects, "victim%elsewhere@clienthost.com")
    assert ok(r) == Route("SMTP", "client1.com", "victim%elsewhere@client1.com", relay=False)
    assert ok(route("Relay:<u> = u%h1@h2.example", objects, "u")).relay is False
    assert ok(route('Relay:<u> = "a b"@h2.example', objects, "u")).relay is False
    # RelayAll: marks anything
    assert ok(route("RelayAll:<u> = u%h1@h2.example", objects, "u")).relay is True
    t = "RelayAll:<report-*@clienthost.com> = report-*@client1.com"
    assert ok(route(t, objects, "report-x@clienthost.com")) == Route(
        "SMTP", "client1.com", "report-x@client1.com", relay=True
    )


def test_plain_remote_address_has_no_marker(objects) -> None:
    assert ok(route("", objects, "x@remote.example")).relay is False


def test_forwarder_acts_as_a_relay_record(objects) -> None:
    # Forwarder jim in client.com = Relay:<jim@client.com> = john@otherdomain.com
    assert ok(route("", objects, "jim@client.com")) == Route(
        "SMTP", "otherdomain.com", "john@otherdomain.com", relay=True
    )


# -- Loops -------------------------------------------------------------------------------


def test_loop_between_two_records(objects) -> None:
    r = failed(route("a.com = b.com\nb.com = a.com\n", objects, "u@a.com"), FailureKind.LOOP)
    assert r.text == "routing loop: u@a.com -> u@b.com -> u@a.com"


def test_growing_rewrite_hits_the_step_cap(objects) -> None:
    r = failed(route("<*@x.com> = a*@x.com", objects, "u@x.com", max_steps=10), FailureKind.LOOP)
    assert "more than 10 steps" in r.text


def test_self_record_is_a_loop(objects) -> None:
    failed(route("<u> = u", objects, "u"), FailureKind.LOOP)


# -- Local Delivery: .local, .domain, direct mailbox, detail (L13930-14171) -----------------


def test_dot_local_unified_account(objects) -> None:
    assert ok(route("", objects, "abcdef@client1.local")) == Route(
        "LOCAL", "client1@mycompany.com", "abcdef"
    )
    assert ok(route("client1.com = client1.local", objects, "xyz@client1.com")) == Route(
        "LOCAL", "client1@mycompany.com", "xyz"
    )


def test_dot_domain_unified_account(objects) -> None:
    assert ok(route("", objects, "abcdef%staff@hq.client.com.domain")) == Route(
        "LOCAL", "staff@hq.client.com", "abcdef"
    )
    failed(route("", objects, "abcdef@hq.client.com.domain"), FailureKind.UNROUTABLE)


def test_direct_mailbox_addressing(objects) -> None:
    t = (
        "; store messages to sales@maindomain\n"
        "<sales> = sales#public\n"
        '<support@client.com> = "requests#staff"@hq.client.com\n'
    )
    assert ok(route(t, objects, "sales@mycompany.com")) == Route(
        "LOCAL", "public@mycompany.com", "sales#public", mailbox="sales"
    )
    assert ok(route(t, objects, "support@client.com")) == Route(
        "LOCAL", "staff@hq.client.com", "requests#staff", mailbox="requests"
    )
    # the same works for logins (POP: the sales mailbox of the public account)
    assert ok(route(t, objects, "sales", ACCESS)).mailbox == "sales"
    # mailbox names are case-sensitive
    assert ok(route("", objects, "Jokes#bill")).mailbox == "Jokes"
    # disabled: '#' is just part of a name
    failed(route(t, objects, "sales", MAIL, direct_mailbox=False), FailureKind.UNKNOWN)
    failed(route("", objects, "box#nobody"), FailureKind.UNKNOWN)


def test_account_detail(objects) -> None:
    failed(route("", objects, "bill+jokes"), FailureKind.UNKNOWN)  # disabled by default
    from unigate.router import DetailMode

    assert ok(route("", objects, "bill+jokes", account_detail=DetailMode.ENABLED)) == Route(
        "LOCAL", "bill@mycompany.com", "bill"
    )
    assert ok(route("", objects, "bill+jokes", account_detail=DetailMode.MAILBOX)) == Route(
        "LOCAL", "bill@mycompany.com", "jokes#bill", mailbox="jokes"
    )
    # a leading + is a phone number, not a detail
    failed(route("", objects, "+123", account_detail=DetailMode.ENABLED), FailureKind.UNKNOWN)


# -- Domain objects and unknown names (L9045-9100, L10553, L10671) ------------------------


def test_accounts_aliases_and_domain_aliases(objects) -> None:
    assert ok(route("", objects, "BILL@client.com")) == Route("LOCAL", "Bill@client.com", "BILL")
    assert ok(route("", objects, "123")) == Route("LOCAL", "bill@mycompany.com", "123")
    assert ok(route("", objects, "user@Client-Alias.com", ACCESS)) == Route(
        "LOCAL", "user@client.com", "user"
    )


def test_groups_and_lists(objects) -> None:
    r = ok(route("", objects, "team@client.com"))
    assert (r.module, r.queue, r.members) == (
        "GROUP",
        "team@client.com",
        ("Bill", "x@remote.example"),
    )
    assert ok(route("", objects, "team@client.com", SIGNAL)).module == "GROUP"
    failed(route("", objects, "team@client.com", ACCESS), FailureKind.UNKNOWN)
    assert ok(route("", objects, "news@client.com")) == Route("LIST", "news@client.com", "news")
    failed(route("", objects, "news@client.com", ACCESS), FailureKind.UNKNOWN)


def test_unknown_policies() -> None:
    from unigate.router import UnknownAction, UnknownPolicy

    objs = StaticDomainObjects(
        StaticDomain(
            "mycompany.com",
            unknown={
                MAIL: UnknownPolicy(UnknownAction.REROUTE, "bad-*@monitoring.department.com"),
                SIGNAL: UnknownPolicy(UnknownAction.DISCARD),
            },
        ),
        StaticDomain(
            "client1.com",
            accounts=["postmaster"],
            unknown={
                MAIL: UnknownPolicy(UnknownAction.REROUTE, "postmaster@client1.com"),
                SIGNAL: UnknownPolicy(UnknownAction.ACCEPT),
            },
        ),
        StaticDomain(
            "company.com",
            accounts=["Unknowns"],
            unknown={MAIL: UnknownPolicy(UnknownAction.REROUTE, "*%Unknowns@company.com.domain")},
        ),
    )
    r = Router("", objs)
    # "james@mycompany.com ... is rerouted to bad-james@monitoring.department.com"
    assert ok(r.route("james@mycompany.com", MAIL)) == Route(
        "SMTP", "monitoring.department.com", "bad-james@monitoring.department.com"
    )
    assert ok(r.route("james", SIGNAL)).queue == "NULL"
    assert failed(r.route("james", ACCESS), FailureKind.UNKNOWN).text == "unknown account"
    assert ok(r.route("jjones@client1.com", MAIL)).queue == "postmaster@client1.com"
    assert ok(r.route("jjones@client1.com", SIGNAL)) == Route(
        "LOCAL", "jjones@client1.com", "jjones"
    )
    # "*%Unknowns@company.com.domain": stored in Unknowns, X-Real-To the unknown name
    assert ok(r.route("jjones@company.com", MAIL)) == Route(
        "LOCAL", "Unknowns@company.com", "jjones"
    )


# -- The modules (the unigate_route hook) --------------------------------------------------


def test_extra_is_asked_for_unknown_local_names_before_the_policy(objects) -> None:
    asked = []

    def lists(address: str, op: RouteOp):
        asked.append(address)
        if address == "announce@client.com":
            return Route("LIST", "announce@client.com", address)
        return None

    r = Router("", objects)
    assert ok(r.route("announce@client.com", MAIL, extra=lists)).module == "LIST"
    failed(r.route("other@client.com", MAIL, extra=lists), FailureKind.UNKNOWN)
    # known objects never reach the modules
    asked.clear()
    r.route("bill", MAIL, extra=lists)
    assert asked == []


def test_extra_is_asked_for_remote_domains_before_smtp(objects) -> None:
    r = Router("<u> = u@remote.example", objects)

    def xmpp(address: str, op: RouteOp):
        return Route("XMPP", "remote.example", address) if op is SIGNAL else None

    assert ok(r.route("u", SIGNAL, extra=xmpp)).module == "XMPP"
    assert ok(r.route("u", MAIL, extra=xmpp)).module == "SMTP"


def test_extra_answers_keep_the_relay_marker(objects) -> None:
    r = Router("Relay:<u> = u@remote.example", objects)
    result = r.route("u", MAIL, extra=lambda a, op: Route("X", "q", a))
    assert ok(result).relay is True
    result = r.route(
        "u", MAIL, extra=lambda a, op: RouteFailure(FailureKind.TEMPORARY, "dns", a, True)
    )
    assert failed(result, FailureKind.TEMPORARY).temporary


def test_extra_reroute_loops_are_caught(objects) -> None:
    r = Router("", objects)
    failed(r.route("x@a.example", MAIL, extra=lambda a, op: Reroute(a)), FailureKind.LOOP)


def test_extra_with_a_wrong_answer_type_is_a_bug(objects) -> None:
    with pytest.raises(TypeError):
        Router("", objects).route("x@a.example", MAIL, extra=lambda a, op: "LOCAL")


def test_aroute_with_an_async_extra(objects) -> None:
    import asyncio

    async def helper(address: str, op: RouteOp):
        await asyncio.sleep(0)
        return Reroute("bill") if address.endswith("@external") else None

    r = Router("<help> = x@external", objects)
    result = asyncio.run(r.aroute("help", MAIL, extra=helper))
    assert ok(result).queue == "bill@mycompany.com"
    assert ok(asyncio.run(r.aroute("bill", MAIL))).queue == "bill@mycompany.com"


# -- explain() and odd inputs ---------------------------------------------------------------


def test_explain_ends_with_the_result(objects) -> None:
    lines = Router("<sales> = bill", objects).explain("sales@mycompany.com", MAIL)
    assert lines[0] == "address 'sales@mycompany.com' for mail: sales@mycompany.com"
    assert lines[-1] == "result: LOCAL(bill@mycompany.com)bill relay=no"
    lines = Router("", objects).explain("nobody")
    assert lines[-1] == "failed: UNKNOWN: unknown account (nobody@mycompany.com)"


def test_bad_address_is_a_syntax_failure(objects) -> None:
    failed(Router("", objects).route("user@", MAIL), FailureKind.SYNTAX)
    failed(Router("<x> = @@", objects).route("x", MAIL), FailureKind.SYNTAX)


def test_route_string_form() -> None:
    # the manual's routing string "module(queue)address" (Rules, L12441-12453)
    assert str(Route("SMTP", "domain", "user@domain")) == "SMTP(domain)user@domain"


def test_cluster_wide_table_is_checked_after_the_server_table(objects) -> None:
    r = Router("<a> = bill", objects, cluster_table_text="<a> = postmaster\n<b> = postmaster\n")
    assert ok(r.route("a", MAIL)).queue == "bill@mycompany.com"
    assert ok(r.route("b", MAIL)).queue == "postmaster@mycompany.com"
    lines = r.explain("b", MAIL)
    assert "cluster record line 2 '<b> = postmaster'" in lines[1]


def test_large_exact_table_is_fast(objects) -> None:
    """The fast path: 20,000 exact records and a few wildcards route in microseconds."""
    import time

    lines = [f"<user{i}@client{i % 50}.example> = bill" for i in range(10_000)]
    lines += [f"host{i}.example = relay{i}.example._via" for i in range(10_000)]
    lines += ["*.wild.example = wild.example._via"]
    r = Router("\n".join(lines), objects)
    start = time.perf_counter()
    for i in range(0, 10_000, 10):
        assert ok(r.route(f"user{i}@client{i % 50}.example", MAIL)).queue == "bill@mycompany.com"
        assert ok(r.route(f"x@host{i}.example", MAIL)).queue == f"relay{i}.example"
    assert ok(r.route("x@a.wild.example", MAIL)).queue == "wild.example"
    assert time.perf_counter() - start < 1.0
