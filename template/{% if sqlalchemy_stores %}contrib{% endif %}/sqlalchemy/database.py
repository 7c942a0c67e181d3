"""The schema: metadata for migrations, ``create_all`` for a quick start.

``metadata`` is SQLModel's shared metadata, so it holds this package's
tables next to the app's own SQLModel tables. Point Alembic at it in
``migrations/env.py`` and ``alembic revision --autogenerate`` picks the
tables up (use your package's import path)::

    from app.auth.contrib.sqlalchemy import metadata

    target_metadata = metadata

If the app keeps its own ``MetaData``, pass both:
``target_metadata = [app_metadata, metadata]``. Generated migrations
name this package's column types (``UTCDateTime``, ``SpaceSeparated``)
and SQLModel's ``AutoString``: add ``import sqlmodel`` and an import of
``.types`` to ``script.py.mako``.
"""

from sqlalchemy.ext.asyncio import AsyncEngine

from .engines import prepare
from .tables import metadata

__all__ = ["create_all", "metadata"]


async def create_all(engine: AsyncEngine) -> None:
    """Create the tables and indexes that do not exist yet.

    Handy for tests and prototypes; production schemas belong to
    migrations.
    """
    async with prepare(engine).begin() as connection:
        await connection.run_sync(metadata.create_all)
