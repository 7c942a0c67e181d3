"""The authorization code flow: PKCE S256, state, nonce, mix-up defence.

A flow starts with :meth:`OAuthFlows.start`. The ``state`` sent to the
provider is random and stored only as a keyed hash, with the provider and
issuer the flow expects and the hash of a second random value that goes
into a short-lived cookie: a callback is accepted once, within ten
minutes, and only from the browser that started it. The PKCE verifier and
the OIDC nonce are derived from the state with a server key, so nothing
secret is stored.
"""

import base64
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from ...clock import Clock
from ...crypto import (
    TokenHasher,
    constant_time_equals,
    derive_key,
    generate_token,
)
from ...identity import IdentityId
from .errors import (
    OAuthAuthorizationFailed,
    OAuthIssuerMismatch,
    OAuthProviderUnavailable,
    OAuthReauthenticationUnsupported,
    OAuthStateInvalid,
    OAuthTokenError,
)

STATE_PREFIX = "st"
BINDING_PREFIX = "otx"
MAX_PARAMETER_LENGTH = 4096
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

TOKEN_ERRORS = {
    "invalid_request": "The provider found the token request malformed.",
    "invalid_client": "The provider did not accept this app's credentials.",
    "invalid_grant": "The sign-in code is invalid, expired or was used.",
    "unauthorized_client": "This app may not use this kind of sign-in.",
    "unsupported_grant_type": "The provider refused the grant type.",
    "invalid_scope": "The provider refused the requested scopes.",
    # GitHub's own codes, sent with HTTP 200.
    "bad_verification_code": "The sign-in code is invalid, expired or was "
    "used.",
    "incorrect_client_credentials": "The provider did not accept this "
    "app's credentials.",
    "redirect_uri_mismatch": "The callback URL is not registered with the "
    "provider.",
}

AUTHORIZATION_ERRORS = {
    "access_denied": "The sign-in was cancelled at the provider.",
    "login_required": "The provider needs you to sign in.",
    "consent_required": "The provider needs your consent.",
    "interaction_required": "The provider needs you to take an action.",
    "temporarily_unavailable": "The provider is busy; try again later.",
    "server_error": "The provider had an error; try again later.",
}


@dataclass(frozen=True, slots=True)
class OAuthTransaction:
    """A started flow, as stored: hashes and expectations, no secrets.

    ``link_identity_id`` is the identity a link is for, or whose session
    ``session_id`` a re-authentication refreshes.
    """

    state_hash: str
    binding_hash: str
    provider: str
    issuer: str | None
    return_to: str
    link_identity_id: IdentityId | None
    created_at: datetime
    expires_at: datetime
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class FlowSecrets:
    """The per-flow values sent to the provider (never stored)."""

    state: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        """The PKCE S256 challenge of the verifier (RFC 7636 4.2)."""
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return _b64url(digest)


