"""OpenID Connect Back-Channel Logout 1.0: the provider ends sessions.

When someone signs out at an OpenID provider, the provider POSTs a signed
logout token straight to this app. The token is checked as section 2.6
asks, and stricter:

- signed like the provider's ID tokens: a key of its key set and an
  algorithm on its allowlist (never ``none``, never HMAC for a provider
  that signs with public keys); ``typ`` absent, ``JWT`` or ``logout+jwt``;
- ``iss`` exactly the provider's and ``aud`` the client, as in ID tokens;
- ``iat`` present, not in the future and at most five minutes old;
  ``exp``, if present, not passed;
- ``events`` an object whose back-channel logout member is an object;
- ``sub`` or ``sid``, and no ``nonce`` (an ID token is never a logout
  token, and a logout token never passes as an ID token);
- ``jti`` present and accepted once: its keyed hash is kept until the
  token is too old to be accepted anyway.

A token naming ``sid`` ends the sessions signed in through that provider
session; one with only ``sub`` ends every session of the identity that
provider account is linked to.

The ``sid`` is held from the provider's callback until the sign-in
becomes a session, which may be only after a second factor: it is kept
*pending* under the sign-in's token hash, and moved onto the new session
(in one transaction) when the session is created. A logout token that
arrives meanwhile marks the pending ``sid`` as ended, and the session
made from it is revoked at once: signing out at the provider wins
whichever of the two comes first. A sign-in that never completes leaves
its pending ``sid`` to expire with it.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ...authentication_session import AuthenticationSession
from ...clock import Clock
from ...crypto import TokenHasher
from ...exceptions import AuthenticationSessionInvalid, SessionNotFound
from ...identity import IdentityId
from ...session import Session, SessionService
from .accounts import LinkedAccountStore, OAuthFactor
from .base import OAuthProvider, ProviderAccount
from .errors import (
    OAuthIdTokenInvalid,
    OAuthLogoutTokenInvalid,
    OAuthProviderUnknown,
)
from .oidc import (
    CLOCK_SKEW,
    OpenIDProvider,
    check_audience,
    check_times,
    is_identifier,
)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPES = frozenset({None, "jwt", "logout+jwt"})
MAX_TOKEN_AGE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class LogoutToken:
    """A valid logout token: whose sessions to end."""

    provider: str
    jti: str
    issued_at: datetime
    subject: str | None = None
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderSession:
    """A session signed in through the provider session ``sid``."""

    session_id: str
    identity_id: IdentityId
    provider: str
    subject: str
    sid: str


class ProviderSessionStore(ABC):
    """Which provider session each session was signed in through."""

    @abstractmethod
    async def record(
        self,
        session_id: str,
        provider: str,
        subject: str,
        sid: str,
    ) -> None:
        """Remember (or replace) the provider session of ``session_id``.

        Nothing is written if the session is gone meanwhile.
        """

    @abstractmethod
    async def find(self, provider: str, sid: str) -> list[ProviderSession]:
        """The sessions recorded for the provider's ``sid``."""

    @abstractmethod
    async def record_pending(
        self,
        sign_in_hash: str,
        provider: str,
        subject: str,
        sid: str,
        *,
        expires_at: datetime,
        now: datetime,
    ) -> None:
        """Hold the ``sid`` of a sign-in that is not a session yet.

        Kept until ``expires_at`` (the sign-in's own expiry) or until
        :meth:`promote` takes it; ones expired by ``now`` may be
        forgotten.
        """

    @abstractmethod
    async def promote(
        self,
        sign_in_hash: str,
        session_id: str,
    ) -> bool:
        """Move a sign-in's pending ``sid`` onto its new session.

        Atomic: taking the pending ``sid`` and recording it for the
        session are one transaction. ``False`` if a logout token ended
        that ``sid`` while it was pending; ``True`` otherwise, also if
        none was held.
        """

    @abstractmethod
    async def end_pending(
        self,
        provider: str,
        sid: str | None,
        subject: str | None,
    ) -> None:
        """Mark the pending ``sid``s a logout token names as ended.

        Those with ``sid`` (if given) of ``subject`` (if given).
        """


