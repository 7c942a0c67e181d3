"""Throttle counters in the ``auth_throttle`` table.

A hit is one INSERT ... ON CONFLICT DO UPDATE that either starts a
window or adds one to the current one, and returns the result. The
database serialises it on the row, so concurrent hits on one key (from
any worker or host) each see a different count and none is lost.
"""

from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...throttle import ThrottleStore, Window
from .engines import prepare
from .tables import throttle as table
from .upserts import dialect_insert


class SQLAlchemyThrottleStore(ThrottleStore):
    """:class:`ThrottleStore` over its own table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = prepare(engine)

    async def hit(
        self,
        key_hash: str,
        now: datetime,
        window: timedelta,
    ) -> Window:
        insert = dialect_insert(self._engine.dialect, table).values(
            key_hash=key_hash,
            hits=1,
            window_started_at=now,
            window_ends_at=now + window,
        )
        new = insert.excluded
        ended = table.c.window_ends_at <= new.window_started_at
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key_hash],
            set_={
                "hits": case((ended, 1), else_=table.c.hits + 1),
                "window_started_at": case(
                    (ended, new.window_started_at),
                    else_=table.c.window_started_at,
                ),
                "window_ends_at": case(
                    (ended, new.window_ends_at),
                    else_=table.c.window_ends_at,
                ),
            },
        ).returning(
            table.c.hits,
            table.c.window_started_at,
            table.c.window_ends_at,
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).mappings().one()
        return Window(
            count=row["hits"],
            started_at=row["window_started_at"],
            ends_at=row["window_ends_at"],
        )

    async def take_back(self, key_hash: str, started_at: datetime) -> None:
        statement = (
            update(table)
            .where(
                table.c.key_hash == key_hash,
                table.c.window_started_at == started_at,
                table.c.hits > 0,
            )
            .values(hits=table.c.hits - 1)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def reset(self, key_hash: str) -> None:
        statement = delete(table).where(table.c.key_hash == key_hash)
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def purge(self, now: datetime) -> int:
        statement = delete(table).where(table.c.window_ends_at <= now)
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount
