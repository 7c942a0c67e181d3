"""Dependencies that give routes the current session."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, status
from fastapi.security import APIKeyCookie

from ...exceptions import SessionInvalid
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
