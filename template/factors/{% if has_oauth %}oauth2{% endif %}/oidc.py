"""OpenID Connect: discovery, signing keys and ID token validation.

Discovery documents and key sets are cached for a while. A token signed
with a key id the cache does not know triggers one refetch of the key set
(the provider rotated its keys), at most once a minute, so forged key ids
cannot make the app hammer the provider.

ID tokens are checked as OpenID Connect Core 3.1.3.7 asks, and stricter:
the algorithm must be on the provider's allowlist (never ``none``, never
an HMAC algorithm for a provider that signs with public keys), keys come
only from the configured key set (``jku``, ``jwk`` and ``x5u`` headers
are ignored), unknown ``crit`` headers and encrypted tokens are refused.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeGuard
from urllib.parse import urlencode

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from ...clock import Clock
from ...crypto import constant_time_equals
from .base import (
    FlowSecrets,
    OAuthProvider,
    ProviderAccount,
    ProviderTokens,
    exchange_code,
    request_json,
)
from .errors import (
    OAuthIdTokenInvalid,
    OAuthProviderUnavailable,
    OAuthUserInfoInvalid,
)

type Key = RSAKey | ECKey | OctKey

CLOCK_SKEW = timedelta(seconds=60)
METADATA_TTL = timedelta(hours=1)
KEYS_TTL = timedelta(hours=1)
REFETCH_INTERVAL = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 16 * 1024
MAX_SUBJECT_LENGTH = 255
DEFAULT_ALGORITHMS = ("RS256",)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "HS": "oct"}
# RFC 8176 methods taken over from a provider's ``amr``; ``mfa`` is not,
# because this app decides for itself what counts as multi-factor.
TRUSTED_AMR = frozenset(
    {"face", "fpt", "hwk", "iris", "otp", "pin", "pwd", "retina", "sc"}
    | {"sms", "swk", "tel", "vbm"},
)
FEDERATED_AMR = "fed"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of a discovery document this package uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    iss_parameter_supported: bool = False

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> "ProviderMetadata":
        """Read a discovery document; malformed ones are refused."""
        try:
            metadata = cls(
                issuer=document["issuer"],
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                jwks_uri=document["jwks_uri"],
                userinfo_endpoint=document.get("userinfo_endpoint"),
                iss_parameter_supported=document.get(
                    "authorization_response_iss_parameter_supported",
                )
                is True,
            )
        except KeyError as error:
            raise OAuthProviderUnavailable from error
        urls = (
            metadata.issuer,
            metadata.authorization_endpoint,
            metadata.token_endpoint,
            metadata.jwks_uri,
        )
        if not all(isinstance(url, str) and url for url in urls):
            raise OAuthProviderUnavailable
        if not isinstance(metadata.userinfo_endpoint, str | None):
            raise OAuthProviderUnavailable
        return metadata


class Discovery:
    """A provider's discovery document, fetched lazily and cached.

    The document's ``issuer`` must equal the configured issuer exactly
    (OpenID Connect Discovery 4.3).
    """

    def __init__(
        self,
        issuer: str,
        http: httpx.AsyncClient,
        clock: Clock,
        ttl: timedelta = METADATA_TTL,
    ) -> None:
        self.issuer = issuer
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[ProviderMetadata, datetime] | None = None

    async def metadata(self) -> ProviderMetadata:
        now = self._clock.now()
        if self._cached is not None and now < self._cached[1]:
            return self._cached[0]
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        metadata = ProviderMetadata.parse(
            await request_json(self._http, "GET", url),
        )
        if metadata.issuer != self.issuer:
            raise OAuthProviderUnavailable(
                "The provider's discovery document names another issuer.",
            )
        self._cached = (metadata, now + self._ttl)
        return metadata


class KeyCache:
    """A provider's signing keys (JWKS), cached, refetched on rotation."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        clock: Clock,
        ttl: timedelta = KEYS_TTL,
        refetch_interval: timedelta = REFETCH_INTERVAL,
    ) -> None:
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._keys: list[Key] = []
        self._fetched_at: datetime | None = None
        self.fetches = 0

    async def key(self, jwks_uri: str, kid: str | None, alg: str) -> Key:
        """The key for a token header; refetches once for a new ``kid``."""
        now = self._clock.now()
        if self._fetched_at is None or now >= self._fetched_at + self._ttl:
            await self._fetch(jwks_uri)
        found = self._find(kid, alg)
        if found is None and self._may_refetch():
            await self._fetch(jwks_uri)
            found = self._find(kid, alg)
        if found is None:
            raise OAuthIdTokenInvalid(
                "The identity token is signed with an unknown key.",
            )
        return found

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or (
            self._clock.now() >= self._fetched_at + self._refetch_interval
        )

    def _find(self, kid: str | None, alg: str) -> Key | None:
        key_type = KEY_TYPES.get(alg[:2])
        candidates = [
            key
            for key in self._keys
            if key.key_type == key_type
            and key.get("use", "sig") == "sig"
            and key.get("alg", alg) == alg
        ]
        if kid is None:
            # Without a key id, only an unambiguous key set will do.
            return candidates[0] if len(candidates) == 1 else None
        return next((k for k in candidates if k.kid == kid), None)

    async def _fetch(self, jwks_uri: str) -> None:
        document = await request_json(self._http, "GET", jwks_uri)
        try:
            key_set = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise OAuthProviderUnavailable from error
        self._keys = [
            key
            for key in key_set.keys
            if isinstance(key, RSAKey | ECKey) and not key.is_private
        ]
        self._fetched_at = self._clock.now()
        self.fetches += 1


