"""The account's sessions: list them, sign some or all of them out."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from ....audit import AuditEventType
from ....session import Session
from ..errors import AuthRoute, error_responses

if TYPE_CHECKING:
    from ..auth import Auth


class DeviceSession(BaseModel):
    """One of the account's sessions, as its list shows it; no token."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class Revoked(BaseModel):
    """How many sessions were signed out."""

    revoked: int


def sessions_routes(auth: "Auth") -> APIRouter:
    """``GET /sessions``, ``DELETE /sessions/{id}`` and two revoke-alls."""
    router = APIRouter(route_class=AuthRoute)
    recent_errors = error_responses(
        status.HTTP_401_UNAUTHORIZED,
        status.HTTP_403_FORBIDDEN,
    )

    @router.get(
        "/sessions",
        responses=error_responses(status.HTTP_401_UNAUTHORIZED),
    )
    async def list_sessions(
        session: Annotated[Session, Depends(auth.require_session)],
    ) -> list[DeviceSession]:
        """The account's live sessions, newest first; `current` is this one."""
        return [
            DeviceSession(
                id=item.id,
                created_at=item.created_at,
                last_seen_at=item.last_seen_at,
                ip=item.ip_address,
                user_agent=item.user_agent,
                current=item.id == session.id,
            )
            for item in await auth.sessions.list(session.identity_id)
        ]

    @router.delete(
        "/sessions/{session_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_model=None,
        responses=error_responses(
            status.HTTP_401_UNAUTHORIZED,
            status.HTTP_403_FORBIDDEN,
            status.HTTP_404_NOT_FOUND,
        ),
    )
    async def revoke_session(
        session_id: str,
        session: Annotated[Session, Depends(auth.require_recent_session)],
        request: Request,
        response: Response,
    ) -> None:
        """Sign one of the account's sessions out (this one included).

        Another account's session, or an unknown id, is 404
        `session_not_found`. Needs a recent sign-in.
        """
        await auth.sessions.revoke(session.identity_id, session_id)
        await auth.record(
            AuditEventType.SESSION_REVOKED,
            request,
            session.identity_id,
            {"scope": "one", "current": session_id == session.id},
        )
        if session_id == session.id:
            auth.cookies.clear(response, auth.cookies.session)

    @router.post("/sessions/revoke-others", responses=recent_errors)
    async def revoke_other_sessions(
        session: Annotated[Session, Depends(auth.require_recent_session)],
        request: Request,
    ) -> Revoked:
        """Sign every other session of the account out; this one stays.

        Needs a recent sign-in.
        """
        revoked = await auth.sessions.revoke_others(session)
        await auth.record(
            AuditEventType.SESSION_REVOKED,
            request,
            session.identity_id,
            {"scope": "others", "count": revoked},
        )
        return Revoked(revoked=revoked)

    @router.post("/sessions/revoke-all", responses=recent_errors)
    async def revoke_all_sessions(
        session: Annotated[Session, Depends(auth.require_recent_session)],
        request: Request,
        response: Response,
    ) -> Revoked:
        """Sign every session of the account out, this one included.

        The session cookie is cleared. Needs a recent sign-in.
        """
        revoked = await auth.sessions.revoke_all(session.identity_id)
        await auth.record(
            AuditEventType.SESSION_REVOKED,
            request,
            session.identity_id,
            {"scope": "all", "count": revoked},
        )
        auth.cookies.clear(response, auth.cookies.session)
        return Revoked(revoked=revoked)

    return router
