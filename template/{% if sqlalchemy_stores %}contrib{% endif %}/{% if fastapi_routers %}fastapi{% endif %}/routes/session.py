"""The current session and signing out."""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ....session import Session
from ..errors import AuthRoute, error_responses
from ..schemas import SessionInfo

if TYPE_CHECKING:
    from ..auth import Auth


def session_routes(auth: "Auth") -> APIRouter:
    """``GET /session`` and ``POST /logout``."""
    router = APIRouter(route_class=AuthRoute)

    @router.get(
        "/session",
        responses=error_responses(status.HTTP_401_UNAUTHORIZED),
    )
    async def current_session(
        session: Annotated[Session, Depends(auth.require_session)],
    ) -> SessionInfo:
        """The signed-in session: who, how, since and until when."""
        return SessionInfo.of(session, auth.sessions.expires_at(session))

    @router.post(
        "/logout",
        status_code=status.HTTP_204_NO_CONTENT,
        response_model=None,
    )
    async def logout(request: Request, response: Response) -> None:
        """Sign out: delete the session on the server and clear its cookie.

        A sign-in in progress is dropped too. Without a live session this
        still succeeds, so it is safe to repeat. The response carries
        `Clear-Site-Data` with `AUTH_LOGOUT_CLEAR_SITE_DATA` (by default
        the browser's cache and storage of this origin).
        """
        cookies = auth.cookies
        token = request.cookies.get(cookies.session)
        if token:
            await auth.end_session(token)
        pending = request.cookies.get(cookies.authentication)
        if pending:
            await auth.authentication.abandon(pending)
        cookies.clear(response, cookies.session)
        cookies.clear(response, cookies.authentication)
        kinds = auth.settings.logout_clear_site_data
        if kinds:
            response.headers["Clear-Site-Data"] = ", ".join(
                f'"{kind}"' for kind in kinds
            )

    return router
