"""fastapi-users' database strategy on the same engine, for comparison.

design.md section 5 sets the generated session check at >= 3x the
throughput of fastapi-users' database strategy (``CookieTransport`` +
``DatabaseStrategy``: an access-token query, then a user query, each
through an ORM ``AsyncSession``). fastapi-users is not a dependency of
the project: ``bench/run.py --fastapi-users`` runs under
``uv run --with 'fastapi-users[sqlalchemy]'``, and this module is only
imported then.

``POST /bench/fastapi-users/setup`` creates its two tables, one user and
one access token, and answers the cookie; ``GET /bench/fastapi-users/me``
is the protected route, ``current_user(active=True)``.
"""

import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, IntegerIDMixin
from fastapi_users.authentication import (
    AuthenticationBackend,
    CookieTransport,
)
from fastapi_users.authentication.strategy.db import DatabaseStrategy
from fastapi_users_db_sqlalchemy import (
    SQLAlchemyBaseUserTable,
    SQLAlchemyUserDatabase,
)
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTable,
)
from sqlalchemy import ForeignKey, Integer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
)

COOKIE = "fastapiusersauth"


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTable[int], Base):
    __tablename__ = "fu_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class AccessToken(SQLAlchemyBaseAccessTokenTable[int], Base):
    __tablename__ = "fu_accesstoken"

    @declared_attr
    def user_id(cls) -> Mapped[int]:
        return mapped_column(
            Integer,
            ForeignKey("fu_user.id", ondelete="cascade"),
            nullable=False,
        )


class UserManager(IntegerIDMixin, BaseUserManager[User, int]):
    reset_password_token_secret = secrets.token_urlsafe(32)
    verification_token_secret = secrets.token_urlsafe(32)


def mount(app: FastAPI, engine: AsyncEngine) -> None:
    """Add the setup and protected routes under ``/bench/fastapi-users``."""

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session

    async def get_user_db(
        session: Annotated[AsyncSession, Depends(get_session)],
    ) -> AsyncIterator[SQLAlchemyUserDatabase[User, int]]:
        yield SQLAlchemyUserDatabase(session, User)

    async def get_token_db(
        session: Annotated[AsyncSession, Depends(get_session)],
    ) -> AsyncIterator[SQLAlchemyAccessTokenDatabase[AccessToken]]:
        yield SQLAlchemyAccessTokenDatabase(session, AccessToken)

    async def get_user_manager(
        user_db: Annotated[
            SQLAlchemyUserDatabase[User, int],
            Depends(get_user_db),
        ],
    ) -> AsyncIterator[UserManager]:
        yield UserManager(user_db)

    def get_strategy(
        token_db: Annotated[
            SQLAlchemyAccessTokenDatabase[AccessToken],
            Depends(get_token_db),
        ],
    ) -> DatabaseStrategy[User, int, AccessToken]:
        return DatabaseStrategy(token_db, lifetime_seconds=7 * 24 * 3600)

    backend = AuthenticationBackend(
        name="cookie-db",
        transport=CookieTransport(cookie_max_age=7 * 24 * 3600),
        get_strategy=get_strategy,
    )
    users = FastAPIUsers[User, int](get_user_manager, [backend])
    current_user = users.current_user(active=True)
    router = APIRouter(prefix="/bench/fastapi-users")

    @router.post("/setup")
    async def setup() -> dict[str, str]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        token = secrets.token_urlsafe(32)
        async with AsyncSession(engine) as session:
            user = User(
                email=f"fu-{secrets.token_hex(4)}@example.com",
                hashed_password="unused",  # noqa: S106 (signs in by token)
                is_active=True,
            )
            session.add(user)
            await session.flush()
            session.add(AccessToken(token=token, user_id=user.id))
            await session.commit()
        return {"cookie": f"{COOKIE}={token}"}

    @router.get("/me")
    async def me(
        user: Annotated[User, Depends(current_user)],
    ) -> dict[str, Any]:
        return {"id": user.id, "email": user.email}

    app.include_router(router)
