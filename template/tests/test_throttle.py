"""Throttling: windows, retry times, what successes do, hashed keys."""

import asyncio
from dataclasses import fields
from datetime import timedelta

import pytest

from ..clock import ManualClock
from ..config import Settings
from ..crypto import TokenHasher
from ..exceptions import AuthError, RateLimited
from ..throttle import (
    Counting,
    Keyed,
    Limit,
    Throttle,
    ThrottlePolicy,
    account_key,
    ip_key,
)
from .conftest import TEST_SECRET
from .memory import MemoryThrottleStore

pytestmark = pytest.mark.anyio

EMAIL = "ann@example.com"
ATTACKER = "198.51.100.66"
VICTIM = "203.0.113.7"
MINUTE = timedelta(minutes=1)


class WrongPasswordError(Exception):
    pass


@pytest.fixture
def store() -> MemoryThrottleStore:
    return MemoryThrottleStore()


@pytest.fixture
def throttle(
    store: MemoryThrottleStore,
    hasher: TokenHasher,
    clock: ManualClock,
) -> Throttle:
    return Throttle(store, hasher, clock)


async def fail(throttle: Throttle, limits: list[Keyed]) -> None:
    with pytest.raises(WrongPasswordError):
        async with throttle.attempt(limits):
            raise WrongPasswordError


async def succeed(throttle: Throttle, limits: list[Keyed]) -> None:
    async with throttle.attempt(limits):
        pass


async def test_a_limit_admits_max_hits_then_refuses(
    throttle: Throttle,
) -> None:
    limit = Limit("test", 3, timedelta(minutes=15))
    for _ in range(3):
        await throttle.check([(limit, "k")])
    with pytest.raises(RateLimited) as raised:
        await throttle.check([(limit, "k")])
    assert raised.value.code == "rate_limited"
    assert raised.value.retry_after == 15 * 60
    assert isinstance(raised.value, AuthError)


async def test_retry_after_counts_down_and_is_at_least_one_second(
    throttle: Throttle,
    clock: ManualClock,
) -> None:
    limit = Limit("test", 1, timedelta(minutes=15))
    await throttle.check([(limit, "k")])
    clock.advance(timedelta(minutes=10, milliseconds=500))
    with pytest.raises(RateLimited) as raised:
        await throttle.check([(limit, "k")])
    assert raised.value.retry_after == 5 * 60  # 299.5 s rounds up
    clock.advance(timedelta(minutes=5, milliseconds=-600))
    with pytest.raises(RateLimited) as raised:
        await throttle.check([(limit, "k")])
    assert raised.value.retry_after == 1


async def test_a_new_window_starts_when_the_old_one_ends(
    throttle: Throttle,
    clock: ManualClock,
) -> None:
    limit = Limit("test", 2, timedelta(minutes=15))
    await throttle.check([(limit, "k")])
    clock.advance(10 * MINUTE)
    await throttle.check([(limit, "k")])
    with pytest.raises(RateLimited):
        await throttle.check([(limit, "k")])
    clock.advance(5 * MINUTE)
    [hit] = await throttle.check([(limit, "k")])
    assert hit.window.count == 1
    assert hit.window.started_at == clock.now()


async def test_refused_attempts_do_not_push_the_window_back(
    throttle: Throttle,
    clock: ManualClock,
) -> None:
    limit = Limit("test", 1, timedelta(minutes=15))
    await throttle.check([(limit, "k")])
    for _ in range(14):
        clock.advance(MINUTE)
        with pytest.raises(RateLimited):
            await throttle.check([(limit, "k")])
    clock.advance(MINUTE)
    await throttle.check([(limit, "k")])


async def test_retry_after_is_the_longest_wait(
    throttle: Throttle,
    clock: ManualClock,
) -> None:
    short = Limit("short", 1, timedelta(minutes=1))
    long = Limit("long", 1, timedelta(hours=1))
    await throttle.check([(short, "k"), (long, "k")])
    with pytest.raises(RateLimited) as raised:
        await throttle.check([(short, "k"), (long, "k")])
    assert raised.value.retry_after == 3600
    clock.advance(MINUTE)
    with pytest.raises(RateLimited) as raised:
        await throttle.check([(short, "k"), (long, "k")])
    assert raised.value.retry_after == 3540


