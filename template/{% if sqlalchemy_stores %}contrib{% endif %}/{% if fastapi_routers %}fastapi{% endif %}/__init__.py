"""FastAPI routes, cookies and dependencies over the SQLAlchemy stores.

Wiring an app takes a few lines::

    auth = Auth(engine=engine, settings=Settings.from_env())
    app.include_router(auth.router, prefix="/auth")

    @app.get("/me")
    async def me(
        session: Annotated[Session, Depends(auth.require_session)],
    ) -> ...: ...
"""

from .auth import Auth

__all__ = ["Auth"]
