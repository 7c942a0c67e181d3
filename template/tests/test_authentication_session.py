import asyncio
from datetime import timedelta

import pytest

from ..authentication_session import AuthenticationSessionService
from ..clock import ManualClock
from ..crypto import TokenHasher
from ..exceptions import (
    AuthenticationIncomplete,
    AuthenticationSessionInvalid,
    FactorNotAvailable,
    IdentityMismatch,
)
from ..factors.base import Factor, FactorResult
from ..identity import IdentityId
from .memory import MemoryAuthenticationSessionStore, sample_id

pytestmark = pytest.mark.anyio

ANN = sample_id(1)
BOB = sample_id(2)


class KnowledgeFactor(Factor):
    """A first factor, like a password."""

    id = "knowledge"
    amr = ("pwd",)
    identifies = True
    second_factor = False

    async def is_enrolled(self, identity_id: IdentityId) -> bool:
        return True


class CodeFactor(Factor):
    """A second factor, like TOTP, enrolled per identity."""

    id = "code"
    amr = ("otp",)
    identifies = False
    second_factor = True

    def __init__(self, enrolled: set[IdentityId]) -> None:
        self.enrolled = enrolled

    async def is_enrolled(self, identity_id: IdentityId) -> bool:
        return identity_id in self.enrolled


@pytest.fixture
def store() -> MemoryAuthenticationSessionStore:
    return MemoryAuthenticationSessionStore()


@pytest.fixture
def code() -> CodeFactor:
    return CodeFactor(enrolled=set())


@pytest.fixture
def service(
    store: MemoryAuthenticationSessionStore,
    hasher: TokenHasher,
    clock: ManualClock,
    code: CodeFactor,
) -> AuthenticationSessionService:
    return AuthenticationSessionService(
        store,
        hasher,
        clock,
        [KnowledgeFactor(), code],
        lifetime=timedelta(minutes=10),
    )


async def test_begin_stores_nothing(
    service: AuthenticationSessionService,
    store: MemoryAuthenticationSessionStore,
) -> None:
    token, flow = service.begin()
    assert token.startswith("authn_")
    assert flow.identity_id is None
    assert flow.revision == 0
    assert store.flows == {}
    assert await service.available_factors(flow) == ["knowledge"]


async def test_one_factor_completes_without_a_second_enrolled(
    service: AuthenticationSessionService,
    clock: ManualClock,
) -> None:
    _, flow = service.begin()
    flow = await service.advance(flow, KnowledgeFactor().passed(ANN))
    assert await service.is_complete(flow)
    done = await service.complete(flow)
    assert done.identity_id == ANN
    assert done.amr == ("pwd",)
    assert done.auth_time == clock.now()


async def test_enrolled_second_factor_is_required(
    service: AuthenticationSessionService,
    store: MemoryAuthenticationSessionStore,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    token, flow = service.begin()
    flow = await service.advance(flow, KnowledgeFactor().passed(ANN))
    assert not await service.is_complete(flow)
    assert await service.available_factors(flow) == ["code"]
    with pytest.raises(AuthenticationIncomplete):
        await service.complete(flow)

    await service.save(flow)
    loaded = await service.load(token)
    assert loaded.identity_id == ANN
    loaded = await service.advance(loaded, code.passed(ANN))
    done = await service.complete(loaded)
    assert done.amr == ("mfa", "otp", "pwd")
    assert store.flows == {}
    with pytest.raises(AuthenticationSessionInvalid):
        await service.load(token)


async def test_second_factor_first_is_refused(
    service: AuthenticationSessionService,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    _, flow = service.begin()
    with pytest.raises(FactorNotAvailable):
        await service.advance(flow, code.passed(ANN))


async def test_the_same_factor_twice_is_refused(
    service: AuthenticationSessionService,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    _, flow = service.begin()
    flow = await service.advance(flow, KnowledgeFactor().passed(ANN))
    with pytest.raises(FactorNotAvailable):
        await service.advance(flow, KnowledgeFactor().passed(ANN))


async def test_a_factor_for_another_identity_is_refused(
    service: AuthenticationSessionService,
    code: CodeFactor,
) -> None:
    code.enrolled.update({ANN, BOB})
    _, flow = service.begin()
    flow = await service.advance(flow, KnowledgeFactor().passed(ANN))
    with pytest.raises(IdentityMismatch):
        await service.advance(flow, code.passed(BOB))


async def test_factors_are_matched_by_id_not_by_object(
    service: AuthenticationSessionService,
) -> None:
    _, flow = service.begin()
    unknown = FactorResult(factor="fingerprint", identity_id=ANN, amr=())
    with pytest.raises(FactorNotAvailable):
        await service.advance(flow, unknown)
    # A result built without the registered instance still counts.
    result = FactorResult(factor="knowledge", identity_id=ANN, amr=("pwd",))
    flow = await service.advance(flow, result)
    assert flow.completed == ("knowledge",)


async def test_expired_sign_in_is_refused(
    service: AuthenticationSessionService,
    clock: ManualClock,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    token, flow = service.begin()
    flow = await service.save(
        await service.advance(flow, KnowledgeFactor().passed(ANN)),
    )
    clock.advance(timedelta(minutes=10))
    with pytest.raises(AuthenticationSessionInvalid):
        await service.advance(flow, code.passed(ANN))
    with pytest.raises(AuthenticationSessionInvalid):
        await service.load(token)


async def test_unknown_token_is_refused(
    service: AuthenticationSessionService,
) -> None:
    with pytest.raises(AuthenticationSessionInvalid):
        await service.load("authn_unknown")


async def test_a_stored_sign_in_completes_once(
    service: AuthenticationSessionService,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    _, flow = service.begin()
    flow = await service.save(
        await service.advance(flow, KnowledgeFactor().passed(ANN)),
    )
    flow = await service.advance(flow, code.passed(ANN))
    results = await asyncio.gather(
        service.complete(flow),
        service.complete(flow),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert any(isinstance(r, AuthenticationSessionInvalid) for r in results)


async def test_concurrent_steps_on_one_revision_advance_once(
    service: AuthenticationSessionService,
    code: CodeFactor,
) -> None:
    code.enrolled.add(ANN)
    _, flow = service.begin()
    flow = await service.save(
        await service.advance(flow, KnowledgeFactor().passed(ANN)),
    )
    results = await asyncio.gather(
        service.advance(flow, code.passed(ANN)),
        service.advance(flow, code.passed(ANN)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