async def test_keys_and_limits_count_separately(throttle: Throttle) -> None:
    first = Limit("first", 1, timedelta(minutes=1))
    second = Limit("second", 1, timedelta(minutes=1))
    await throttle.check([(first, "a")])
    await throttle.check([(first, "b")])
    await throttle.check([(second, "a")])
    with pytest.raises(RateLimited):
        await throttle.check([(first, "a")])


async def test_a_success_clears_consecutive_failures(
    throttle: Throttle,
) -> None:
    limit = Limit("t", 3, MINUTE, Counting.CONSECUTIVE_FAILURES)
    for _ in range(2):
        await fail(throttle, [(limit, "k")])
    await succeed(throttle, [(limit, "k")])
    for _ in range(3):
        await fail(throttle, [(limit, "k")])
    with pytest.raises(RateLimited):
        await succeed(throttle, [(limit, "k")])


async def test_a_success_takes_back_only_its_own_hit(
    throttle: Throttle,
) -> None:
    limit = Limit("t", 3, MINUTE, Counting.FAILURES)
    for _ in range(2):
        await fail(throttle, [(limit, "k")])
    for _ in range(5):
        await succeed(throttle, [(limit, "k")])
    await fail(throttle, [(limit, "k")])
    with pytest.raises(RateLimited):
        await succeed(throttle, [(limit, "k")])


async def test_attempt_limits_count_successes_too(throttle: Throttle) -> None:
    limit = Limit("t", 2, MINUTE, Counting.ATTEMPTS)
    await succeed(throttle, [(limit, "k")])
    await succeed(throttle, [(limit, "k")])
    with pytest.raises(RateLimited):
        await succeed(throttle, [(limit, "k")])


async def test_a_take_back_never_reaches_into_the_next_window(
    throttle: Throttle,
    store: MemoryThrottleStore,
    clock: ManualClock,
) -> None:
    limit = Limit("t", 5, MINUTE, Counting.FAILURES)
    [old] = await throttle.check([(limit, "k")])
    clock.advance(MINUTE)
    await fail(throttle, [(limit, "k")])
    await throttle.succeeded([old])
    assert store.windows[old.key_hash].count == 1


async def test_parallel_guesses_cannot_slip_past_the_limit(
    throttle: Throttle,
) -> None:
    limit = Limit("t", 10, MINUTE, Counting.CONSECUTIVE_FAILURES)
    checked = 0

    async def guess() -> None:
        nonlocal checked
        async with throttle.attempt([(limit, "k")]):
            await asyncio.sleep(0)  # the password is being hashed
            checked += 1
            raise WrongPasswordError

    results = await asyncio.gather(
        *(guess() for _ in range(50)),
        return_exceptions=True,
    )
    assert checked == 10
    assert sum(isinstance(r, RateLimited) for r in results) == 40


async def test_keys_are_stored_only_as_keyed_hashes(
    throttle: Throttle,
    store: MemoryThrottleStore,
) -> None:
    limits = throttle.policy.sign_in(EMAIL, VICTIM)
    await fail(throttle, limits)
    stored = repr(store.windows)
    assert EMAIL not in stored
    assert VICTIM not in stored
    assert set(store.windows) == {
        throttle.key_hash(limit, key) for limit, key in limits
    }
    other = Throttle(
        store,
        TokenHasher.from_secret("another-secret-key-of-at-least-32-bytes"),
        ManualClock(),
    )
    assert other.key_hash(*limits[0]) != throttle.key_hash(*limits[0])


