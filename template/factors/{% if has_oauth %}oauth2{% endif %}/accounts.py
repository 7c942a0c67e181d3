"""Provider accounts linked to identities, and the OAuth sign-in factor.

A provider account is keyed by (provider, subject), never by email. A
new account signs up a new identity. It is joined to an existing identity
with the same email only when the provider asserts the email is verified
and the identity's own email is verified too; otherwise the owner must
sign in and link it explicitly. An identity keeps at least one way to
sign in: unlinking the last one is refused.

With a :class:`TokenVault`, the provider's tokens are kept encrypted on
the link and replaced at each sign-in; without one, none are kept.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from ...clock import Clock
from ...emails import normalize_email
from ...exceptions import IdentityMismatch, InvalidEmail
from ...identity import Identity, IdentityId, IdentityStore
from ..base import Factor, FactorResult
from .base import ProviderAccount
from .errors import (
    AccountDisabled,
    OAuthAccountExists,
    OAuthAccountLinked,
    OAuthAccountNotLinked,
    OAuthEmailRequired,
    OAuthLastSignInMethod,
    OAuthReauthenticationStale,
)
from .oidc import CLOCK_SKEW, FEDERATED_AMR
from .tokens import SealedTokens, StoredTokens, TokenVault


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """A provider account that signs in as ``identity_id``."""

    provider: str
    subject: str
    identity_id: IdentityId
    email: str | None
    email_verified: bool
    created_at: datetime
    tokens: SealedTokens | None = None


class LinkedAccountStore(ABC):
    """Persistence of linked provider accounts."""

    @abstractmethod
    async def get(self, provider: str, subject: str) -> LinkedAccount | None:
        """The account linked for (provider, subject), if any."""

    @abstractmethod
    async def list_for_identity(
        self,
        identity_id: IdentityId,
    ) -> list[LinkedAccount]:
        """An identity's linked accounts, oldest first."""

    @abstractmethod
    async def add(self, account: LinkedAccount) -> bool:
        """Link an account; ``False`` if it or its provider is taken."""

    @abstractmethod
    async def sign_up(
        self,
        email: str,
        account: ProviderAccount,
        created_at: datetime,
    ) -> IdentityId | None:
        """Create an identity for ``email`` and link ``account`` to it.

        Atomic: ``None`` if the email is taken or the account was linked
        meanwhile, and then nothing is written.
        """

    @abstractmethod
    async def delete(self, identity_id: IdentityId, provider: str) -> bool:
        """Unlink the identity's account at ``provider``; if it existed."""

    @abstractmethod
    async def set_tokens(
        self,
        provider: str,
        subject: str,
        tokens: SealedTokens | None,
    ) -> None:
        """Replace (or with ``None`` drop) the account's sealed tokens."""