@dataclass(frozen=True, slots=True)
class IdTokenPolicy:
    """What a provider's ID tokens must look like."""

    issuers: frozenset[str]
    client_id: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS


def token_header(
    id_token: str,
    algorithms: Collection[str],
    types: Collection[str | None] | None = None,
) -> dict[str, Any]:
    """The protected header of a signed token, before any trust.

    Refuses encrypted or oversized tokens, ``alg`` values off the
    allowlist (``none`` is never on it) and any ``crit`` extension; with
    ``types``, a ``typ`` (lower case, ``application/`` dropped) off it.
    """
    if len(id_token) > MAX_TOKEN_LENGTH or id_token.count(".") != 2:  # noqa: PLR2004
        raise OAuthIdTokenInvalid
    try:
        header = dict(jws.extract_compact(id_token.encode()).protected)
    except (JoseError, ValueError, TypeError) as error:
        raise OAuthIdTokenInvalid from error
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise OAuthIdTokenInvalid
    if alg not in algorithms or "crit" in header or "zip" in header:
        raise OAuthIdTokenInvalid
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise OAuthIdTokenInvalid
    if types is not None and _media_type(header.get("typ")) not in types:
        raise OAuthIdTokenInvalid
    return header


def _media_type(typ: object) -> str | None:
    if not isinstance(typ, str):
        return None if typ is None else ""
    return typ.lower().removeprefix("application/")


def verify_signature(id_token: str, key: Key, alg: str) -> dict[str, Any]:
    """The claims of ``id_token`` if ``key`` signed it with ``alg``."""
    try:
        token = jwt.decode(id_token, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError) as error:
        raise OAuthIdTokenInvalid from error
    return dict(token.claims)


def check_claims(
    claims: Mapping[str, Any],
    policy: IdTokenPolicy,
    nonce: str,
    now: datetime,
) -> str:
    """Check the claims of a verified ID token; its ``sub``.

    ``iss`` and ``aud`` as :func:`check_audience` and the times as
    :func:`check_times` ask; ``nonce`` the flow's own.
    """
    check_audience(claims, policy)
    check_times(claims, now, expiry_required=True)
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not constant_time_equals(
        token_nonce,
        nonce,
    ):
        raise OAuthIdTokenInvalid
    subject = claims.get("sub")
    if not is_identifier(subject):
        raise OAuthIdTokenInvalid
    return subject


