"""The pre-login state machine that factors advance step by step.

A sign-in starts with a factor that identifies the account. If that
identity has a second factor enrolled, the sign-in is stored under its own
short-lived token (a separate cookie) until a second factor passes; only a
complete sign-in becomes a session. The identity is fixed by the first
factor: a later factor proving another identity is refused.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import amr
from .clock import Clock
from .crypto import TokenHasher, generate_token
from .exceptions import (
    AuthenticationIncomplete,
    AuthenticationSessionInvalid,
    FactorNotAvailable,
    IdentityMismatch,
)
from .factors.base import Factor, FactorResult
from .identity import IdentityId

AUTHENTICATION_TOKEN_PREFIX = "authn"


@dataclass(frozen=True, slots=True)
class AuthenticationSession:
    """A sign-in in progress.

    ``revision`` is 0 while the sign-in lives only in memory and grows by
    one on every stored change, so concurrent steps cannot both win.
    """

    token_hash: str
    identity_id: IdentityId | None
    completed: tuple[str, ...]
    amr: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revision: int = 0


@dataclass(frozen=True, slots=True)
class CompletedAuthentication:
    """A finished sign-in, ready to become a session."""

    identity_id: IdentityId
    amr: tuple[str, ...]
    auth_time: datetime


class AuthenticationSessionStore(ABC):
    """Persistence of sign-ins that wait for another factor."""

    @abstractmethod
    async def create(self, flow: AuthenticationSession) -> None:
        """Store a new sign-in."""

    @abstractmethod
    async def get(self, token_hash: str) -> AuthenticationSession | None:
        """The stored sign-in for a token hash, if any."""

    @abstractmethod
    async def update(
        self,
        flow: AuthenticationSession,
        *,
        expected_revision: int,
    ) -> bool:
        """Replace a sign-in if it is still at ``expected_revision``."""

    @abstractmethod
    async def delete(self, token_hash: str) -> bool:
        """Delete a sign-in; ``True`` for exactly one caller."""


class AuthenticationSessionService:
    """Runs sign-ins through their factors."""

    def __init__(
        self,
        store: AuthenticationSessionStore,
        hasher: TokenHasher,
        clock: Clock,
        factors: Sequence[Factor],
        lifetime: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._factors = {factor.id: factor for factor in factors}
        self._lifetime = lifetime

    def begin(self) -> tuple[str, AuthenticationSession]:
        """A new sign-in and its token; nothing is stored yet."""
        token = generate_token(AUTHENTICATION_TOKEN_PREFIX)
        now = self._clock.now()
        flow = AuthenticationSession(
            token_hash=self._hasher.hash(token),
            identity_id=None,
            completed=(),
            amr=(),
            created_at=now,
            expires_at=now + self._lifetime,
        )
        return token, flow

    async def load(self, token: str) -> AuthenticationSession:
        """The stored sign-in for ``token``, if it is still running."""
        token_hash = self._hasher.hash(token)
        flow = await self._store.get(token_hash)
        if flow is None:
            raise AuthenticationSessionInvalid
        if self._clock.now() >= flow.expires_at:
            await self._store.delete(token_hash)
            raise AuthenticationSessionInvalid
        return flow

    async def available_factors(
        self,
        flow: AuthenticationSession,
    ) -> list[str]:
        """Factor ids that may advance this sign-in now."""
        if flow.identity_id is None:
            return [f.id for f in self._factors.values() if f.identifies]
        if self._second_factor_passed(flow):
            return []
        return [
            factor.id
            for factor in self._factors.values()
            if factor.second_factor
            and factor.id not in flow.completed
            and await factor.is_enrolled(flow.identity_id)
        ]

    async def advance(
        self,
        flow: AuthenticationSession,
        result: FactorResult,
    ) -> AuthenticationSession:
        """Record a passed factor, refusing steps out of order."""
        if self._clock.now() >= flow.expires_at:
            raise AuthenticationSessionInvalid
        if (
            flow.identity_id is not None
            and result.identity_id != flow.identity_id
        ):
            raise IdentityMismatch
        if result.factor not in await self.available_factors(flow):
            raise FactorNotAvailable
        completed = (*flow.completed, result.factor)
        advanced = replace(
            flow,
            identity_id=result.identity_id,
            completed=completed,
            amr=amr.combine((*flow.amr, *result.amr), len(set(completed))),
            revision=flow.revision + 1 if flow.revision else 0,
        )
        if flow.revision and not await self._store.update(
            advanced,
            expected_revision=flow.revision,
        ):
            raise AuthenticationSessionInvalid
        return advanced

    async def is_complete(self, flow: AuthenticationSession) -> bool:
        """Whether no required factor remains."""
        return flow.identity_id is not None and not (
            await self.available_factors(flow)
        )

    async def save(
        self,
        flow: AuthenticationSession,
    ) -> AuthenticationSession:
        """Store an in-memory sign-in that waits for another factor."""
        if flow.revision:
            return flow
        stored = replace(flow, revision=1)
        await self._store.create(stored)
        return stored

    async def complete(
        self,
        flow: AuthenticationSession,
    ) -> CompletedAuthentication:
        """End the sign-in; a stored one can be completed only once."""
        if flow.identity_id is None or not await self.is_complete(flow):
            raise AuthenticationIncomplete
        if flow.revision and not await self._store.delete(flow.token_hash):
            raise AuthenticationSessionInvalid
        return CompletedAuthentication(
            identity_id=flow.identity_id,
            amr=flow.amr,
            auth_time=self._clock.now(),
        )

    async def abandon(self, token: str) -> None:
        """Forget a stored sign-in (a new one replaces it)."""
        await self._store.delete(self._hasher.hash(token))

    def _second_factor_passed(self, flow: AuthenticationSession) -> bool:
        return any(
            self._factors[factor_id].second_factor
            for factor_id in flow.completed
            if factor_id in self._factors
        )