class OAuthFactor(Factor):
    """Sign-in with a provider account: the first step of a sign-in.

    ``sign_in_methods`` are the app's other factors that can start a
    sign-in (password, email code): unlinking checks them.
    """

    id: ClassVar[str] = "oauth"
    amr: ClassVar[tuple[str, ...]] = (FEDERATED_AMR,)
    identifies: ClassVar[bool] = True
    second_factor: ClassVar[bool] = False

    def __init__(
        self,
        identities: IdentityStore,
        accounts: LinkedAccountStore,
        clock: Clock,
        sign_in_methods: Sequence[Factor] = (),
        vault: TokenVault | None = None,
    ) -> None:
        self._identities = identities
        self._accounts = accounts
        self._clock = clock
        self._sign_in_methods = sign_in_methods
        self._vault = vault

    async def is_enrolled(self, identity_id: IdentityId) -> bool:
        return bool(await self._accounts.list_for_identity(identity_id))

    async def sign_in(self, account: ProviderAccount) -> FactorResult:
        """The identity a provider account signs in as, new if need be."""
        linked = await self._accounts.get(account.provider, account.subject)
        if linked is not None:
            result = await self._result(linked.identity_id, account)
            await self._keep_tokens(account, linked.tokens)
            return result
        email = normalized_email(account.email)
        if email is None:
            raise OAuthEmailRequired
        existing = await self._identities.get_by_email(email)
        if existing is None:
            identity_id = await self._accounts.sign_up(
                email,
                account,
                self._clock.now(),
            )
            if identity_id is None:
                raise OAuthAccountExists
            result = await self._result(identity_id, account)
        elif account.email_verified and existing.email_verified:
            result = await self._result(existing.id, account)
            await self._add(self._link(account, existing.id))
        else:
            raise OAuthAccountExists
        await self._keep_tokens(account, None)
        return result

    async def reauthenticate(
        self,
        identity_id: IdentityId,
        account: ProviderAccount,
        since: datetime,
    ) -> FactorResult:
        """Check a fresh provider sign-in of ``identity_id``'s account.

        The account must be linked to ``identity_id``, and the provider
        must say the person signed in at ``since`` or later (give or take
        the clock skew): a provider session from before does not count.
        """
        linked = await self._accounts.get(account.provider, account.subject)
        if linked is None or linked.identity_id != identity_id:
            raise IdentityMismatch
        signed_in = account.auth_time
        if (
            signed_in is None
            or signed_in < since - CLOCK_SKEW
            or signed_in > self._clock.now() + CLOCK_SKEW
        ):
            raise OAuthReauthenticationStale
        result = await self._result(identity_id, account)
        await self._keep_tokens(account, linked.tokens)
        return result

    async def link(
        self,
        identity_id: IdentityId,
        account: ProviderAccount,
    ) -> LinkedAccount:
        """Link a provider account to a signed-in identity."""
        linked = await self._accounts.get(account.provider, account.subject)
        if linked is not None:
            if linked.identity_id != identity_id:
                raise OAuthAccountLinked
            await self._keep_tokens(account, linked.tokens)
            return linked
        new = self._link(account, identity_id)
        await self._add(new)
        await self._keep_tokens(account, None)
        return new

    async def unlink(self, identity_id: IdentityId, provider: str) -> None:
        """Unlink an account, unless it is the last way to sign in."""
        accounts = await self._accounts.list_for_identity(identity_id)
        if not any(a.provider == provider for a in accounts):
            raise OAuthAccountNotLinked
        if len(accounts) == 1 and not await self._other_method(identity_id):
            raise OAuthLastSignInMethod
        if not await self._accounts.delete(identity_id, provider):
            raise OAuthAccountNotLinked

    async def accounts(self, identity_id: IdentityId) -> list[LinkedAccount]:
        """The identity's linked accounts."""
        return await self._accounts.list_for_identity(identity_id)

    async def provider_tokens(
        self,
        identity_id: IdentityId,
        provider: str,
    ) -> StoredTokens | None:
        """The kept tokens of the identity's account at ``provider``."""
        if self._vault is None:
            return None
        for linked in await self._accounts.list_for_identity(identity_id):
            if linked.provider == provider and linked.tokens is not None:
                return self._vault.open(
                    provider,
                    linked.subject,
                    linked.tokens,
                )
        return None

    async def provider_token(
        self,
        identity_id: IdentityId,
        provider: str,
    ) -> str | None:
        """The kept access token at ``provider``, unless it expired."""
        tokens = await self.provider_tokens(identity_id, provider)
        if tokens is None or (
            tokens.expires_at is not None
            and tokens.expires_at <= self._clock.now()
        ):
            return None
        return tokens.access_token

    async def _keep_tokens(
        self,
        account: ProviderAccount,
        kept: SealedTokens | None,
    ) -> None:
        """Store the tokens of this sign-in, or drop old ones if off."""
        sealed = None
        if self._vault is not None and account.tokens is not None:
            sealed = self._vault.seal(
                account.provider,
                account.subject,
                account.tokens,
            )
        if sealed is not None or kept is not None:
            await self._accounts.set_tokens(
                account.provider,
                account.subject,
                sealed,
            )

    async def _other_method(self, identity_id: IdentityId) -> bool:
        for factor in self._sign_in_methods:
            if factor.identifies and await factor.is_enrolled(identity_id):
                return True
        return False

    async def _add(self, account: LinkedAccount) -> None:
        if not await self._accounts.add(account):
            raise OAuthAccountLinked

    async def _result(
        self,
        identity_id: IdentityId,
        account: ProviderAccount,
    ) -> FactorResult:
        identity: Identity | None = await self._identities.get(identity_id)
        if identity is None or not identity.is_active:
            raise AccountDisabled
        return FactorResult(
            factor=self.id,
            identity_id=identity_id,
            amr=account.amr or self.amr,
        )

    def _link(
        self,
        account: ProviderAccount,
        identity_id: IdentityId,
    ) -> LinkedAccount:
        return LinkedAccount(
            provider=account.provider,
            subject=account.subject,
            identity_id=identity_id,
            email=normalized_email(account.email),
            email_verified=account.email_verified,
            created_at=self._clock.now(),
        )


def normalized_email(email: str | None) -> str | None:
    """``email`` in canonical form; ``None`` if absent or malformed."""
    if email is None:
        return None
    try:
        return normalize_email(email)
    except InvalidEmail:
        return None
