from datetime import timedelta

import pytest

from ..clock import ManualClock
from ..crypto import TokenHasher
from ..exceptions import (
    ReauthenticationRequired,
    SessionInvalid,
    SessionNotFound,
)
from ..session import IssuedSession, SessionPolicy, SessionService
from .memory import MemorySessionStore, sample_id

pytestmark = pytest.mark.anyio


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore()


@pytest.fixture
def service(
    store: MemorySessionStore,
    hasher: TokenHasher,
    clock: ManualClock,
) -> SessionService:
    return SessionService(store, hasher, clock, SessionPolicy())


async def sign_in(
    service: SessionService,
    clock: ManualClock,
    number: int = 1,
) -> IssuedSession:
    return await service.create(
        sample_id(number),
        amr=("pwd",),
        auth_time=clock.now(),
    )


async def test_create_stores_only_the_token_hash(
    service: SessionService,
    store: MemorySessionStore,
    hasher: TokenHasher,
    clock: ManualClock,
) -> None:
    issued = await service.create(
        sample_id(1),
        amr=("pwd",),
        auth_time=clock.now(),
        ip_address="203.0.113.9",
        user_agent="Firefox",
    )
    assert issued.token.startswith("sess_")
    [(session, token_hash)] = store.sessions.values()
    assert token_hash == hasher.hash(issued.token)
    assert issued.token not in repr(store.sessions)
    assert session.ip_address == "203.0.113.9"
    assert session.user_agent == "Firefox"
    assert session.amr == ("pwd",)
    assert session.auth_time == clock.now()


async def test_validate_returns_the_session(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock, 7)
    session = await service.validate(issued.token)
    assert session.identity_id == sample_id(7)
    assert session.id == issued.session.id


async def test_unknown_token_is_refused(service: SessionService) -> None:
    with pytest.raises(SessionInvalid):
        await service.validate("sess_unknown")


async def test_last_seen_is_written_once_per_touch_interval(
    service: SessionService,
    store: MemorySessionStore,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    start = issued.session.last_seen_at
    clock.advance(timedelta(minutes=59))
    await service.validate(issued.token)
    assert store.sessions[issued.session.id][0].last_seen_at == start
    clock.advance(timedelta(minutes=1))
    session = await service.validate(issued.token)
    assert session.last_seen_at == clock.now()
    assert store.sessions[issued.session.id][0].last_seen_at == clock.now()


async def test_idle_timeout_ends_the_session(
    service: SessionService,
    store: MemorySessionStore,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    await service.validate(issued.token)
    clock.advance(timedelta(days=7))
    with pytest.raises(SessionInvalid):
        await service.validate(issued.token)
    assert store.sessions == {}


async def test_activity_slides_the_idle_timeout_up_to_the_absolute_one(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    for _ in range(4):
        clock.advance(timedelta(days=6))
        await service.validate(issued.token)
    clock.advance(timedelta(days=6))
    # Active every 6 days, but 30 days after creation: absolute timeout.
    with pytest.raises(SessionInvalid):
        await service.validate(issued.token)


async def test_absolute_timeout_is_exact(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    for _ in range(29):
        clock.advance(timedelta(days=1))
        await service.validate(issued.token)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    await service.validate(issued.token)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(SessionInvalid):
        await service.validate(issued.token)


async def test_expires_at_is_the_earlier_of_idle_and_absolute(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    assert service.expires_at(issued.session) == clock.now() + timedelta(
        days=7,
    )


async def test_list_revoke_one_others_and_all(
    service: SessionService,
    clock: ManualClock,
) -> None:
    first = await sign_in(service, clock)
    clock.advance(timedelta(minutes=1))
    second = await sign_in(service, clock)
    clock.advance(timedelta(minutes=1))
    third = await sign_in(service, clock)
    other = await sign_in(service, clock, 2)

    listed = await service.list(sample_id(1))
    assert [s.id for s in listed] == [
        third.session.id,
        second.session.id,
        first.session.id,
    ]

    await service.revoke(sample_id(1), first.session.id)
    with pytest.raises(SessionInvalid):
        await service.validate(first.token)
    with pytest.raises(SessionNotFound):
        await service.revoke(sample_id(1), other.session.id)

    assert await service.revoke_others(third.session) == 1
    with pytest.raises(SessionInvalid):
        await service.validate(second.token)
    await service.validate(third.token)

    assert await service.revoke_all(sample_id(1)) == 1
    with pytest.raises(SessionInvalid):
        await service.validate(third.token)
    await service.validate(other.token)


async def test_list_leaves_out_expired_sessions(
    service: SessionService,
    clock: ManualClock,
) -> None:
    await sign_in(service, clock)
    clock.advance(timedelta(days=8))
    assert await service.list(sample_id(1)) == []


async def test_require_recent_checks_auth_time(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    clock.advance(timedelta(minutes=10))
    service.require_recent(issued.session, timedelta(minutes=10))
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ReauthenticationRequired):
        service.require_recent(issued.session, timedelta(minutes=10))


async def test_reauthenticate_refreshes_auth_time_and_keeps_the_token(
    service: SessionService,
    clock: ManualClock,
) -> None:
    issued = await sign_in(service, clock)
    clock.advance(timedelta(hours=2))
    fresh = await service.reauthenticate(issued.session, ("otp", "pwd"))
    assert fresh.auth_time == clock.now()
    assert fresh.amr == ("otp", "pwd")
    stored = await service.validate(issued.token)
    assert stored.auth_time == clock.now()
    assert stored.id == issued.session.id
    service.require_recent(stored, timedelta(minutes=10))
    await service.revoke_all(sample_id(1))
    with pytest.raises(SessionInvalid):
        await service.reauthenticate(issued.session, ("pwd",))
