"""End to end: the example app, with a freshly rendered package, over HTTP.

The template is rendered with ``examples/app/answers.yml`` (every feature)
into a temporary copy of ``examples/app``; uvicorn serves it on a free
loopback port with SQLite and the tests talk to it with httpx, as a
browser would.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    serve,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_example(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def server(example_dir: Path) -> Iterator[str]:
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'test.db'}",
    )
    with serve(example_dir, env, port=port) as url:
        yield url


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
