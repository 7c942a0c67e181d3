"""Insert-or-update: the one statement whose syntax differs by database."""

from typing import Any

from sqlalchemy import ColumnElement, Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite

type Insert = postgresql.Insert | sqlite.Insert


def dialect_insert(dialect: Dialect, table: Table) -> Insert:
    """An INSERT that can take ``on_conflict_do_update``."""
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect.name}")


def upsert(
    dialect: Dialect,
    table: Table,
    values: dict[str, Any],
    *,
    where: ColumnElement[bool] | None = None,
) -> Insert:
    """Insert a row, or update the one with the same primary key.

    With ``where``, an existing row is updated only if it matches; add
    ``.returning(...)`` to learn whether anything was written. One
    statement either way, so concurrent callers cannot both insert.
    """
    key = [column.name for column in table.primary_key]
    statement = dialect_insert(dialect, table).values(values)
    changes = {
        name: statement.excluded[name] for name in values if name not in key
    }
    return statement.on_conflict_do_update(
        index_elements=key,
        set_=changes,
        where=where,
    )
