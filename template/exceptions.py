"""Errors raised by the authentication core.

Every error carries a stable machine-readable ``code``; adapters map codes
to HTTP statuses and never show anything more specific to the client.
"""


class AuthError(Exception):
    """Base class of every authentication error."""

    code = "auth_error"
    message = "Authentication failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)

    @property
    def detail(self) -> str:
        return str(self)


class ConfigError(AuthError):
    """The settings are missing or unsafe."""

    code = "config_error"
    message = "Invalid authentication settings."


class InvalidCredentials(AuthError):
    """Unknown account or wrong secret; deliberately does not say which."""

    code = "invalid_credentials"
    message = "Invalid email or password."


class InvalidEmail(AuthError):
    """The email address is malformed or not a single mailbox."""

    code = "invalid_email"
    message = "Enter a single valid email address."


class WeakPassword(AuthError):
    """The new password does not meet the password policy."""

    code = "weak_password"
    message = "Choose a different password."


class AuthenticationSessionInvalid(AuthError):
    """The pre-login session is unknown, expired or already used."""

    code = "authentication_session_invalid"
    message = "The sign-in attempt expired; start again."


class FactorNotAvailable(AuthError):
    """The factor is not a valid next step for this sign-in."""

    code = "factor_not_available"
    message = "This step is not available for this sign-in."


class IdentityMismatch(AuthError):
    """A factor proved a different identity than the sign-in started with."""

    code = "identity_mismatch"
    message = "This step belongs to another account."


class AuthenticationIncomplete(AuthError):
    """A required factor is still missing."""

    code = "authentication_incomplete"
    message = "Another sign-in step is required."


class SessionInvalid(AuthError):
    """No valid session: unknown, revoked or expired."""

    code = "not_authenticated"
    message = "Sign in to continue."


class SessionNotFound(AuthError):
    """The session to revoke does not exist for this identity."""

    code = "session_not_found"
    message = "No such session."
