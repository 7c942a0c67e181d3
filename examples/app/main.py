"""Example app: one router for authentication, one protected route.

The ``auth`` package next to this module is rendered by Aegistry
(``scripts/demo`` does it); everything here is what an app writes itself.
Settings come from ``AUTH_*`` environment variables, the database from
``DATABASE_URL`` (SQLite next to this example by default).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import create_async_engine

from .auth.config import Settings
from .auth.contrib.fastapi import Auth
from .auth.contrib.fastapi.errors import error_responses
from .auth.contrib.sqlalchemy import create_all
from .auth.identity import IdentityId
from .auth.session import Session

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{HERE.parent / 'demo.db'}"
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
INDEX_HTML = (HERE / "templates" / "index.html").read_text(encoding="utf-8")
STATIC = HERE / "static"

# A fixed-size pool: SQLAlchemy closes overflow connections as soon as
# they are returned, and reopening them under load (TLS, SCRAM) costs more
# than the queries. Size it for the concurrency one worker should serve.
engine = create_async_engine(DATABASE_URL, pool_size=20, max_overflow=0)
auth = Auth(engine=engine, settings=Settings.from_env())


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Create the tables on startup (use migrations in a real project)."""
    await create_all(engine)
    yield
    await engine.dispose()


app = FastAPI(title="Aegistry example", lifespan=lifespan)
app.include_router(auth.router, prefix="/auth")
if STATIC.is_dir():
    # A front end built next to the app (the TypeScript client's page).
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


class Health(BaseModel):
    status: str


class Me(BaseModel):
    """What the protected route knows about the caller."""

    identity_id: IdentityId
    session_id: str
    amr: list[str]
    auth_time: datetime


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    """The demo page: sign up, sign in, see the session, sign out."""
    return HTMLResponse(INDEX_HTML, headers={"Cache-Control": "no-store"})


# The pages emailed links open (AUTH_PASSWORD_RESET_PATH and friends): the
# demo page reads the token from the URL fragment, which never reaches a
# server log, and finishes the step.
for path in ("/reset-password", "/verify-email", "/confirm-email-change"):
    app.add_api_route(
        path,
        index,
        response_class=HTMLResponse,
        include_in_schema=False,
    )


@app.get("/health")
async def health() -> Health:
    """Liveness probe; needs no session."""
    return Health(status="ok")


@app.get("/me", responses=error_responses(401))
async def me(
    session: Annotated[Session, Depends(auth.require_session)],
) -> Me:
    """A route only signed-in callers reach."""
    return Me(
        identity_id=session.identity_id,
        session_id=session.id,
        amr=list(session.amr),
        auth_time=session.auth_time,
    )
