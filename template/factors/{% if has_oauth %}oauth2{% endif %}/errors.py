"""Errors of the OAuth sign-in, each with a stable ``code``."""

from ...exceptions import AuthError


class OAuthStateInvalid(AuthError):
    """The callback matches no sign-in this browser started.

    The state is unknown, expired or already used, belongs to another
    provider, or the browser lacks the cookie that started the flow.
    """

    code = "oauth_state_invalid"
    message = "The sign-in link expired or was used; start again."


class OAuthProviderUnknown(AuthError):
    """No provider of that name is configured."""

    code = "oauth_provider_unknown"
    message = "This sign-in provider is not available."


class OAuthIssuerMismatch(AuthError):
    """The response names another issuer than the flow expected."""

    code = "oauth_issuer_mismatch"
    message = "The response came from an unexpected provider."


class OAuthAuthorizationFailed(AuthError):
    """The provider refused or aborted the authorization."""

    code = "oauth_authorization_failed"
    message = "The provider did not authorize the sign-in."


class OAuthTokenError(AuthError):
    """The token endpoint refused the code (RFC 6749 section 5.2)."""

    code = "oauth_token_error"
    message = "The provider refused the sign-in code."


class OAuthProviderUnavailable(AuthError):
    """The provider could not be reached or answered nonsense."""

    code = "oauth_provider_unavailable"
    message = "The sign-in provider is not responding; try again later."


class OAuthIdTokenInvalid(AuthError):
    """The ID token failed validation (OIDC Core 3.1.3.7)."""

    code = "oauth_id_token_invalid"
    message = "The provider's identity token is not valid."


class OAuthUserInfoInvalid(AuthError):
    """The user info response is malformed or names another subject."""

    code = "oauth_userinfo_invalid"
    message = "The provider's account details are not valid."


class OAuthEmailRequired(AuthError):
    """A new account needs an email address the provider did not give."""

    code = "oauth_email_required"
    message = "The provider did not share a verified email address."


class OAuthAccountExists(AuthError):
    """An account already uses this email and cannot be linked silently.

    Sign in to that account another way, then link the provider.
    """

    code = "oauth_account_exists"
    message = (
        "An account with this email already exists: sign in to it, then "
        "link this provider."
    )


class OAuthAccountLinked(AuthError):
    """The provider account, or this provider, is linked already."""

    code = "oauth_already_linked"
    message = "This provider account is already linked."


class OAuthAccountNotLinked(AuthError):
    """The identity has no account at this provider."""

    code = "oauth_not_linked"
    message = "No account of this provider is linked."


class OAuthLastSignInMethod(AuthError):
    """Unlinking would leave the identity no way to sign in."""

    code = "oauth_last_sign_in_method"
    message = "Add another way to sign in before unlinking this one."


class AccountDisabled(AuthError):
    """The identity behind the provider account is deactivated."""

    code = "account_disabled"
    message = "This account is disabled."


class OAuthReauthenticationUnsupported(AuthError):
    """The provider cannot be made to ask for credentials again.

    GitHub, for one: it has no ``prompt=login`` or ``max_age`` and does
    not say when the person signed in, so a round trip through it proves
    only that the browser holds a GitHub session, however old.
    """

    code = "oauth_reauthentication_unsupported"
    message = "This provider cannot confirm a recent sign-in."


class OAuthReauthenticationStale(AuthError):
    """The provider did not say it asked for credentials just now."""

    code = "oauth_reauthentication_stale"
    message = "The provider did not confirm a fresh sign-in; try again."


class OAuthLogoutTokenInvalid(AuthError):
    """A back-channel logout token failed validation, or was replayed.

    OpenID Connect Back-Channel Logout 1.0, section 2.6.
    """

    code = "oauth_logout_token_invalid"
    message = "The provider's logout token is not valid."
