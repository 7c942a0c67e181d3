"""Provider tokens kept at rest, encrypted, for the app's own API calls.

Off unless ``AUTH_OAUTH_STORE_TOKENS`` asks. Each token is sealed with
AES-GCM, bound to its (provider, subject) and kind as associated data:
a ciphertext moved to another account, or an access token swapped with
a refresh token, does not decrypt. Tokens never leave the server.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ...clock import Clock
from ...secret_box import SecretBox, SecretBoxError
from .base import ProviderTokens

# Sealed, these fit the columns of the store (8192 and 1024 characters).
MAX_TOKEN_LENGTH = 4096
MAX_SCOPES_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class SealedTokens:
    """Provider tokens as stored: ciphertexts, expiry and scopes."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """Provider tokens, decrypted for a call to the provider's API."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


class TokenVault:
    """Seals provider tokens for storage and opens them again."""

    def __init__(self, box: SecretBox, clock: Clock) -> None:
        self._box = box
        self._clock = clock

    def seal(
        self,
        provider: str,
        subject: str,
        tokens: ProviderTokens,
    ) -> SealedTokens | None:
        """Encrypt freshly granted tokens of (provider, subject).

        ``None`` for tokens too large to keep.
        """
        refresh = tokens.refresh_token
        if (
            len(tokens.access_token) > MAX_TOKEN_LENGTH
            or len(refresh or "") > MAX_TOKEN_LENGTH
            or len(" ".join(tokens.scopes)) > MAX_SCOPES_LENGTH
        ):
            return None
        expires_at = (
            None
            if tokens.expires_in is None
            else self._clock.now() + timedelta(seconds=tokens.expires_in)
        )
        return SealedTokens(
            access_token=self._box.seal(
                tokens.access_token.encode(),
                _context("access", provider, subject),
            ),
            refresh_token=None
            if refresh is None
            else self._box.seal(
                refresh.encode(),
                _context("refresh", provider, subject),
            ),
            expires_at=expires_at,
            scopes=tokens.scopes,
        )

    def open(
        self,
        provider: str,
        subject: str,
        sealed: SealedTokens,
    ) -> StoredTokens | None:
        """The tokens; ``None`` if they do not decrypt (another key)."""
        try:
            access = self._box.open(
                sealed.access_token,
                _context("access", provider, subject),
            )
            refresh = (
                None
                if sealed.refresh_token is None
                else self._box.open(
                    sealed.refresh_token,
                    _context("refresh", provider, subject),
                )
            )
        except SecretBoxError:
            return None
        return StoredTokens(
            access_token=access.decode(),
            refresh_token=None if refresh is None else refresh.decode(),
            expires_at=sealed.expires_at,
            scopes=sealed.scopes,
        )


def _context(kind: str, provider: str, subject: str) -> str:
    # Provider names hold no colon, so the subject cannot shift fields.
    return f"oauth-{kind}-token:{provider}:{subject}"
