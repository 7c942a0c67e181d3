"""Post-login sessions: opaque cookie tokens backed by stored records.

Validating a session is the hot path of every authenticated request: one
lookup by token hash, and a write only when ``last_seen_at`` is older than
the touch interval (or the session just expired). Nothing is cached, so a
revoked session stops working on its very next request.
"""

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .clock import Clock
from .crypto import TokenHasher, generate_token
from .exceptions import (
    ReauthenticationRequired,
    SessionInvalid,
    SessionNotFound,
)
from .identity import IdentityId

SESSION_TOKEN_PREFIX = "sess"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session. The token itself is never stored."""

    id: str
    identity_id: IdentityId
    created_at: datetime
    last_seen_at: datetime
    auth_time: datetime
    amr: tuple[str, ...]
    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Lifetimes of sessions."""

    idle_timeout: timedelta = timedelta(days=7)
    absolute_timeout: timedelta = timedelta(days=30)
    touch_interval: timedelta = timedelta(hours=1)

    def expires_at(self, session: Session) -> datetime:
        """When ``session`` ends if it sees no more activity."""
        return min(
            session.last_seen_at + self.idle_timeout,
            session.created_at + self.absolute_timeout,
        )


class SessionStore(ABC):
    """Persistence of sessions, keyed by token hash."""

    @abstractmethod
    async def create(self, session: Session, token_hash: str) -> None:
        """Store a new session."""

    @abstractmethod
    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        """The session whose token hashes to ``token_hash``, if any."""

    @abstractmethod
    async def touch(self, session_id: str, seen_at: datetime) -> None:
        """Record activity on a session."""

    @abstractmethod
    async def reauthenticate(
        self,
        session_id: str,
        auth_time: datetime,
        amr: tuple[str, ...],
    ) -> bool:
        """Record a fresh authentication on a session; whether it exists."""

    @abstractmethod
    async def list_for_identity(
        self,
        identity_id: IdentityId,
    ) -> list[Session]:
        """Every session of an identity, newest first."""

    @abstractmethod
    async def delete(self, session_id: str, identity_id: IdentityId) -> bool:
        """Delete one session of an identity; whether it existed."""

    @abstractmethod
    async def delete_for_identity(
        self,
        identity_id: IdentityId,
        *,
        keep: str | None = None,
    ) -> int:
        """Delete an identity's sessions except ``keep``; how many."""


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and the token to hand to the client, once."""

    token: str
    session: Session


class SessionService:
    """Creates, validates, lists and revokes sessions."""

    def __init__(
        self,
        store: SessionStore,
        hasher: TokenHasher,
        clock: Clock,
        policy: SessionPolicy | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self.policy = policy or SessionPolicy()

    async def create(
        self,
        identity_id: IdentityId,
        *,
        amr: tuple[str, ...],
        auth_time: datetime,
        ip_address: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedSession:
        """Start a session for an identity that just authenticated."""
        now = self._clock.now()
        token = generate_token(SESSION_TOKEN_PREFIX)
        session = Session(
            id=secrets.token_hex(16),
            identity_id=identity_id,
            created_at=now,
            last_seen_at=now,
            auth_time=auth_time,
            amr=amr,
            ip_address=ip_address,
            user_agent=user_agent,
        )
        await self._store.create(session, self._hasher.hash(token))
        return IssuedSession(token=token, session=session)

    async def validate(self, token: str) -> Session:
        """The live session for ``token``, or :class:`SessionInvalid`."""
        session = await self._store.get_by_token_hash(
            self._hasher.hash(token),
        )
        if session is None:
            raise SessionInvalid
        now = self._clock.now()
        if now >= self.policy.expires_at(session):
            await self._store.delete(session.id, session.identity_id)
            raise SessionInvalid
        if now - session.last_seen_at >= self.policy.touch_interval:
            await self._store.touch(session.id, now)
            session = replace(session, last_seen_at=now)
        return session

    def expires_at(self, session: Session) -> datetime:
        """When ``session`` ends without further activity."""
        return self.policy.expires_at(session)

    def require_recent(self, session: Session, max_age: timedelta) -> None:
        """Raise :class:`ReauthenticationRequired` if sign-in is too old.

        Sensitive actions (changing credentials, factors or sessions) call
        this with the configured step-up age.
        """
        if self._clock.now() - session.auth_time > max_age:
            raise ReauthenticationRequired

    async def reauthenticate(
        self,
        session: Session,
        amr: tuple[str, ...],
    ) -> Session:
        """Refresh ``auth_time`` after the user proved a factor again.

        The session keeps its token: nothing about who is signed in
        changed, only how recently they proved it.
        """
        now = self._clock.now()
        if not await self._store.reauthenticate(session.id, now, amr):
            raise SessionInvalid
        return replace(session, auth_time=now, amr=amr)

    async def list(self, identity_id: IdentityId) -> list[Session]:
        """The identity's sessions that have not expired, newest first."""
        now = self._clock.now()
        return [
            session
            for session in await self._store.list_for_identity(identity_id)
            if now < self.policy.expires_at(session)
        ]

    async def revoke(self, identity_id: IdentityId, session_id: str) -> None:
        """End one of the identity's sessions."""
        if not await self._store.delete(session_id, identity_id):
            raise SessionNotFound

    async def revoke_others(self, current: Session) -> int:
        """End every session of the identity except ``current``."""
        return await self._store.delete_for_identity(
            current.identity_id,
            keep=current.id,
        )

    async def revoke_all(self, identity_id: IdentityId) -> int:
        """End every session of the identity."""
        return await self._store.delete_for_identity(identity_id)
