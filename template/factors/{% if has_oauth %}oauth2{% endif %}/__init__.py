"""Sign-in with OAuth 2.0 and OpenID Connect providers.

``base`` runs the authorization code flow (PKCE, state, nonce, browser
binding, mix-up defence), ``oidc`` validates ID tokens, each provider
module knows one provider's quirks, and ``accounts`` maps a provider's
account to an identity of this app.
"""
