"""Cross-site request forgery: unsafe requests must come from this site.

Browsers say where a request comes from: ``Sec-Fetch-Site`` (every
current browser) and ``Origin`` (on every POST, PUT, PATCH and DELETE).
The check follows Go's ``http.CrossOriginProtection``:

1. GET, HEAD and OPTIONS pass: they never change anything.
2. ``Sec-Fetch-Site: same-origin`` passes, and so does ``none`` (the
   user typed the address or used a bookmark: no other site involved).
3. Otherwise an ``Origin`` header must be the site's own origin (from
   ``AUTH_BASE_URL``) or one of ``AUTH_TRUSTED_ORIGINS`` (a front end on
   another origin); ``null`` and any other origin are refused.
4. ``Sec-Fetch-Site`` saying ``same-site`` or ``cross-site`` without a
   trusted ``Origin`` is refused: a sibling subdomain is another site.
5. Neither header: not a browser, or a very old one. Such a request
   passes only when it carries none of this package's cookies, so a
   command-line client can sign in, while a cookie it holds is refused
   unless it sends ``Origin`` like a browser.

A refused request is 403 ``csrf_rejected`` before the route runs.
"""

from collections.abc import Iterable

from fastapi import Request, status

from ...config import origin_of
from .errors import http_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})
EXEMPT_ROUTES = frozenset(
    {"oauth_form_post_callback", "oauth_backchannel_logout"},
)
"""Route names the check skips: two that are cross-site by design.

Apple posts the sign-in result from its own site; that route is
protected by its one-time state, bound to the browser by the transaction
cookie, instead. An OpenID provider posts back-channel logout tokens from
its servers; that route acts only on a signed, single-use logout token.
"""


class OriginCheck:
    """The CSRF check, as a FastAPI dependency (``Depends(check)``).

    The auth router runs it on every route; put
    ``dependencies=[Depends(auth.require_same_origin)]`` on the app's own
    routes that change state and rely on the session cookie.
    """

    def __init__(
        self,
        *,
        origin: str,
        trusted_origins: Iterable[str],
        cookie_names: Iterable[str],
    ) -> None:
        self.origins = frozenset(
            {origin_of(origin), *(origin_of(o) for o in trusted_origins)},
        )
        self.cookie_names = tuple(cookie_names)

    def allows(self, request: Request) -> bool:
        """Whether the request may go on (see the module docstring)."""
        if request.method in SAFE_METHODS:
            return True
        site = request.headers.get("sec-fetch-site")
        if site in SAME_ORIGIN_SITES:
            return True
        origin = request.headers.get("origin")
        if origin is not None:
            return origin.lower() in self.origins
        if site is not None:
            return False
        return not any(name in request.cookies for name in self.cookie_names)

    async def __call__(self, request: Request) -> None:
        """403 ``csrf_rejected`` unless :meth:`allows` the request."""
        route = request.scope.get("route")
        if getattr(route, "name", None) in EXEMPT_ROUTES:
            return
        if not self.allows(request):
            raise http_error(
                status.HTTP_403_FORBIDDEN,
                "csrf_rejected",
                "This request must come from this site.",
            )
