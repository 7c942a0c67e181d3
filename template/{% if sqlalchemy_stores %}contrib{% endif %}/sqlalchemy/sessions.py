"""Post-login sessions in the ``auth_sessions`` table.

Validating a session is one SELECT on the unique token-hash index, run
with SQLAlchemy Core on a pooled connection: no ORM session, no identity
map, no second query. The SELECT joins the user's row by primary key, so
a session of a deactivated user (``is_active`` false, however it was
set) stops working on its next request.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ...identity import IdentityId
from ...session import Session, SessionStore
from .engines import DriverSelect, for_reads, prepare
from .tables import IP_ADDRESS_LENGTH, USER_AGENT_LENGTH, sessions, users

_COLUMNS = (
    sessions.c.id,
    sessions.c.identity_id,
    sessions.c.created_at,
    sessions.c.last_seen_at,
    sessions.c.auth_time,
    sessions.c.amr,
    sessions.c.ip_address,
    sessions.c.user_agent,
)
_BY_TOKEN_HASH = (
    select(*_COLUMNS)
    .join(users, users.c.id == sessions.c.identity_id)
    .where(
        sessions.c.token_hash == bindparam("token_hash"),
        users.c.is_active.is_(True),
    )
)


class SQLAlchemySessionStore(SessionStore):
    """:class:`SessionStore` over the ``auth_sessions`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = prepare(engine)
        self._reader = for_reads(engine)
        self._by_token_hash = DriverSelect(engine, _BY_TOKEN_HASH)

    async def create(self, session: Session, token_hash: str) -> None:
        statement = insert(sessions).values(
            id=session.id,
            token_hash=token_hash,
            identity_id=session.identity_id,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            auth_time=session.auth_time,
            amr=session.amr,
            ip_address=_clip(session.ip_address, IP_ADDRESS_LENGTH),
            user_agent=_clip(session.user_agent, USER_AGENT_LENGTH),
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        row = await self._by_token_hash.first(token_hash=token_hash)
        return None if row is None else _session(row)

    async def touch(self, session_id: str, seen_at: datetime) -> None:
        """Move ``last_seen_at`` forward, never back."""
        statement = (
            update(sessions)
            .where(
                sessions.c.id == session_id,
                sessions.c.last_seen_at < seen_at,
            )
            .values(last_seen_at=seen_at)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def reauthenticate(
        self,
        session_id: str,
        auth_time: datetime,
        amr: tuple[str, ...],
    ) -> bool:
        statement = (
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(auth_time=auth_time, amr=amr)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def list_for_identity(
        self,
        identity_id: IdentityId,
    ) -> list[Session]:
        statement = (
            select(*_COLUMNS)
            .where(sessions.c.identity_id == identity_id)
            .order_by(sessions.c.created_at.desc(), sessions.c.id)
        )
        async with self._reader.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_session(row) for row in rows]

    async def delete(self, session_id: str, identity_id: IdentityId) -> bool:
        statement = delete(sessions).where(
            sessions.c.id == session_id,
            sessions.c.identity_id == identity_id,
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def delete_for_identity(
        self,
        identity_id: IdentityId,
        *,
        keep: str | None = None,
    ) -> int:
        statement = delete(sessions).where(
            sessions.c.identity_id == identity_id,
        )
        if keep is not None:
            statement = statement.where(sessions.c.id != keep)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def _session(row: RowMapping | Mapping[str, Any]) -> Session:
    return Session(
        id=row["id"],
        identity_id=row["identity_id"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        auth_time=row["auth_time"],
        amr=row["amr"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
    )