def check_audience(claims: Mapping[str, Any], policy: IdTokenPolicy) -> None:
    """``iss`` exactly one of the provider's issuers; ``aud`` the client.

    Other audiences only when ``azp`` names the client; ``azp``, if
    present, the client.
    """
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer not in policy.issuers:
        raise OAuthIdTokenInvalid
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if (
        not isinstance(audiences, list)
        or not all(isinstance(a, str) for a in audiences)
        or policy.client_id not in audiences
    ):
        raise OAuthIdTokenInvalid
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != policy.client_id:
        raise OAuthIdTokenInvalid


def check_times(
    claims: Mapping[str, Any],
    now: datetime,
    *,
    expiry_required: bool,
) -> None:
    """Check ``iat``, ``exp`` and ``nbf``, with a minute of clock skew.

    ``iat`` must be there and not in the future; ``exp``, if there or
    required, in the future; ``nbf``, if there, not in the future.
    """
    timestamp = now.timestamp()
    skew = CLOCK_SKEW.total_seconds()
    expires, issued = claims.get("exp"), claims.get("iat")
    if not _is_time(issued) or issued > timestamp + skew:
        raise OAuthIdTokenInvalid
    if (expires is not None or expiry_required) and (
        not _is_time(expires) or timestamp >= expires + skew
    ):
        raise OAuthIdTokenInvalid
    not_before = claims.get("nbf")
    if not_before is not None and (
        not _is_time(not_before) or not_before > timestamp + skew
    ):
        raise OAuthIdTokenInvalid


def is_identifier(value: object) -> TypeGuard[str]:
    """A non-empty string of at most 255 characters (``sub``, ``sid``)."""
    return (
        isinstance(value, str)
        and bool(value)
        and len(value) <= MAX_SUBJECT_LENGTH
    )


