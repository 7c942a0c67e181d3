"""How the stores use the app's engine."""

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Dialect, Select, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeEngine

# How long a SQLite writer waits for the lock. Logins hash passwords on
# the same cores, so under load a write can wait seconds: 5 s (SQLite's
# usual choice) turned a burst of logins into "database is locked" 500s.
SQLITE_BUSY_TIMEOUT_MS = 15_000


def prepare(engine: AsyncEngine) -> AsyncEngine:
    """The app's engine, with SQLite set up for concurrent requests.

    SQLite gets write-ahead logging (readers run beside a writer), a busy
    timeout (a writer waits for the lock instead of failing with "database
    is locked") and enforced foreign keys, on every new connection. Other
    databases are left as they are. Calling this twice changes nothing.
    """
    if engine.dialect.name == "sqlite" and not event.contains(
        engine.sync_engine,
        "connect",
        _tune_sqlite,
    ):
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def for_reads(engine: AsyncEngine) -> AsyncEngine:
    """The engine to run single SELECT statements on.

    A lone SELECT needs no transaction. On PostgreSQL, autocommit saves the
    BEGIN and ROLLBACK round trips around it, a third of the time of a
    session check. SQLite's driver pays more to switch modes than it saves,
    so SQLite keeps the engine as it is. Both share the engine's pool.
    """
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class DriverSelect:
    """A one-row SELECT, compiled once and sent in one driver call.

    SQLAlchemy runs a statement in steps (cursor, execute, fetch, close);
    aiosqlite runs each step as a hop to its connection's thread, and the
    hops cost more than the query. This sends the compiled SQL in one call
    (aiosqlite's ``execute_fetchall``, asyncpg's ``fetchrow``) on a pooled
    connection, with no transaction, and converts the row with the
    columns' own types, so values come back as a Core query returns them.
    Other drivers, and engines whose SQL is logged or traced (``echo``,
    cursor-execute listeners), get the Core statement instead.
    """

    def __init__(self, engine: AsyncEngine, statement: Select[Any]) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._reader = for_reads(engine)
        self._statement = statement
        self._driver = dialect.driver
        self._sql = compiled.string
        self._binds = [
            (name, _bind_processor(dialect, compiled.binds[name].type))
            for name in compiled.positiontup or ()
        ]
        self._columns = [
            (key, _result_processor(dialect, column.type))
            for key, column in statement.selected_columns.items()
        ]

    async def first(self, **params: object) -> Mapping[str, Any] | None:
        """The first row for ``params`` by column key, or ``None``."""
        if self._driver not in _FETCH_ONE or _observed(self._engine):
            async with self._reader.connect() as connection:
                result = await connection.execute(self._statement, params)
                row = result.first()
            return None if row is None else row._asdict()
        values = [
            params[name] if process is None else process(params[name])
            for name, process in self._binds
        ]
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                row = await _FETCH_ONE[self._driver](
                    raw.driver_connection,
                    self._sql,
                    values,
                )
            except Exception as error:
                # The pool cannot tell what a raw driver error left behind.
                await connection.invalidate(error)
                raise
        if row is None:
            return None
        return {
            key: value if process is None else process(value)
            for (key, process), value in zip(self._columns, row, strict=True)
        }


def _bind_processor(
    dialect: Dialect,
    type_: TypeEngine[Any],
) -> Callable[[Any], Any] | None:
    """How SQLAlchemy converts a ``type_`` parameter for the driver."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(
    dialect: Dialect,
    type_: TypeEngine[Any],
) -> Callable[[Any], Any] | None:
    """How SQLAlchemy converts a ``type_`` value from the driver."""
    return type_.dialect_impl(dialect).result_processor(dialect, None)


async def _aiosqlite_fetch_one(
    connection: Any,  # noqa: ANN401
    sql: str,
    values: list[Any],
) -> Any:  # noqa: ANN401
    rows = await connection.execute_fetchall(sql, values)
    return rows[0] if rows else None


async def _asyncpg_fetch_one(
    connection: Any,  # noqa: ANN401
    sql: str,
    values: list[Any],
) -> Any:  # noqa: ANN401
    return await connection.fetchrow(sql, *values)


_FETCH_ONE = {
    "aiosqlite": _aiosqlite_fetch_one,
    "asyncpg": _asyncpg_fetch_one,
}


def _observed(engine: AsyncEngine) -> bool:
    """Whether the engine logs or traces the SQL it sends."""
    sync = engine.sync_engine
    return bool(
        sync.echo
        or sync.dispatch.before_cursor_execute
        or sync.dispatch.after_cursor_execute,
    )


def _tune_sqlite(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
