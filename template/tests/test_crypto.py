import hashlib
import hmac
import re

import pytest

from ..crypto import (
    TokenHasher,
    constant_time_equals,
    derive_key,
    generate_token,
)


def test_token_is_prefixed_and_carries_256_random_bits() -> None:
    token = generate_token("sess")
    assert re.fullmatch(r"sess_[A-Za-z0-9_-]{43}", token)
    assert generate_token("sess") != token


def test_hash_is_keyed_hex_sha256() -> None:
    hasher = TokenHasher(b"k" * 32)
    digest = hasher.hash("sess_abc")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hasher.hash("sess_abc") == digest
    assert TokenHasher(b"j" * 32).hash("sess_abc") != digest


def test_hash_matches_hmac_sha256_reference() -> None:
    key = bytes(range(32))
    expected = hmac.new(key, b"token", hashlib.sha256).hexdigest()
    assert TokenHasher(key).hash("token") == expected


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenHasher(b"short")


def test_derived_keys_differ_per_purpose_and_secret() -> None:
    secret = "s" * 40
    assert derive_key(secret, "a") != derive_key(secret, "b")
    assert derive_key(secret, "a") != derive_key("t" * 40, "a")
    assert len(derive_key(secret, "a")) == 32


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
