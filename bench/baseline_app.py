"""The example app plus a reference route for the benchmark.

``GET /bench/orm-me`` checks the same session cookie the way most FastAPI
projects do: one ORM query through a SQLModel ``AsyncSession``. The design
targets (design.md section 5) are stated relative to this path, and to
fastapi-users' database strategy (``fastapi_users_app.py``, mounted when
fastapi-users is installed). The benchmark copies these modules next to a
rendered copy of ``examples/app``.
"""

from datetime import UTC, datetime
from importlib.util import find_spec
from typing import Any

from app.auth.config import Settings
from app.auth.contrib.sqlalchemy.tables import SessionRecord
from app.auth.crypto import TokenHasher
from app.main import app, engine
from fastapi import HTTPException, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["app"]

settings = Settings.from_env()
hasher = TokenHasher.from_secret(settings.secret_key)

if find_spec("fastapi_users"):  # bench/run.py --fastapi-users
    from fastapi_users_app import mount

    mount(app, engine)


@app.get("/bench/orm-me")
async def orm_me(request: Request) -> dict[str, Any]:
    """One ORM lookup by token hash, expiry checked in Python."""
    token = next(
        (v for v in request.cookies.values() if v.startswith("sess_")),
        None,
    )
    if token is None:
        raise HTTPException(401)
    async with AsyncSession(engine) as db:
        result = await db.exec(
            select(SessionRecord).where(
                SessionRecord.token_hash == hasher.hash(token),
            ),
        )
        record = result.first()
    now = datetime.now(UTC)
    if record is None or now >= min(
        record.last_seen_at + settings.session_idle_timeout,
        record.created_at + settings.session_absolute_timeout,
    ):
        raise HTTPException(401)
    return {
        "identity_id": record.identity_id,
        "session_id": record.id,
        "amr": list(record.amr),
        "auth_time": record.auth_time,
    }
