"""How the stores use the app's engine."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

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


def _tune_sqlite(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