async def test_the_attackers_address_is_stopped_not_the_victim(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for _ in range(policy.sign_in_failures_per_account_ip.max_hits):
        await fail(throttle, policy.sign_in(EMAIL, ATTACKER))
    with pytest.raises(RateLimited) as raised:
        await succeed(throttle, policy.sign_in(EMAIL, ATTACKER))
    assert raised.value.retry_after == 15 * 60
    await succeed(throttle, policy.sign_in(EMAIL, VICTIM))


async def test_nist_cap_on_consecutive_failures_per_account(
    throttle: Throttle,
    clock: ManualClock,
) -> None:
    policy = throttle.policy
    assert policy.sign_in_failures_per_account.max_hits == 100
    for n in range(100):  # ten addresses, ten failures each
        await fail(throttle, policy.sign_in(EMAIL, f"198.51.100.{n // 10}"))
    with pytest.raises(RateLimited) as raised:
        await succeed(throttle, policy.sign_in(EMAIL, VICTIM))
    assert raised.value.retry_after == 24 * 3600
    clock.advance(timedelta(hours=24))
    await succeed(throttle, policy.sign_in(EMAIL, VICTIM))


async def test_a_success_resets_the_per_account_failures(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for n in range(99):
        await fail(throttle, policy.sign_in(EMAIL, f"198.51.100.{n // 10}"))
    await succeed(throttle, policy.sign_in(EMAIL, VICTIM))
    for n in range(99):
        await fail(throttle, policy.sign_in(EMAIL, f"192.0.2.{n // 10}"))
    await succeed(throttle, policy.sign_in(EMAIL, VICTIM))


async def test_a_password_reset_lifts_the_per_account_cap(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for n in range(100):
        await fail(throttle, policy.sign_in(EMAIL, f"198.51.100.{n // 10}"))
    with pytest.raises(RateLimited):
        await succeed(throttle, policy.sign_in(EMAIL, VICTIM))
    for n in range(100):
        await fail(throttle, policy.verify_code("42", f"192.0.2.{n // 10}"))
    await throttle.clear(policy.account_recovered(EMAIL, "42"))
    await succeed(throttle, policy.sign_in(EMAIL, VICTIM))
    await succeed(throttle, policy.verify_code("42", VICTIM))


async def test_stuffing_from_one_address_is_stopped(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for n in range(policy.sign_in_failures_per_ip.max_hits):
        await fail(throttle, policy.sign_in(f"user{n}@example.com", ATTACKER))
    with pytest.raises(RateLimited):
        await succeed(throttle, policy.sign_in("new@example.com", ATTACKER))


async def test_signing_in_on_ones_own_account_does_not_clear_ip_failures(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for n in range(policy.sign_in_failures_per_ip.max_hits):
        await fail(throttle, policy.sign_in(f"user{n}@example.com", ATTACKER))
        await throttle.clear([(policy.sign_in_failures_per_account, EMAIL)])
    with pytest.raises(RateLimited):
        await succeed(throttle, policy.sign_in(EMAIL, ATTACKER))


async def test_email_sends_are_capped_per_address(throttle: Throttle) -> None:
    policy = throttle.policy
    for n in range(policy.sends_per_email.max_hits):
        await throttle.check(policy.send_email(EMAIL, f"192.0.2.{n}"))
    with pytest.raises(RateLimited) as raised:
        await throttle.check(policy.send_email(EMAIL, "192.0.2.99"))
    assert raised.value.retry_after == 3600
    await throttle.check(policy.send_email("bob@example.com", "192.0.2.99"))


async def test_registrations_and_resets_are_capped_per_address(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for _ in range(policy.registrations_per_ip.max_hits):
        await throttle.check(policy.register(ATTACKER))
    with pytest.raises(RateLimited):
        await throttle.check(policy.register(ATTACKER))
    for n in range(policy.resets_per_ip.max_hits):
        await throttle.check(
            policy.request_password_reset(f"u{n}@example.com", ATTACKER),
        )
    with pytest.raises(RateLimited):
        await throttle.check(
            policy.request_password_reset("x@example.com", ATTACKER),
        )


async def test_code_guesses_are_limited_per_account(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for _ in range(policy.code_failures_per_account_ip.max_hits):
        await fail(throttle, policy.verify_code("42", ATTACKER))
    with pytest.raises(RateLimited):
        await succeed(throttle, policy.verify_code("42", ATTACKER))
    await succeed(throttle, policy.verify_code("42", VICTIM))


async def test_email_case_and_spaces_do_not_make_new_keys(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for variant in ["Ann@Example.com", " ann@example.COM ", EMAIL]:
        await throttle.check(policy.send_email(variant, None))
    assert account_key("Ann@Example.COM ") == EMAIL
    for _ in range(policy.sends_per_email.max_hits - 3):
        await throttle.check(policy.send_email(EMAIL, None))
    with pytest.raises(RateLimited):
        await throttle.check(policy.send_email("ANN@example.com", None))


def test_an_ipv6_client_is_keyed_by_its_64_prefix() -> None:
    assert ip_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert ip_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert ip_key(VICTIM) == VICTIM
    assert ip_key("testclient") == "testclient"


async def test_ipv6_addresses_in_one_64_share_a_counter(
    throttle: Throttle,
) -> None:
    policy = throttle.policy
    for n in range(policy.registrations_per_ip.max_hits):
        await throttle.check(policy.register(f"2001:db8:1:2::{n + 1:x}"))
    with pytest.raises(RateLimited):
        await throttle.check(policy.register("2001:db8:1:2:ffff::1"))
    await throttle.check(policy.register("2001:db8:1:3::1"))


def test_an_unknown_address_skips_only_the_address_limits() -> None:
    policy = ThrottlePolicy()
    assert policy.sign_in(EMAIL, None) == [
        (policy.sign_in_failures_per_account, EMAIL),
    ]
    assert policy.register(None) == []
    assert [limit for limit, _ in policy.sign_in(EMAIL, VICTIM)] == [
        policy.sign_in_failures_per_account,
        policy.sign_in_failures_per_account_ip,
        policy.sign_in_failures_per_ip,
    ]


def test_the_default_policy_follows_nist() -> None:
    policy = ThrottlePolicy()
    limits = [getattr(policy, item.name) for item in fields(policy)]
    assert len({limit.name for limit in limits}) == len(limits) == 12
    for limit in limits:
        assert limit.max_hits > 0
        assert limit.window > timedelta(0)
    for limit in (
        policy.sign_in_failures_per_account,
        policy.code_failures_per_account,
    ):
        assert limit.counting is Counting.CONSECUTIVE_FAILURES
        assert limit.max_hits <= 100  # SP 800-63B §3.2.2
        assert limit.window <= timedelta(hours=24)  # a lockout is short
    # Each address runs out long before the whole account does.
    assert (
        policy.sign_in_failures_per_account_ip.max_hits
        < policy.sign_in_failures_per_account.max_hits
    )


async def test_a_disabled_throttle_counts_nothing(
    store: MemoryThrottleStore,
    hasher: TokenHasher,
    clock: ManualClock,
) -> None:
    throttle = Throttle(store, hasher, clock, enabled=False)
    limit = Limit("t", 1, MINUTE)
    for _ in range(5):
        await succeed(throttle, [(limit, "k")])
    await throttle.clear([(limit, "k")])
    assert store.windows == {}


async def test_purge_drops_ended_windows(
    throttle: Throttle,
    store: MemoryThrottleStore,
    clock: ManualClock,
) -> None:
    await throttle.check([(Limit("short", 5, MINUTE), "k")])
    await throttle.check([(Limit("long", 5, 60 * MINUTE), "k")])
    clock.advance(MINUTE)
    assert await throttle.purge() == 1
    assert len(store.windows) == 1


def test_throttling_can_be_turned_off_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "AUTH_SECRET_KEY": TEST_SECRET,
            "AUTH_ENVIRONMENT": "development",
            "AUTH_THROTTLING_ENABLED": "false",
        },
    )
    assert settings.throttling_enabled is False


def test_rate_limited_waits_at_least_a_second() -> None:
    assert RateLimited(0).retry_after == 1
    assert RateLimited(-5).retry_after == 1
    assert RateLimited(30).retry_after == 30
