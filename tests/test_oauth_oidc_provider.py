"""End to end: OAuth sign-in against a real OpenID provider.

A package rendered with the generic OpenID provider and Google signs in
against npm ``oidc-provider`` (tests/oidc_provider, ``npm ci`` there
first), with the login and consent pages driven over HTTP, on SQLite and
PostgreSQL. The Google-shaped configuration is Google's provider class
pointed at the local issuer. Then the cases a real provider makes
meaningful: key rotation between logins, discovery issuer mismatch, the
RFC 9207 ``iss`` parameter, replayed state, a callback finished in
another browser, step-up through the provider (``prompt=login``,
``max_age=0``, ``auth_time``), and Back-Channel Logout: ending the session
at the provider ends the app's session signed in through it, also one
made only after a TOTP code (the app is served by uvicorn for the
provider to post the logout token to).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pyotp
import pytest
from joserfc.jwk import RSAKey

from tests.conftest import render

pytestmark = pytest.mark.anyio

OP_DIR = Path(__file__).parent / "oidc_provider"
PACKAGE = "e2e_oauth"
BASE_URL = "http://127.0.0.1:8000"
SAME_ORIGIN = {"Origin": BASE_URL}
CLIENT_ID = "aegistry-e2e"
CLIENT_SECRET = "aegistry-e2e-secret-0123456789"  # noqa: S105
SECRET_KEY = "end-to-end-secret-key-with-at-least-32-bytes"  # noqa: S105


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signing_key(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(
        2048,
        parameters={"kid": kid, "use": "sig", "alg": "RS256"},
    )
    return key.as_dict(private=True)


class OpenIDProvider:
    """``node op.mjs`` on a free port; restartable with other keys."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        # Where the app listens for back-channel logout tokens.
        self.rp_port = _free_port()
        self._config = tmp / "op.json"
        self._process: subprocess.Popen[str] | None = None

    def start(self, keys: list[dict[str, Any]]) -> None:
        self.stop()
        redirect_uris = [
            f"{BASE_URL}/auth/oauth/{name}/callback"
            for name in ("oidc", "google")
        ]
        self._config.write_text(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "port": self.port,
                    "clients": [
                        {
                            "client_id": CLIENT_ID,
                            "client_secret": CLIENT_SECRET,
                            "redirect_uris": redirect_uris,
                            "grant_types": ["authorization_code"],
                            "response_types": ["code"],
                            "backchannel_logout_uri": (
                                f"http://127.0.0.1:{self.rp_port}"
                                "/auth/oauth/oidc/backchannel-logout"
                            ),
                            "backchannel_logout_session_required": True,
                        },
                    ],
                    "jwks": {"keys": keys},
                },
            ),
        )
        node = shutil.which("node")
        assert node, "node is required for the OpenID provider tests"
        assert (OP_DIR / "node_modules").is_dir(), (
            "run `npm ci` in tests/oidc_provider first"
        )
        self._process = subprocess.Popen(
            [node, "op.mjs", str(self._config)],
            cwd=OP_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        assert "listening" in line, f"the provider did not start: {line!r}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture(scope="module")
def package(
    tmp_path_factory: pytest.TempPathFactory,
    template_src: Path,
) -> Iterator[ModuleType]:
    """The rendered package, imported (tables register once per process)."""
    base = tmp_path_factory.mktemp("e2e")
    render(
        template_src,
        base / PACKAGE,
        {
            "package_name": PACKAGE,
            "oauth_providers": ["google", "oidc"],
            "factors": ["password", "totp"],
        },
    )
    sys.path.insert(0, str(base))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(base))


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIDProvider]:
    provider = OpenIDProvider(tmp_path_factory.mktemp("op"))
    provider.start([signing_key("key-1")])
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    package: ModuleType,
) -> AsyncIterator[Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    create_all = importlib.import_module(
        f"{PACKAGE}.contrib.sqlalchemy",
    ).create_all
    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/a.db")
        await create_all(engine)
        yield engine
        await engine.dispose()
        return
    url = request.getfixturevalue("postgres")
    schema = f"e2e_{tmp_path.name[-8:].replace('-', '_')}_{id(request)}"
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        url,
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        await create_all(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


class App:
    """The rendered package's ``Auth`` mounted in a FastAPI app."""

    def __init__(
        self,
        package: ModuleType,
        engine: Any,
        op: OpenIDProvider,
        *,
        oidc_issuer: str | None = None,
    ) -> None:
        from fastapi import FastAPI

        def sub(name: str) -> ModuleType:
            return importlib.import_module(f"{PACKAGE}.{name}")

        settings_module = sub("factors.oauth2.settings")
        self.clock = sub("clock").ManualClock(datetime.now(UTC))
        client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        oauth_settings = settings_module.OAuthSettings(
            oidc=settings_module.OpenIDSettings(
                issuer=oidc_issuer or op.issuer,
                **client,
            ),
        )
        self.http = httpx.AsyncClient()
        self.auth = sub("contrib.fastapi").Auth(
            engine=engine,
            settings=sub("config").Settings(
                secret_key=SECRET_KEY,
                base_url=BASE_URL,
            ),
            clock=self.clock,
            oauth_settings=oauth_settings,
            http_client=self.http,
        )
        # The Google-shaped configuration, at the local issuer.
        google = sub("factors.oauth2.google").GoogleProvider(
            sub("factors.oauth2.oidc").OpenIDClient(**client),
            self.http,
            self.clock,
            issuer=op.issuer,
        )
        self.auth.oauth.providers["google"] = google
        self.app = FastAPI()
        self.app.include_router(self.auth.router, prefix="/auth")

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=BASE_URL,
        )


@contextlib.asynccontextmanager
async def app_for(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
    **kwargs: Any,
) -> AsyncIterator[App]:
    app = App(package, engine, op, **kwargs)
    try:
        yield app
    finally:
        await app.http.aclose()


async def log_in_at_provider(
    url: str,
    login: str,
    browser: httpx.AsyncClient | None = None,
) -> dict[str, str]:
    """Drive the provider's login and consent pages; the callback query.

    ``browser`` keeps the provider's session cookies (a new one if none).
    """
    async with contextlib.AsyncExitStack() as stack:
        if browser is None:
            browser = await stack.enter_async_context(httpx.AsyncClient())
        for _ in range(12):
            response = await browser.get(url)
            if response.status_code == 200 and "/interaction/" in url:
                prompt = (
                    "login" if 'name="login"' in response.text else ("consent")
                )
                form = {"prompt": prompt}
                if prompt == "login":
                    form |= {"login": login, "password": "any"}
                response = await browser.post(
                    urljoin(url, urlsplit(url).path),
                    data=form,
                )
            assert response.status_code in {302, 303}, response.text
            url = urljoin(url, response.headers["location"])
            if url.startswith(BASE_URL):
                query = parse_qs(urlsplit(url).query)
                return {key: values[0] for key, values in query.items()}
    raise AssertionError("the provider never redirected back")


async def sign_in(
    app: App,
    browser: httpx.AsyncClient,
    provider: str = "oidc",
    login: str = "alice",
    at_op: httpx.AsyncClient | None = None,
    **params: str,
) -> tuple[httpx.Response, dict[str, str]]:
    """A round trip through the provider: authorize, log in, callback.

    ``at_op`` is the browser's side at the provider (a new one if none).
    """
    start = await browser.get(
        f"/auth/oauth/{provider}/authorize",
        params={"return_to": "/home", **params},
    )
    assert start.status_code == 303, start.text
    callback = await log_in_at_provider(
        start.headers["location"],
        login,
        at_op,
    )
    response = await browser.get(
        f"/auth/oauth/{provider}/callback",
        params=callback,
    )
    return response, callback


@pytest.mark.parametrize("provider", ["oidc", "google"])
async def test_sign_in_against_a_real_provider(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
    provider: str,
) -> None:
    async with app_for(package, engine, op) as app, app.browser() as browser:
        response, callback = await sign_in(app, browser, provider)
        assert callback["iss"] == op.issuer
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/home"
        session = await browser.get("/auth/session")
        assert session.status_code == 200
        assert session.json()["amr"] == ["fed"]
        accounts = (await browser.get("/auth/oauth/accounts")).json()
        assert accounts[0]["provider"] == provider
        assert accounts[0]["subject"] == "alice"
        # The email came from UserInfo (not in the ID token by default).
        assert accounts[0]["email"] == "alice@example.com"
        identity = await app.auth.identities.get_by_email("alice@example.com")
        assert identity is not None


async def test_replayed_state_and_other_browser_are_refused(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
) -> None:
    async with app_for(package, engine, op) as app, app.browser() as browser:
        response, callback = await sign_in(app, browser)
        assert response.status_code == 303
        replay = await browser.get(
            "/auth/oauth/oidc/callback",
            params=callback,
        )
        assert replay.status_code == 400
        assert replay.json()["detail"]["code"] == "oauth_state_invalid"
        start = await browser.get("/auth/oauth/oidc/authorize")
        callback = await log_in_at_provider(start.headers["location"], "bob")
        async with app.browser() as other:
            stolen = await other.get(
                "/auth/oauth/oidc/callback",
                params=callback,
            )
        assert stolen.status_code == 400
        assert stolen.json()["detail"]["code"] == "oauth_state_invalid"


async def test_rfc_9207_issuer_mismatch_is_refused(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
) -> None:
    async with app_for(package, engine, op) as app, app.browser() as browser:
        start = await browser.get("/auth/oauth/oidc/authorize")
        callback = await log_in_at_provider(start.headers["location"], "eve")
        callback["iss"] = op.issuer + ".evil.example"
        response = await browser.get(
            "/auth/oauth/oidc/callback",
            params=callback,
        )
        assert response.status_code == 400
        assert response.json()["detail"]["code"] == "oauth_issuer_mismatch"


async def test_discovery_issuer_mismatch_is_refused(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
) -> None:
    async with (
        app_for(package, engine, op, oidc_issuer=op.issuer + "/") as app,
        app.browser() as browser,
    ):
        response = await browser.get("/auth/oauth/oidc/authorize")
        assert response.status_code == 502
        code = response.json()["detail"]["code"]
        assert code == "oauth_provider_unavailable"


async def test_signing_key_rotation_between_logins(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
) -> None:
    async with app_for(package, engine, op) as app, app.browser() as browser:
        response, _ = await sign_in(app, browser)
        assert response.status_code == 303
        fetches = app.auth.oauth.providers["oidc"].keys.fetches
        op.start([signing_key("key-2")])
        try:
            app.clock.advance(timedelta(minutes=2))
            response, _ = await sign_in(app, browser, login="alice")
            assert response.status_code == 303, response.text
            keys = app.auth.oauth.providers["oidc"].keys
            assert keys.fetches == fetches + 1
        finally:
            op.start([signing_key("key-1")])


@pytest.mark.parametrize("provider", ["oidc", "google"])
async def test_reauthentication_through_a_real_provider(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
    provider: str,
) -> None:
    async with app_for(package, engine, op) as app, app.browser() as browser:
        response, _ = await sign_in(app, browser, provider)
        assert response.status_code == 303, response.text
        before = (await browser.get("/auth/session")).json()
        app.clock.advance(timedelta(seconds=30))
        reauthenticate = {"intent": "reauthenticate"}
        start = await browser.get(
            f"/auth/oauth/{provider}/authorize",
            params=reauthenticate,
        )
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["prompt"] == ["login"]
        assert query["max_age"] == ["0"]
        # The provider asks for the login again and says when it was.
        response, _ = await sign_in(app, browser, provider, **reauthenticate)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/home"
        after = (await browser.get("/auth/session")).json()
        assert after["id"] == before["id"]
        assert after["auth_time"] > before["auth_time"]
        # Another account at the provider cannot step up this session.
        response, _ = await sign_in(
            app,
            browser,
            provider,
            "bob",
            **reauthenticate,
        )
        assert response.status_code == 400
        assert response.json()["detail"]["code"] == "identity_mismatch"


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    """``app`` on a loopback port, in this event loop, for the provider."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def end_session_at_provider(
    op: OpenIDProvider,
    at_op: httpx.AsyncClient,
) -> None:
    """RP-initiated logout at the provider: its page, then "yes"."""
    page = await at_op.get(f"{op.issuer}/session/end")
    assert page.status_code == 200, page.text
    found = re.search(r'name="xsrf" value="([^"]+)"', page.text)
    assert found, page.text
    done = await at_op.post(
        f"{op.issuer}/session/end/confirm",
        data={"xsrf": found.group(1), "logout": "yes"},
    )
    assert done.status_code in {302, 303}, done.text


@pytest.fixture
async def served(
    package: ModuleType,
    engine: Any,
    op: OpenIDProvider,
) -> AsyncIterator[App]:
    """The app, on the port the provider posts logout tokens to."""
    async with (
        app_for(package, engine, op) as app,
        serving(app.app, op.rp_port),
    ):
        yield app


async def test_back_channel_logout_ends_the_session_signed_in_there(
    served: App,
    op: OpenIDProvider,
) -> None:
    app = served
    async with (
        app.browser() as browser,
        app.browser() as other_browser,
        httpx.AsyncClient() as at_op,
        httpx.AsyncClient() as other_at_op,
    ):
        # The same person, signed in twice through two provider sessions.
        for rp, op_browser in ((browser, at_op), (other_browser, other_at_op)):
            response, _ = await sign_in(
                app,
                rp,
                login="carol",
                at_op=op_browser,
            )
            assert response.status_code == 303, response.text
            assert (await rp.get("/auth/session")).status_code == 200
        await end_session_at_provider(op, at_op)
        # The provider posted a logout token naming its session (sid).
        assert (await browser.get("/auth/session")).status_code == 401
        assert (await other_browser.get("/auth/session")).status_code == 200
        identity = await app.auth.identities.get_by_email("carol@example.com")
        events = await app.auth.audit.list(identity.id)
        assert any(
            event.details.get("scope") == "provider_logout" for event in events
        )


async def test_back_channel_logout_after_a_second_factor(
    served: App,
    op: OpenIDProvider,
) -> None:
    app = served
    async with (
        app.browser() as first,
        app.browser() as browser,
        httpx.AsyncClient() as at_op,
    ):
        response, _ = await sign_in(app, first, login="dave")
        assert response.status_code == 303, response.text
        enrolled = await first.post("/auth/totp/enroll", headers=SAME_ORIGIN)
        assert enrolled.status_code == 200, enrolled.text
        totp = pyotp.TOTP(enrolled.json()["secret"])
        confirmed = await first.post(
            "/auth/totp/confirm",
            json={"code": totp.at(app.clock.now())},
            headers=SAME_ORIGIN,
        )
        assert confirmed.status_code == 204, confirmed.text
        # Another browser: the provider, then the TOTP step.
        response, _ = await sign_in(app, browser, login="dave", at_op=at_op)
        assert response.status_code == 303, response.text
        assert (await browser.get("/auth/session")).status_code == 401
        app.clock.advance(timedelta(seconds=30))
        done = await browser.post(
            "/auth/totp/verify",
            json={"code": totp.at(app.clock.now())},
            headers=SAME_ORIGIN,
        )
        assert done.status_code == 200, done.text
        await end_session_at_provider(op, at_op)
        # The provider's logout token named that session (sid).
        assert (await browser.get("/auth/session")).status_code == 401
        assert (await first.get("/auth/session")).status_code == 200