class LogoutTokenStore(ABC):
    """The logout tokens already used, by keyed hash of their ``jti``."""

    @abstractmethod
    async def use(
        self,
        jti_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """Remember a token until ``expires_at``; ``False`` if known.

        Atomic: of two concurrent calls with one hash, one gets ``True``.
        Tokens that expired by ``now`` may be forgotten.
        """


class BackChannelLogout:
    """Records provider sessions at sign-in; ends them on logout tokens."""

    def __init__(
        self,
        *,
        sessions: SessionService,
        provider_sessions: ProviderSessionStore,
        accounts: LinkedAccountStore,
        used_tokens: LogoutTokenStore,
        hasher: TokenHasher,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._provider_sessions = provider_sessions
        self._accounts = accounts
        self._used_tokens = used_tokens
        self._hasher = hasher
        self._clock = clock

    async def remember(
        self,
        session_id: str,
        account: ProviderAccount,
    ) -> None:
        """Record the provider session (``sid``) a session came from."""
        if account.sid is not None:
            await self._provider_sessions.record(
                session_id,
                account.provider,
                account.subject,
                account.sid,
            )

    async def remember_pending(
        self,
        sign_in: AuthenticationSession,
        account: ProviderAccount,
    ) -> None:
        """Hold the provider session of a sign-in until it is a session.

        Call it once the provider's account has advanced ``sign_in``,
        before the sign-in is concluded; :meth:`promote` then moves it
        onto the session, after a second factor if one is needed.
        """
        if account.sid is not None:
            await self._provider_sessions.record_pending(
                sign_in.token_hash,
                account.provider,
                account.subject,
                account.sid,
                expires_at=sign_in.expires_at,
                now=self._clock.now(),
            )

    async def promote(
        self,
        sign_in: AuthenticationSession,
        session: Session,
    ) -> None:
        """Record the pending provider session of the session just made.

        If a logout token ended it meanwhile, the session is revoked and
        the sign-in fails (``authentication_session_invalid``).
        """
        if OAuthFactor.id not in sign_in.completed:
            return
        if not await self._provider_sessions.promote(
            sign_in.token_hash,
            session.id,
        ):
            with suppress(SessionNotFound):
                await self._sessions.revoke(session.identity_id, session.id)
            raise AuthenticationSessionInvalid

    async def log_out(
        self,
        provider: OAuthProvider,
        logout_token: str,
    ) -> dict[IdentityId, int]:
        """End the sessions a logout token names; how many, by identity."""
        return await self.end_sessions(
            await self.validate(provider, logout_token),
        )

    async def validate(
        self,
        provider: OAuthProvider,
        logout_token: str,
    ) -> LogoutToken:
        """The token, if valid and never seen before (see the module).

        A provider that sends no logout tokens (GitHub, LINE) is unknown
        here.
        """
        if not isinstance(provider, OpenIDProvider) or not (
            provider.backchannel_logout
        ):
            raise OAuthProviderUnknown
        now = self._clock.now()
        try:
            claims = await provider.verified_claims(
                logout_token,
                LOGOUT_TOKEN_TYPES,
            )
            check_audience(claims, provider.policy)
            check_times(claims, now, expiry_required=False)
        except OAuthIdTokenInvalid as error:
            raise OAuthLogoutTokenInvalid from error
        token = logout_claims(claims, provider.name, now)
        jti_hash = self._hasher.hash(f"logout:{token.provider}:{token.jti}")
        expires_at = token.issued_at + MAX_TOKEN_AGE + CLOCK_SKEW
        if not await self._used_tokens.use(jti_hash, expires_at, now):
            raise OAuthLogoutTokenInvalid(
                "The provider's logout token was used already.",
            )
        return token

    async def end_sessions(self, token: LogoutToken) -> dict[IdentityId, int]:
        """End the sessions of a valid token; how many, by identity.

        With ``sid``, the sessions recorded for it (and, if ``sub`` is
        there too, for that account); with ``sub`` only, every session
        of the identity the account is linked to.
        """
        ended: dict[IdentityId, int] = {}
        # Pending ones first: a sign-in promoted after this is revoked,
        # one promoted before it is found below.
        await self._provider_sessions.end_pending(
            token.provider,
            token.sid,
            token.subject,
        )
        if token.sid is not None:
            for found in await self._provider_sessions.find(
                token.provider,
                token.sid,
            ):
                if token.subject not in {None, found.subject}:
                    continue
                with suppress(SessionNotFound):
                    await self._sessions.revoke(
                        found.identity_id,
                        found.session_id,
                    )
                    count = ended.get(found.identity_id, 0)
                    ended[found.identity_id] = count + 1
            return ended
        if token.subject is not None:
            linked = await self._accounts.get(token.provider, token.subject)
            if linked is not None:
                ended[linked.identity_id] = await self._sessions.revoke_all(
                    linked.identity_id,
                )
        return ended


def logout_claims(
    claims: Mapping[str, Any],
    provider: str,
    now: datetime,
) -> LogoutToken:
    """The logout-specific checks of a verified token's claims.

    ``iss``, ``aud`` and the times are checked as for ID tokens first.
    """
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(
        events.get(LOGOUT_EVENT),
        dict,
    ):
        raise OAuthLogoutTokenInvalid
    if "nonce" in claims:
        raise OAuthLogoutTokenInvalid
    subject, sid, jti = claims.get("sub"), claims.get("sid"), claims.get("jti")
    if subject is None and sid is None:
        raise OAuthLogoutTokenInvalid
    if subject is not None and not is_identifier(subject):
        raise OAuthLogoutTokenInvalid
    if sid is not None and not is_identifier(sid):
        raise OAuthLogoutTokenInvalid
    if not is_identifier(jti):
        raise OAuthLogoutTokenInvalid
    oldest = (now - MAX_TOKEN_AGE - CLOCK_SKEW).timestamp()
    if not oldest <= claims["iat"]:  # written so that NaN fails too
        raise OAuthLogoutTokenInvalid
    issued_at = datetime.fromtimestamp(claims["iat"], UTC)
    return LogoutToken(
        provider=provider,
        jti=jti,
        issued_at=issued_at,
        subject=subject,
        sid=sid,
    )