@dataclass(frozen=True, slots=True)
class ProviderTokens:
    """The tokens a provider granted; kept only if the settings ask."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None
    scopes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, response: Mapping[str, Any]) -> "ProviderTokens":
        """The tokens of a token endpoint answer (RFC 6749 5.1).

        GitHub separates scopes with commas, the standard with spaces.
        """
        refresh = response.get("refresh_token")
        expires_in = response.get("expires_in")
        if (
            not isinstance(expires_in, int)
            or isinstance(expires_in, bool)
            or not 0 <= expires_in <= MAX_EXPIRES_IN
        ):
            expires_in = None
        scope = response.get("scope")
        return cls(
            access_token=response["access_token"],
            refresh_token=refresh if isinstance(refresh, str) else None,
            expires_in=expires_in,
            scopes=tuple(scope.replace(",", " ").split())
            if isinstance(scope, str)
            else (),
        )


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """Who the provider says signed in.

    ``subject`` is the provider's stable user id: accounts are keyed by
    (provider, subject), never by email. ``email_verified`` is true only
    when the provider asserts it. ``auth_time`` is when the person last
    signed in at the provider, if it says; ``sid`` the provider's own
    session, if its ID token names one (for back-channel logout).
    """

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    amr: tuple[str, ...] = ()
    name: str | None = None
    auth_time: datetime | None = None
    sid: str | None = None
    tokens: ProviderTokens | None = field(default=None, repr=False)


class OAuthStateStore(ABC):
    """Persistence of started flows."""

    @abstractmethod
    async def create(self, transaction: OAuthTransaction) -> None:
        """Store a new flow (and forget expired ones)."""

    @abstractmethod
    async def consume(self, state_hash: str) -> OAuthTransaction | None:
        """Delete and return a flow; only one caller ever gets it."""


class OAuthProvider(ABC):
    """One provider: how to send the user there and read the result.

    ``form_post`` providers answer with a cross-site POST, so their flow
    cookie must be ``SameSite=None``. ``can_reauthenticate`` providers
    can be told to make the person sign in again, and say when they did.
    """

    name: ClassVar[str]
    form_post: ClassVar[bool] = False
    can_reauthenticate: ClassVar[bool] = False

    @abstractmethod
    async def expected_issuer(self) -> str | None:
        """The issuer a callback of this provider must name, if any."""

    async def requires_issuer_parameter(self) -> bool:
        """Whether callbacks must carry the RFC 9207 ``iss`` parameter."""
        return False

    @abstractmethod
    async def authorization_url(
        self,
        secrets: FlowSecrets,
        redirect_uri: str,
        *,
        reauthenticate: bool = False,
    ) -> str:
        """Where to send the browser to start the sign-in.

        With ``reauthenticate``, the provider must ask for credentials
        again, even if the person is signed in there.
        """

    @abstractmethod
    async def authenticate(
        self,
        code: str,
        secrets: FlowSecrets,
        redirect_uri: str,
        callback: Mapping[str, str],
    ) -> ProviderAccount:
        """Exchange the code and establish who signed in."""


@dataclass(frozen=True, slots=True)
class StartedFlow:
    """What the browser needs: where to go and the cookie to keep."""

    authorization_url: str
    binding: str
    transaction: OAuthTransaction


@dataclass(frozen=True, slots=True)
class FinishedFlow:
    """A callback that checked out, and the account it proved."""

    account: ProviderAccount
    transaction: OAuthTransaction


class OAuthFlows:
    """Starts flows and checks their callbacks."""

    def __init__(
        self,
        store: OAuthStateStore,
        hasher: TokenHasher,
        clock: Clock,
        secret_key: str,
        lifetime: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._key = derive_key(secret_key, "oauth-flow")
        self._lifetime = lifetime

    async def start(
        self,
        provider: OAuthProvider,
        redirect_uri: str,
        return_to: str,
        link_identity_id: IdentityId | None = None,
        session_id: str | None = None,
    ) -> StartedFlow:
        """Store a new flow and build the provider's authorization URL.

        A flow that links an account names the identity; one that
        re-authenticates a session names the session.
        """
        if session_id is not None and not provider.can_reauthenticate:
            raise OAuthReauthenticationUnsupported
        state = generate_token(STATE_PREFIX)
        binding = generate_token(BINDING_PREFIX)
        now = self._clock.now()
        transaction = OAuthTransaction(
            state_hash=self._hasher.hash(state),
            binding_hash=self._hasher.hash(binding),
            provider=provider.name,
            issuer=await provider.expected_issuer(),
            return_to=return_to,
            link_identity_id=link_identity_id,
            created_at=now,
            expires_at=now + self._lifetime,
            session_id=session_id,
        )
        url = await provider.authorization_url(
            self.secrets(state),
            redirect_uri,
            reauthenticate=session_id is not None,
        )
        await self._store.create(transaction)
        return StartedFlow(url, binding, transaction)

    async def finish(
        self,
        provider: OAuthProvider,
        callback: Mapping[str, str],
        binding: str | None,
        redirect_uri: str,
    ) -> FinishedFlow:
        """Check a callback and learn who signed in at the provider.

        The state is consumed first, so a callback can never be replayed,
        even one that fails a later check.
        """
        state = callback.get("state", "")
        if not state or len(state) > MAX_PARAMETER_LENGTH:
            raise OAuthStateInvalid
        transaction = await self._store.consume(self._hasher.hash(state))
        if (
            transaction is None
            or not binding
            or len(binding) > MAX_PARAMETER_LENGTH
            or not constant_time_equals(
                transaction.binding_hash,
                self._hasher.hash(binding),
            )
            or transaction.provider != provider.name
            or self._clock.now() >= transaction.expires_at
        ):
            raise OAuthStateInvalid
        await _check_issuer(provider, transaction, callback.get("iss"))
        error = callback.get("error")
        if error is not None:
            raise OAuthAuthorizationFailed(AUTHORIZATION_ERRORS.get(error))
        code = callback.get("code", "")
        if not code or len(code) > MAX_PARAMETER_LENGTH:
            raise OAuthAuthorizationFailed
        account = await provider.authenticate(
            code,
            self.secrets(state),
            redirect_uri,
            callback,
        )
        return FinishedFlow(account, transaction)

    def secrets(self, state: str) -> FlowSecrets:
        """The nonce and PKCE verifier that belong to ``state``."""
        return FlowSecrets(
            state=state,
            nonce=self._derive("nonce", state),
            code_verifier=self._derive("pkce", state),
        )

    def _derive(self, purpose: str, state: str) -> str:
        message = f"{purpose}:{state}".encode()
        return _b64url(hmac.new(self._key, message, hashlib.sha256).digest())


async def _check_issuer(
    provider: OAuthProvider,
    transaction: OAuthTransaction,
    iss: str | None,
) -> None:
    # RFC 9207: an exact comparison; absence is refused where the provider
    # advertises the parameter.
    if transaction.issuer is None:
        return
    if iss is None:
        if await provider.requires_issuer_parameter():
            raise OAuthIssuerMismatch
        return
    if not constant_time_equals(iss, transaction.issuer):
        raise OAuthIssuerMismatch


async def exchange_code(
    http: httpx.AsyncClient,
    token_endpoint: str,
    form: Mapping[str, str],
    *,
    basic_auth: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """POST the token request; the JSON answer, or a clear error.

    RFC 6749 errors (also those GitHub sends with HTTP 200) become
    :class:`OAuthTokenError`; network failures and malformed answers
    :class:`OAuthProviderUnavailable`.
    """
    payload = await request_json(
        http,
        "POST",
        token_endpoint,
        data=dict(form),
        auth=basic_auth,
        accept_errors=True,
    )
    error = payload.get("error")
    if error is not None:
        raise OAuthTokenError(TOKEN_ERRORS.get(str(error)))
    token = payload.get("access_token")
    token_type = payload.get("token_type", "bearer")
    if (
        not isinstance(token, str)
        or not token
        or not isinstance(token_type, str)
        or token_type.lower() != "bearer"
    ):
        raise OAuthProviderUnavailable
    return payload


async def request_json(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    accept_errors: bool = False,
    **kwargs: Any,  # noqa: ANN401
) -> dict[str, Any]:
    """A JSON object from the provider, with timeouts and a size cap.

    With ``accept_errors``, a 4xx answer carrying an ``error`` is returned
    for the caller to explain.
    """
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    try:
        response = await http.request(
            method,
            url,
            headers=headers,
            timeout=HTTP_TIMEOUT,
            **kwargs,
        )
    except httpx.HTTPError as error:
        raise OAuthProviderUnavailable from error
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise OAuthProviderUnavailable
    try:
        payload = response.json()
    except ValueError as error:
        raise OAuthProviderUnavailable from error
    if not isinstance(payload, dict):
        raise OAuthProviderUnavailable
    if response.is_success:
        return payload
    if accept_errors and response.is_client_error and "error" in payload:
        return payload
    raise OAuthProviderUnavailable


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
