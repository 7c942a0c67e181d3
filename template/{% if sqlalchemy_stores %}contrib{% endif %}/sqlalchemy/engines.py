"""How the stores use the app's engine."""

from sqlalchemy.ext.asyncio import AsyncEngine


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
