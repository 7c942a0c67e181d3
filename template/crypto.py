"""Opaque tokens, keyed hashes and constant-time comparison.

Tokens handed to clients are random and prefixed (``sess_...``); only an
HMAC-SHA256 of a token, keyed with a key derived from the secret key, is
ever stored, so a database leak reveals no usable token.
"""

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
MIN_KEY_BYTES = 32


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from the secret key."""
    return hmac.new(
        secret_key.encode(),
        f"auth-key:{purpose}".encode(),
        hashlib.sha256,
    ).digest()


def generate_token(prefix: str, nbytes: int = TOKEN_BYTES) -> str:
    """A new opaque token: ``prefix_`` followed by URL-safe random text."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


class TokenHasher:
    """Keyed hashing of tokens and codes before they are stored."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError("the hashing key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_secret(cls, secret_key: str) -> "TokenHasher":
        return cls(derive_key(secret_key, "token-hash"))

    def hash(self, token: str) -> str:
        """Hex HMAC-SHA256 of ``token``: 64 characters, safe to index."""
        return hmac.new(
            self._key,
            token.encode(),
            hashlib.sha256,
        ).hexdigest()
