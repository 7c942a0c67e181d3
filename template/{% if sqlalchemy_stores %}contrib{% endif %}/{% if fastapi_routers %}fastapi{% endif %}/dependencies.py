"""Dependencies that give routes the current session."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, status
from fastapi.security import APIKeyCookie

from ...exceptions import ReauthenticationRequired, SessionInvalid
from ...session import Session, SessionService
from .errors import http_error

type OptionalSession = Callable[..., Awaitable[Session | None]]
type RequiredSession = Callable[..., Awaitable[Session]]


def session_dependencies(
    sessions: SessionService,
    cookie_name: str,
) -> tuple[RequiredSession, OptionalSession]:
    """``require_session`` and ``optional_session`` for one cookie name.

    Both read the session cookie (declared as an OpenAPI security scheme)
    and validate it against the store on every request, so a revoked
    session is refused at once. FastAPI runs them once per request even
    when a route depends on both.
    """
    cookie = APIKeyCookie(
        name=cookie_name,
        scheme_name="session",
        description="The session cookie set by sign-in.",
        auto_error=False,
    )

    async def optional_session(
        token: Annotated[str | None, Depends(cookie)],
    ) -> Session | None:
        """The signed-in session, or ``None``."""
        if not token:
            return None
        try:
            return await sessions.validate(token)
        except SessionInvalid:
            return None

    async def require_session(
        session: Annotated[Session | None, Depends(optional_session)],
    ) -> Session:
        """The signed-in session; 401 ``not_authenticated`` without one."""
        if session is None:
            error = SessionInvalid()
            raise http_error(
                status.HTTP_401_UNAUTHORIZED,
                error.code,
                error.detail,
            )
        return session

    return require_session, optional_session


def recent_session_dependency(
    sessions: SessionService,
    require_session: RequiredSession,
    max_age: timedelta,
) -> RequiredSession:
    """``require_recent_session``: a session whose sign-in is recent.

    For sensitive actions (changing credentials, factors or sessions).
    """

    async def require_recent_session(
        session: Annotated[Session, Depends(require_session)],
    ) -> Session:
        """The session if its last sign-in is at most ``max_age`` old.

        Otherwise 403 ``reauth_required``: confirm a factor again (``POST
        /reauthenticate``, or a provider's ``authorize`` route with
        ``intent=reauthenticate``), then retry.
        """
        try:
            sessions.require_recent(session, max_age)
        except ReauthenticationRequired as error:
            raise http_error(
                status.HTTP_403_FORBIDDEN,
                error.code,
                error.detail,
            ) from None
        return session

    return require_recent_session
