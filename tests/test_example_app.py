"""End to end: the example app, with a freshly rendered package, over HTTP.

The template is rendered with its default answers into a temporary copy of
``examples/app``; uvicorn serves it on a free loopback port with SQLite and
the tests talk to it with httpx, as a browser would.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import copier
import httpx
import pytest
from copier.errors import DirtyLocalWarning

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "app"
PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("example")
    shutil.copytree(
        EXAMPLE,
        base / "app",
        ignore=shutil.ignore_patterns("auth", "__pycache__"),
    )
    with warnings.catch_warnings():
        # Rendering HEAD includes uncommitted template edits, on purpose.
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(ROOT),
            base / "app" / "auth",
            defaults=True,
            quiet=True,
            vcs_ref="HEAD" if (ROOT / ".git").exists() else None,
        )
    return base


@pytest.fixture(scope="module")
def server(example_dir: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env |= {
        "AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "AUTH_ENVIRONMENT": "development",
        "AUTH_BASE_URL": url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{example_dir / 'test.db'}",
    }
    log_path = example_dir / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=example_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(
                    "uvicorn exited:\n" + log_path.read_text(errors="replace"),
                )
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "uvicorn did not answer within 30 s:\n"
                    + log_path.read_text(errors="replace"),
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    # Browsers send Origin on every POST; the CSRF check expects it.
    with httpx.Client(base_url=server, headers={"Origin": server}) as c:
        yield c


def _email() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


def test_index_serves_the_demo_page(client: httpx.Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<form id="register"' in page
    assert '<form id="login"' in page
    assert 'autocomplete="new-password"' in page
    assert 'autocomplete="current-password"' in page
    assert 'credentials: "same-origin"' in page
    assert "onpaste" not in page


def test_health_needs_no_session(client: httpx.Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_me_without_a_session_is_401(client: httpx.Client) -> None:
    response = client.get("/me")

    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "not_authenticated"


def test_register_login_me_logout(client: httpx.Client) -> None:
    email = _email()
    credentials = {"email": email, "password": PASSWORD}

    registered = client.post("/auth/register", json=credentials)
    assert registered.status_code == 202
    assert registered.json() == {"status": "accepted"}
    assert client.get("/me").status_code == 401  # registering is no login

    again = client.post("/auth/register", json=credentials)
    assert again.status_code == 202
    assert again.json() == registered.json()  # no account enumeration

    login = client.post("/auth/login", json=credentials)
    assert login.status_code == 200
    body = login.json()
    assert body["status"] == "signed_in"
    session = body["session"]
    assert session["amr"] == ["pwd"]
    assert client.cookies  # the session cookie
    stolen = dict(client.cookies.items())

    me = client.get("/me")
    assert me.status_code == 200
    assert me.json()["identity_id"] == session["identity_id"]
    assert me.json()["session_id"] == session["id"]
    assert me.json()["amr"] == ["pwd"]

    current = client.get("/auth/session")
    assert current.status_code == 200
    assert str(session["identity_id"]) in current.text

    assert client.post("/auth/logout").status_code == 204
    after = client.get("/me")
    assert after.status_code == 401
    assert after.json()["detail"]["code"] == "not_authenticated"

    # The old cookie is dead at once: revocation is not cached.
    with httpx.Client(base_url=str(client.base_url), cookies=stolen) as old:
        assert old.get("/me").status_code == 401


def test_wrong_password_is_refused_without_a_session(
    client: httpx.Client,
) -> None:
    email = _email()
    client.post("/auth/register", json={"email": email, "password": PASSWORD})

    response = client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD + "!"},
    )

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]["code"] == "invalid_credentials"
    assert client.get("/me").status_code == 401
