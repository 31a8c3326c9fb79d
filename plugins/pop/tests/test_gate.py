"""The per-account admission rules: concurrent sessions and login frequency."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from unigate_pop.gate import AccountGate
from unigate_pop.login import INBOX, apop_digest, make_timestamp, split_login
from unigate_pop.settings import PopSettings


def test_session_limit_counts_open_sessions_per_account() -> None:
    gate = AccountGate(sessions_per_account=2)
    assert gate.admit("a@x", 0) is None
    assert gate.admit("a@x", 1) is None
    refusal = gate.admit("a@x", 2)
    assert refusal is not None and refusal.in_use
    assert gate.admit("b@x", 2) is None  # other accounts are not affected
    gate.release("a@x")
    assert gate.admit("a@x", 3) is None
    for _ in range(3):
        gate.release("a@x")
    assert gate.open_sessions("a@x") == 0


def test_login_frequency_limit_uses_a_sliding_window() -> None:
    gate = AccountGate(sessions_per_account=0, logins=2, window=600)
    assert gate.admit("a@x", 0) is None
    assert gate.admit("a@x", 100) is None
    refusal = gate.admit("a@x", 599)
    assert refusal is not None and not refusal.in_use
    assert gate.admit("a@x", 600.5) is None  # the first login left the window


def test_no_limits() -> None:
    gate = AccountGate(sessions_per_account=0, logins=0)
    assert all(gate.admit("a@x", t) is None for t in range(100))


def test_split_login_forms_of_the_manual() -> None:
    assert split_login("jsmith") == (INBOX, "jsmith")
    assert split_login("private#jsmith") == ("private", "jsmith")
    assert split_login("lists/info#jsmith@client1.com") == ("lists/info", "jsmith@client1.com")
    assert split_login("~public/announces#jsmith") == ("~public/announces", "jsmith")
    assert split_login("~boss/INBOX#jsmith%client1.com") == ("~boss/INBOX", "jsmith%client1.com")
    assert split_login("#jsmith") == (INBOX, "jsmith")
    assert split_login("a#b#jsmith") == ("a#b", "jsmith")


def test_apop_digest_rfc1939_example() -> None:
    # RFC 1939 section 7
    assert (
        apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
        == "c4c9334bac560ecc979e58001b3e22fb"
    )
    stamp = make_timestamp("host.example", now=5)
    assert stamp.startswith("<") and stamp.endswith(".5@host.example>")
    assert make_timestamp("h") != make_timestamp("h")


def test_settings_are_strict_and_defaulted() -> None:
    settings = PopSettings()
    assert settings.idle_timeout == 600 and settings.sessions_per_account == 3
    with pytest.raises(ValidationError):
        PopSettings(idle_timout=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        PopSettings(max_command_line=10)
