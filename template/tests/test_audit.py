"""The audit trail: recording, subscribers, new devices, no secrets."""

import logging
from datetime import timedelta

import pytest

from ..audit import (
    AuditEvent,
    AuditEventType,
    AuditTrail,
    checked_details,
)
from ..clock import ManualClock
from ..crypto import TokenHasher
from .memory import MemoryAuditLog, sample_id

pytestmark = pytest.mark.anyio

FIREFOX_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)
FIREFOX_LINUX_NEXT = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 "
    "Safari/604.1"
)


@pytest.fixture
def log() -> MemoryAuditLog:
    return MemoryAuditLog()


@pytest.fixture
def trail(
    log: MemoryAuditLog,
    hasher: TokenHasher,
    clock: ManualClock,
) -> AuditTrail:
    return AuditTrail(log, hasher, clock)


async def test_an_event_is_recorded_with_its_context(
    trail: AuditTrail,
    log: MemoryAuditLog,
    clock: ManualClock,
) -> None:
    event = await trail.record(
        AuditEventType.PASSWORD_CHANGED,
        identity_id=sample_id(1),
        ip="203.0.113.7",
        user_agent=FIREFOX_LINUX,
        details={"sessions_revoked": 2},
    )
    assert log.events == [event]
    assert event.type is AuditEventType.PASSWORD_CHANGED
    assert event.identity_id == sample_id(1)
    assert event.occurred_at == clock.now()
    assert event.ip == "203.0.113.7"
    assert event.user_agent == FIREFOX_LINUX
    assert event.details == {"sessions_revoked": 2}
    assert len(event.id) == 32


async def test_a_failed_sign_in_may_have_no_identity(
    trail: AuditTrail,
    log: MemoryAuditLog,
) -> None:
    event = await trail.record(
        AuditEventType.SIGN_IN_FAILED,
        details={"reason": "invalid_credentials"},
    )
    assert event.identity_id is None
    assert event.device is None
    assert log.events == [event]


async def test_list_is_newest_first_limited_and_per_identity(
    trail: AuditTrail,
    clock: ManualClock,
) -> None:
    events = []
    for event_type in (
        AuditEventType.SIGN_IN_SUCCEEDED,
        AuditEventType.MFA_ENROLLED,
        AuditEventType.SESSION_REVOKED,
    ):
        events.append(await trail.record(event_type, identity_id=sample_id(1)))
        clock.advance(timedelta(seconds=1))
    await trail.record(AuditEventType.MFA_REMOVED, identity_id=sample_id(2))

    assert await trail.list(sample_id(1)) == events[::-1]
    assert await trail.list(sample_id(1), limit=2) == events[:0:-1]


async def test_subscribers_get_every_event_after_it_is_stored(
    trail: AuditTrail,
    log: MemoryAuditLog,
) -> None:
    seen: list[tuple[AuditEvent, bool]] = []

    async def hook(event: AuditEvent) -> None:
        seen.append((event, event in log.events))

    trail.subscribe(hook)
    event = await trail.record(
        AuditEventType.EMAIL_CHANGED,
        identity_id=sample_id(1),
    )
    assert seen == [(event, True)]


async def test_a_failing_subscriber_is_logged_and_skipped(
    log: MemoryAuditLog,
    hasher: TokenHasher,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[AuditEvent] = []

    async def broken(_event: AuditEvent) -> None:
        raise RuntimeError("notification service is down")

    async def working(event: AuditEvent) -> None:
        seen.append(event)

    trail = AuditTrail(log, hasher, clock, hooks=[broken, working])
    with caplog.at_level(logging.ERROR):
        event = await trail.record(
            AuditEventType.MFA_REMOVED,
            identity_id=sample_id(1),
        )
    assert log.events == [event]
    assert seen == [event]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert event.id in record.getMessage()
    assert record.exc_info is not None


async def test_events_are_logged_without_secrets(
    trail: AuditTrail,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        await trail.record(
            AuditEventType.SIGN_IN_FAILED,
            ip="203.0.113.7",
            details={"factor": "password", "reason": "invalid_credentials"},
        )
    assert "sign_in_failed" in caplog.text
    assert "203.0.113.7" in caplog.text


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "code",
        "otp",
        "token",
        "reset_token",
        "session_token",
        "secret",
        "totp_secret",
        "password_hash",
        "api_key",
        "Cookie",
        "credential",
    ],
)
async def test_details_that_name_a_secret_are_refused(
    trail: AuditTrail,
    log: MemoryAuditLog,
    key: str,
) -> None:
    with pytest.raises(ValueError, match="secret"):
        await trail.record(
            AuditEventType.PASSWORD_CHANGED,
            identity_id=sample_id(1),
            details={key: "hunter2"},
        )
    assert log.events == []