def _is_time(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def auth_time(claims: Mapping[str, Any]) -> datetime | None:
    """When the person signed in at the provider (``auth_time``)."""
    value = claims.get("auth_time")
    if not _is_time(value):
        return None
    return datetime.fromtimestamp(value, UTC)


def as_bool(value: object) -> bool:
    """A boolean claim sent as ``true`` or as the string ``"true"``."""
    return value is True or value == "true"


def trusted_amr(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """``fed`` plus the provider's RFC 8176 methods this app trusts."""
    methods = claims.get("amr")
    known = (
        {m for m in methods if isinstance(m, str)} & TRUSTED_AMR
        if isinstance(methods, list)
        else set()
    )
    return (FEDERATED_AMR, *sorted(known))


def email_claims(
    claims: Mapping[str, Any],
) -> tuple[str | None, bool]:
    """``email`` and whether the provider asserts it is verified."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        return None, False
    return email, as_bool(claims.get("email_verified"))


@dataclass(frozen=True, slots=True)
class OpenIDClient:
    """A client registration at an OpenID provider."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    basic_auth: bool = True


class OpenIDProvider(OAuthProvider):
    """A provider that speaks OpenID Connect with discovery.

    Subclasses adjust the authorization parameters, the client
    authentication, the issuers accepted in ID tokens and how claims
    become a :class:`ProviderAccount`. ``backchannel_logout`` providers
    may end sessions with logout tokens (see :mod:`.logout`).
    """

    name: ClassVar[str] = "oidc"
    use_userinfo: ClassVar[bool] = True
    can_reauthenticate: ClassVar[bool] = True
    backchannel_logout: ClassVar[bool] = True

    def __init__(
        self,
        issuer: str,
        client: OpenIDClient,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        extra_issuers: tuple[str, ...] = (),
    ) -> None:
        if not algorithms or any(
            a.lower() == "none" or a in HMAC_ALGORITHMS for a in algorithms
        ):
            raise ValueError("algorithms must be public-key algorithms")
        self.client = client
        self.discovery = Discovery(issuer, http, clock)
        self.keys = KeyCache(http, clock)
        self.policy = IdTokenPolicy(
            issuers=frozenset({issuer, *extra_issuers}),
            client_id=client.client_id,
            algorithms=algorithms,
        )
        self._http = http
        self._clock = clock

    async def expected_issuer(self) -> str | None:
        return (await self.discovery.metadata()).issuer

    async def requires_issuer_parameter(self) -> bool:
        return (await self.discovery.metadata()).iss_parameter_supported

    def authorization_parameters(self, secrets: FlowSecrets) -> dict[str, str]:
        """Query parameters beyond the standard ones; none by default."""
        del secrets
        return {}

    def reauthentication_parameters(self) -> dict[str, str]:
        """What makes the provider ask for credentials again.

        ``max_age=0`` also obliges it to put ``auth_time`` in the ID
        token (OpenID Connect Core 3.1.2.1).
        """
        return {"prompt": "login", "max_age": "0"}

    async def authorization_url(
        self,
        secrets: FlowSecrets,
        redirect_uri: str,
        *,
        reauthenticate: bool = False,
    ) -> str:
        metadata = await self.discovery.metadata()
        query = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.client.scopes),
            "state": secrets.state,
            "nonce": secrets.nonce,
            "code_challenge": secrets.code_challenge,
            "code_challenge_method": "S256",
            **self.authorization_parameters(secrets),
        }
        if reauthenticate:
            query |= self.reauthentication_parameters()
        endpoint = metadata.authorization_endpoint
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(query)}"

    async def client_secret(self) -> str:
        """The secret sent to the token endpoint."""
        return self.client.client_secret

    async def authenticate(
        self,
        code: str,
        secrets: FlowSecrets,
        redirect_uri: str,
        callback: Mapping[str, str],
    ) -> ProviderAccount:
        metadata = await self.discovery.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": secrets.code_verifier,
        }
        secret = await self.client_secret()
        if self.client.basic_auth:
            tokens = await exchange_code(
                self._http,
                metadata.token_endpoint,
                form,
                basic_auth=(self.client.client_id, secret),
            )
        else:
            form |= {"client_id": self.client.client_id}
            form |= {"client_secret": secret}
            tokens = await exchange_code(
                self._http,
                metadata.token_endpoint,
                form,
            )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OAuthIdTokenInvalid
        claims = await self.validate_id_token(id_token, secrets.nonce)
        if self.use_userinfo and metadata.userinfo_endpoint:
            claims = {
                **await self.userinfo(
                    metadata.userinfo_endpoint,
                    tokens["access_token"],
                    claims["sub"],
                ),
                **claims,
            }
        sid = claims.get("sid")
        return replace(
            self.account(claims, callback),
            auth_time=auth_time(claims),
            tokens=ProviderTokens.parse(tokens),
            sid=sid if is_identifier(sid) else None,
        )

    async def validate_id_token(
        self,
        id_token: str,
        nonce: str,
    ) -> dict[str, Any]:
        """The claims of a valid ID token of this provider and flow."""
        claims = await self.verified_claims(id_token)
        check_claims(claims, self.policy, nonce, self._clock.now())
        return claims

    async def verified_claims(
        self,
        token: str,
        types: Collection[str | None] | None = None,
    ) -> dict[str, Any]:
        """The claims of a token signed by this provider, unchecked.

        The signature is verified with a key of the provider's key set
        and an algorithm on its allowlist (see :func:`token_header`).
        """
        header = token_header(token, self.policy.algorithms, types)
        metadata = await self.discovery.metadata()
        key = await self.keys.key(
            metadata.jwks_uri,
            header.get("kid"),
            header["alg"],
        )
        return verify_signature(token, key, header["alg"])

    async def userinfo(
        self,
        endpoint: str,
        access_token: str,
        subject: str,
    ) -> dict[str, Any]:
        """The UserInfo claims; their ``sub`` must be the token's."""
        claims = await request_json(
            self._http,
            "GET",
            endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        userinfo_subject = claims.get("sub")
        if not isinstance(userinfo_subject, str) or not (
            constant_time_equals(userinfo_subject, subject)
        ):
            raise OAuthUserInfoInvalid
        return claims

    def account(
        self,
        claims: Mapping[str, Any],
        callback: Mapping[str, str],
    ) -> ProviderAccount:
        """The account the validated claims describe."""
        del callback
        email, verified = email_claims(claims)
        name = claims.get("name")
        return ProviderAccount(
            provider=self.name,
            subject=claims["sub"],
            email=email,
            email_verified=verified,
            amr=trusted_amr(claims),
            name=name if isinstance(name, str) else None,
        )
