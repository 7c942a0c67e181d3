"""Security events in the ``auth_audit_events`` table.

Events of an identity are read newest first through the index on
(identity_id, occurred_at); ``purge`` applies a retention period.
"""

from datetime import datetime

from sqlalchemy import RowMapping, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ...audit import AuditEvent, AuditEventType, AuditLog
from ...identity import IdentityId
from .engines import for_reads, prepare
from .tables import IP_ADDRESS_LENGTH, USER_AGENT_LENGTH
from .tables import audit_events as table


class SQLAlchemyAuditLog(AuditLog):
    """:class:`AuditLog` over its own table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = prepare(engine)
        self._reader = for_reads(engine)

    async def record(self, event: AuditEvent) -> None:
        statement = insert(table).values(
            id=event.id,
            event_type=event.type.value,
            identity_id=event.identity_id,
            occurred_at=event.occurred_at,
            ip_address=_clip(event.ip, IP_ADDRESS_LENGTH),
            user_agent=_clip(event.user_agent, USER_AGENT_LENGTH),
            device=event.device,
            details=event.details,
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def list_for_identity(
        self,
        identity_id: IdentityId,
        limit: int,
    ) -> list[AuditEvent]:
        statement = (
            select(table)
            .where(table.c.identity_id == identity_id)
            .order_by(table.c.occurred_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        async with self._reader.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_event(row) for row in rows]

    async def known_devices(self, identity_id: IdentityId) -> frozenset[str]:
        statement = (
            select(table.c.device)
            .where(
                table.c.identity_id == identity_id,
                table.c.event_type == AuditEventType.SIGN_IN_SUCCEEDED.value,
                table.c.device.is_not(None),
            )
            .distinct()
        )
        async with self._reader.connect() as connection:
            devices = (await connection.execute(statement)).scalars().all()
        return frozenset(devices)

    async def purge(self, before: datetime) -> int:
        statement = delete(table).where(table.c.occurred_at < before)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        type=AuditEventType(row["event_type"]),
        identity_id=row["identity_id"],
        occurred_at=row["occurred_at"],
        ip=row["ip_address"],
        user_agent=row["user_agent"],
        device=row["device"],
        details=dict(row["details"]),
    )