@pytest.mark.parametrize(
    "details",
    [
        {"nested": {"a": 1}},
        {"many": ["a"]},
        {"reason": "x" * 201},
        {"not an identifier": 1},
        {f"k{n}": n for n in range(17)},
    ],
)
def test_details_stay_small_and_flat(details: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        checked_details(details)  # type: ignore[arg-type]


def test_ordinary_details_pass() -> None:
    details: dict[str, str | int] = {"factor": "totp", "count": 3}
    assert checked_details(details) == details


def test_a_device_ignores_versions_but_not_browser_or_system(
    trail: AuditTrail,
) -> None:
    assert trail.device(FIREFOX_LINUX) == trail.device(FIREFOX_LINUX_NEXT)
    assert trail.device(FIREFOX_LINUX) != trail.device(SAFARI_IPHONE)
    assert trail.device(None) is None
    assert trail.device("") is None
    device = trail.device(FIREFOX_LINUX)
    assert device is not None
    assert "Firefox" not in device
    assert len(device) == 64


async def test_a_new_device_is_reported_after_the_first_sign_in(
    trail: AuditTrail,
    log: MemoryAuditLog,
) -> None:
    ann = sample_id(1)
    await trail.signed_in(ann, ip="203.0.113.7", user_agent=FIREFOX_LINUX)
    await trail.signed_in(ann, user_agent=FIREFOX_LINUX_NEXT)
    assert [e.type for e in log.events] == [
        AuditEventType.SIGN_IN_SUCCEEDED,
        AuditEventType.SIGN_IN_SUCCEEDED,
    ]
    event = await trail.signed_in(ann, user_agent=SAFARI_IPHONE)
    assert event.type is AuditEventType.SIGN_IN_SUCCEEDED
    assert [e.type for e in log.events[-2:]] == [
        AuditEventType.SIGN_IN_SUCCEEDED,
        AuditEventType.NEW_DEVICE,
    ]
    await trail.signed_in(ann, user_agent=SAFARI_IPHONE)
    assert log.events[-1].type is AuditEventType.SIGN_IN_SUCCEEDED


async def test_devices_are_per_identity(
    trail: AuditTrail,
    log: MemoryAuditLog,
) -> None:
    await trail.signed_in(sample_id(1), user_agent=FIREFOX_LINUX)
    await trail.signed_in(sample_id(2), user_agent=SAFARI_IPHONE)
    await trail.signed_in(sample_id(2), user_agent=FIREFOX_LINUX)
    assert log.events[-1].type is AuditEventType.NEW_DEVICE
    assert log.events[-1].identity_id == sample_id(2)


async def test_hooks_see_new_devices(trail: AuditTrail) -> None:
    seen: list[AuditEventType] = []

    async def hook(event: AuditEvent) -> None:
        seen.append(event.type)

    trail.subscribe(hook)
    await trail.signed_in(sample_id(1), user_agent=FIREFOX_LINUX)
    await trail.signed_in(sample_id(1), user_agent=SAFARI_IPHONE)
    assert seen[-1] is AuditEventType.NEW_DEVICE


async def test_purge_applies_a_retention_period(
    trail: AuditTrail,
    log: MemoryAuditLog,
    clock: ManualClock,
) -> None:
    await trail.record(AuditEventType.SIGN_IN_FAILED)
    clock.advance(timedelta(days=91))
    kept = await trail.record(AuditEventType.SIGN_IN_FAILED)
    assert await trail.purge(clock.now() - timedelta(days=90)) == 1
    assert log.events == [kept]


def test_event_types_are_stable_strings() -> None:
    assert AuditEventType("sign_in_succeeded") is (
        AuditEventType.SIGN_IN_SUCCEEDED
    )
    assert all(t.value == t.name.lower() for t in AuditEventType)
    assert {
        "sign_in_succeeded",
        "sign_in_failed",
        "mfa_enrolled",
        "mfa_removed",
        "password_changed",
        "email_changed",
        "session_revoked",
        "new_device",
        "password_reset_requested",
        "password_reset_completed",
    } <= {t.value for t in AuditEventType}
