"""Which files a rendered package must contain, per answers.

``expected_paths(answers)`` returns relative paths and globs. Check with
``unmatched``: every entry must match at least one rendered file (so a glob
like ``contrib/sqlalchemy/**`` means "this folder exists and is not empty"),
and every rendered file must match some entry (so nothing of a feature that
is off leaks into the package). Keep it in sync with template/.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

CORE = frozenset(
    {
        ".copier-answers.yml",
        ".gitattributes",
        "README.md",
        "__init__.py",
        "amr.py",
        "audit.py",
        "authentication_session.py",
        "client_ip.py",
        "clock.py",
        "config.py",
        "crypto.py",
        "doctor.py",
        "emails.py",
        "exceptions.py",
        "factors/__init__.py",
        "factors/base.py",
        "identity.py",
        "ruff.toml",
        "session.py",
        "throttle.py",
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/memory.py",
        "tests/test_amr.py",
        "tests/test_audit.py",
        "tests/test_authentication_session.py",
        "tests/test_client_ip.py",
        "tests/test_config.py",
        "tests/test_crypto.py",
        "tests/test_doctor.py",
        "tests/test_emails.py",
        "tests/test_session.py",
        "tests/test_throttle.py",
    },
)

# One module and one test module per factor.
FACTOR_EXTRA = {
    "password": frozenset({"factors/common_passwords.txt"}),
}
# Shared by TOTP and HOTP.
OTP = frozenset(
    {
        "factors/otp.py",
        "tests/test_otp_vectors.py",
    },
)
# Encryption at rest: OTP secrets, and provider tokens if kept.
SECRET_BOX = frozenset({"secret_box.py", "tests/test_secret_box.py"})
# Shared by the one-time code factors (OTP and email codes).
CODES = frozenset({"factors/codes.py", "tests/test_codes.py"})
# Jinja templates the package renders at run time (may contain {{ }}).
RUNTIME_TEMPLATES = ("mail/templates/*",)

EMAIL = frozenset(
    {
        "mail/__init__.py",
        "mail/**",
        "tests/smtp_sink.py",
        "tests/test_mail.py",
    },
)

# Sign-in with OAuth 2.0 / OpenID Connect providers.
OAUTH = frozenset(
    {
        "factors/oauth2/__init__.py",
        "factors/oauth2/accounts.py",
        "factors/oauth2/base.py",
        "factors/oauth2/errors.py",
        "factors/oauth2/logout.py",
        "factors/oauth2/oidc.py",
        "factors/oauth2/providers.py",
        "factors/oauth2/settings.py",
        "factors/oauth2/tokens.py",
        "tests/oauth_fake.py",
        "tests/test_oauth_*.py",
    },
)
PROVIDER_MODULE = {"oidc": "oidc_generic"}
# Its stores (back-channel logout included) and route tests, if chosen.
OAUTH_STORES = frozenset(
    {
        "contrib/sqlalchemy/linked_accounts.py",
        "contrib/sqlalchemy/logout_tokens.py",
        "contrib/sqlalchemy/oauth_states.py",
        "contrib/sqlalchemy/provider_sessions.py",
    },
)
OAUTH_ROUTES = frozenset(
    {
        "contrib/fastapi/oauth.py",
        "contrib/fastapi/routes/oauth.py",
        "tests/test_fastapi_oauth.py",
        "tests/test_fastapi_oauth_logout.py",
    },
)

# Folders written by the contrib layers: present (non-empty) iff enabled.
STORES = frozenset(
    {
        "contrib/__init__.py",
        "contrib/sqlalchemy/**",
        "tests/test_sqlalchemy_*.py",
    },
)
ROUTERS = frozenset(
    {
        "contrib/fastapi/**",
        "tests/fastapi_app.py",
        "tests/test_fastapi_*.py",
    },
)

# The TypeScript client (``typescript_client``): one package, gated inside.
TS_CLIENT = frozenset(
    {
        "client/package.json",
        "client/tsconfig.json",
        "client/src/errors.ts",
        "client/src/http.ts",
        "client/src/index.ts",
        "client/src/react.ts",
        "client/src/server.ts",
        "client/src/types.ts",
    },
)


def expected_paths(answers: dict[str, Any]) -> set[str]:
    factors = set(answers["factors"])
    has_otp = bool(factors & {"totp", "hotp"})
    paths = set(CORE)
    for factor in factors:
        paths |= {f"factors/{factor}.py", f"tests/test_{factor}.py"}
        paths |= FACTOR_EXTRA.get(factor, frozenset())
    if has_otp:
        paths |= OTP
    if has_otp or "email_otp" in factors:
        paths |= CODES
    if "email_otp" in factors:
        paths |= EMAIL
        paths |= {"email_verification.py", "tests/test_email_verification.py"}
        if "password" in factors:
            paths.add("password_reset.py")
    providers = answers.get("oauth_providers", [])
    if providers:
        paths |= OAUTH
    if has_otp or providers:
        paths |= SECRET_BOX
    for provider in providers:
        module = PROVIDER_MODULE.get(provider, provider)
        paths.add(f"factors/oauth2/{module}.py")
    if answers["sqlalchemy_stores"]:
        paths |= STORES
    if answers["fastapi_routers"]:
        paths |= ROUTERS
    if providers and answers["sqlalchemy_stores"]:
        paths |= OAUTH_STORES
    if providers and answers["fastapi_routers"]:
        paths |= OAUTH_ROUTES
    if answers.get("typescript_client"):
        paths |= TS_CLIENT
    return paths


def rendered_files(root: Path) -> set[str]:
    """Relative paths of the files under ``root`` (POSIX separators)."""
    return {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
    }


def is_runtime_template(path: str) -> bool:
    return any(fnmatchcase(path, p) for p in RUNTIME_TEMPLATES)


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    return fnmatchcase(path, pattern)


def unmatched(
    patterns: Iterable[str],
    files: set[str],
) -> tuple[set[str], set[str]]:
    """(entries that match no file, files that match no entry)."""
    patterns = set(patterns)
    missing = {p for p in patterns if not any(_matches(p, f) for f in files)}
    extra = {f for f in files if not any(_matches(p, f) for p in patterns)}
    return missing, extra
