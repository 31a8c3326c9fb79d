"""Failed-login throttling (unigate.throttle) with a fake clock."""

from __future__ import annotations

import pytest

from unigate.throttle import FailedLogin, LoginThrottle


def fail(
    throttle: LoginThrottle, times: int, address: str, account: str | None, now: float
) -> None:
    for _ in range(times):
        throttle.failure(address, account, now)


def test_address_blocked_after_n_failures_in_window() -> None:
    throttle = LoginThrottle(per_address=(3, 60.0), per_account=(100, 20.0))
    fail(throttle, 2, "10.0.0.1", "a@d", 0.0)
    assert throttle.blocked("10.0.0.1", "a@d", 1.0) == 0.0
    throttle.failure("10.0.0.1", "b@d", 2.0)  # third failure, any account
    assert throttle.blocked("10.0.0.1", None, 2.0) == pytest.approx(60.0)
    assert throttle.blocked("10.0.0.1", "c@d", 32.0) == pytest.approx(30.0)
    assert throttle.blocked("10.0.0.2", "a@d", 32.0) == 0.0
    assert throttle.blocked("10.0.0.1", None, 62.0) == 0.0


def test_failures_outside_the_window_do_not_add_up() -> None:
    throttle = LoginThrottle(per_address=(3, 10.0), per_account=(100, 10.0))
    throttle.failure("a", None, 0.0)
    throttle.failure("a", None, 5.0)
    throttle.failure("a", None, 10.0)  # the first one has aged out
    assert throttle.blocked("a", None, 10.0) == 0.0
    throttle.failure("a", None, 11.0)
    assert throttle.blocked("a", None, 11.0) == pytest.approx(10.0)


def test_block_is_not_extended_by_failures_during_it() -> None:
    throttle = LoginThrottle(per_address=(2, 10.0), per_account=(100, 10.0))
    fail(throttle, 2, "a", None, 0.0)
    fail(throttle, 5, "a", None, 5.0)
    assert throttle.blocked("a", None, 9.0) == pytest.approx(1.0)
    assert throttle.blocked("a", None, 10.0) == 0.0
    throttle.failure("a", None, 10.5)  # counting starts afresh after the block
    assert throttle.blocked("a", None, 10.5) == 0.0


def test_account_block_across_addresses() -> None:
    throttle = LoginThrottle(per_address=(100, 60.0), per_account=(30, 20.0))
    for i in range(30):
        throttle.failure(f"192.0.2.{i}", "john@doe.dom", 1.0)
    assert throttle.blocked("198.51.100.7", "john@doe.dom", 1.0) == pytest.approx(20.0)
    assert throttle.blocked("198.51.100.7", "jane@doe.dom", 1.0) == 0.0
    assert throttle.blocked("198.51.100.7", None, 1.0) == 0.0
    assert throttle.blocked("198.51.100.7", "john@doe.dom", 21.0) == 0.0


def test_last_good_address_is_exempt_from_the_account_block() -> None:
    throttle = LoginThrottle(per_address=(100, 60.0), per_account=(3, 20.0))
    throttle.success("10.1.1.1", "john@doe.dom", 0.0)
    fail(throttle, 3, "203.0.113.9", "john@doe.dom", 1.0)
    assert throttle.blocked("203.0.113.9", "john@doe.dom", 2.0) > 0
    assert throttle.blocked("10.1.1.1", "john@doe.dom", 2.0) == 0.0
    # A later good login elsewhere moves the exemption.
    throttle.success("10.2.2.2", "john@doe.dom", 3.0)
    assert throttle.blocked("10.1.1.1", "john@doe.dom", 4.0) > 0
    assert throttle.blocked("10.2.2.2", "john@doe.dom", 4.0) == 0.0


def test_last_good_address_still_obeys_its_address_block() -> None:
    throttle = LoginThrottle(per_address=(2, 60.0), per_account=(2, 20.0))
    throttle.success("10.1.1.1", "john@doe.dom", 0.0)
    fail(throttle, 2, "10.1.1.1", "john@doe.dom", 1.0)
    assert throttle.blocked("10.1.1.1", "john@doe.dom", 1.0) == pytest.approx(60.0)


def test_last_failed_and_clear() -> None:
    throttle = LoginThrottle(per_address=(100, 60.0), per_account=(2, 20.0))
    assert throttle.last_failed("john@doe.dom") is None
    throttle.failure("10.0.0.1", "john@doe.dom", 5.0)
    throttle.failure("10.0.0.2", "john@doe.dom", 6.0)
    assert throttle.last_failed("john@doe.dom") == FailedLogin(6.0, "10.0.0.2")
    assert throttle.blocked("10.0.0.3", "john@doe.dom", 7.0) > 0
    throttle.clear("john@doe.dom")
    assert throttle.blocked("10.0.0.3", "john@doe.dom", 7.0) == 0.0
    assert throttle.last_failed("john@doe.dom") is None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(per_address=(5, 60.0), per_account=(5, 60.0), max_keys=50)
    for i in range(10_000):
        throttle.failure(f"10.{i // 256}.{i % 256}.1", f"user{i}@d", float(i))
        throttle.success(f"10.{i // 256}.{i % 256}.1", f"user{i}@d", float(i))
    assert throttle.tracked() <= 4 * 50


def test_hammered_block_survives_eviction_pressure() -> None:
    throttle = LoginThrottle(per_address=(3, 100.0), per_account=(100, 10.0), max_keys=20)
    fail(throttle, 3, "attacker", None, 0.0)
    for i in range(200):
        throttle.failure(f"spray{i}", None, 1.0)
        throttle.failure("attacker", None, 1.0)  # still touching its entry
    assert throttle.blocked("attacker", None, 2.0) == pytest.approx(98.0)


def test_expired_entries_are_evicted_first() -> None:
    throttle = LoginThrottle(per_address=(2, 10.0), per_account=(100, 10.0), max_keys=8)
    fail(throttle, 2, "blocked", None, 100.0)  # fresh block
    for i in range(7):
        throttle.failure(f"old{i}", None, 0.0)  # long expired by t=100
    throttle.failure("new", None, 100.0)
    assert throttle.blocked("blocked", None, 101.0) > 0


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(per_address=(0, 60.0))
    with pytest.raises(ValueError):
        LoginThrottle(per_account=(3, 0.0))
