"""Column types that behave the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import override

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, the same aware UTC datetime out.

    PostgreSQL keeps a ``timestamptz``. SQLite has no time zones, so the
    value is stored in UTC and read back with the UTC zone attached; since
    every stored value is UTC, comparisons in SQL stay correct. Naive
    datetimes are refused instead of guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,
    ) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC)

    @override
    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SpaceSeparated(TypeDecorator[tuple[str, ...]]):
    """A tuple of words (factor ids, AMR values) in one text column.

    Portable where arrays and JSON are not, and readable in a SQL shell.
    """

    impl = String
    cache_ok = True

    @override
    def process_bind_param(
        self,
        value: tuple[str, ...] | None,
        dialect: Dialect,
    ) -> str | None:
        if value is None:
            return None
        if any(word.split() != [word] for word in value):
            raise ValueError(f"not a tuple of single words: {value!r}")
        return " ".join(value)

    @override
    def process_result_value(
        self,
        value: str | None,
        dialect: Dialect,
    ) -> tuple[str, ...] | None:
        return None if value is None else tuple(value.split())
