"""Sign-ins in progress, in the ``auth_authentication_sessions`` table.

Every change is a compare-and-set on ``revision`` and deleting is a single
DELETE, so of two concurrent steps on one sign-in exactly one wins.
"""

from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...authentication_session import (
    AuthenticationSession,
    AuthenticationSessionStore,
)
from .engines import for_reads, prepare
from .tables import authentication_sessions as table


class SQLAlchemyAuthenticationSessionStore(AuthenticationSessionStore):
    """:class:`AuthenticationSessionStore` over its own table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = prepare(engine)
        self._reader = for_reads(engine)

    async def create(self, flow: AuthenticationSession) -> None:
        statement = insert(table).values(
            token_hash=flow.token_hash,
            **_values(flow),
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def get(self, token_hash: str) -> AuthenticationSession | None:
        statement = select(table).where(table.c.token_hash == token_hash)
        async with self._reader.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        return None if row is None else _flow(row)

    async def update(
        self,
        flow: AuthenticationSession,
        *,
        expected_revision: int,
    ) -> bool:
        statement = (
            update(table)
            .where(
                table.c.token_hash == flow.token_hash,
                table.c.revision == expected_revision,
            )
            .values(**_values(flow))
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1

    async def delete(self, token_hash: str) -> bool:
        statement = delete(table).where(table.c.token_hash == token_hash)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount == 1


def _values(flow: AuthenticationSession) -> dict[str, Any]:
    return {
        "identity_id": flow.identity_id,
        "completed": flow.completed,
        "amr": flow.amr,
        "created_at": flow.created_at,
        "expires_at": flow.expires_at,
        "revision": flow.revision,
    }


def _flow(row: RowMapping) -> AuthenticationSession:
    return AuthenticationSession(
        token_hash=row["token_hash"],
        identity_id=row["identity_id"],
        completed=row["completed"],
        amr=row["amr"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revision=row["revision"],
    )
