"""The account's own security events."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel

from ....audit import AuditEventType, DetailValue
from ....session import Session
from ..errors import AuthRoute, error_responses

if TYPE_CHECKING:
    from ..auth import Auth

MAX_EVENTS = 100


class AuditEventInfo(BaseModel):
    """One security event of the account."""

    id: str
    type: AuditEventType
    occurred_at: datetime
    ip: str | None
    user_agent: str | None
    details: dict[str, DetailValue]


def audit_routes(auth: "Auth") -> APIRouter:
    """``GET /audit``."""
    router = APIRouter(route_class=AuthRoute)

    @router.get(
        "/audit",
        responses=error_responses(
            status.HTTP_401_UNAUTHORIZED,
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        ),
    )
    async def audit_events(
        session: Annotated[Session, Depends(auth.require_session)],
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 50,
    ) -> list[AuditEventInfo]:
        """The account's latest security events, newest first.

        Sign-ins (and failed ones), new devices, changed passwords and
        factors, re-authentications and revoked sessions.
        """
        events = await auth.audit.list(session.identity_id, limit)
        return [
            AuditEventInfo(
                id=event.id,
                type=event.type,
                occurred_at=event.occurred_at,
                ip=event.ip,
                user_agent=event.user_agent,
                details=event.details,
            )
            for event in events
        ]

    return router
