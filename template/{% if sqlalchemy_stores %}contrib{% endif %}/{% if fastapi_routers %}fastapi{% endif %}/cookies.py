"""The session and pre-login cookies.

Both are HttpOnly and SameSite=Lax with ``Path=/`` and no ``Domain``; on
https sites they are Secure and carry the ``__Host-`` prefix, which makes
the browser enforce all of that. Lifetimes are sent as ``Max-Age`` in
seconds from now, so a client's wrong clock cannot stretch them.
"""

from datetime import timedelta

from fastapi import Response

SECURE_PREFIX = "__Host-"


class Cookies:
    """Names and attributes of the cookies this package sets."""

    def __init__(self, *, secure: bool) -> None:
        prefix = SECURE_PREFIX if secure else ""
        self.secure = secure
        self.session = f"{prefix}session"
        self.authentication = f"{prefix}authn"

    def set(
        self,
        response: Response,
        name: str,
        value: str,
        *,
        max_age: timedelta,
    ) -> None:
        """Set a cookie that lives ``max_age`` from now."""
        seconds = max(0, int(max_age.total_seconds()))
        self._write(response, name, value, seconds)

    def clear(self, response: Response, name: str) -> None:
        """Tell the browser to drop a cookie at once."""
        self._write(response, name, "", 0)

    def _write(
        self,
        response: Response,
        name: str,
        value: str,
        max_age: int,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
