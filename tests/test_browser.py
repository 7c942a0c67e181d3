"""End to end in a real browser: Debian's Chromium driven by Playwright.

The example app (every feature) runs on uvicorn twice: over plain http on
127.0.0.1 (the documented development exception: no Secure flag) and over
https with a throwaway self-signed certificate (Secure, ``__Host-``). The
tests drive the demo page at ``/`` through its forms (``form#register``,
``form#login`` and their ``email``/``password`` fields only, so the page
may grow) and check what the browser stored.

Chromium is launched by ``tests/browser.py`` (skipped without it, failed
with ``AEGISTRY_REQUIRE_BROWSER=1`` as in CI); screenshots of the
signed-in page go to ``$AEGISTRY_ARTIFACTS`` (default
``tests/artifacts/``).
"""

from __future__ import annotations

import contextlib
import http.server
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser import TIMEOUT_MS, artifacts
from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    self_signed_cert,
    serve,
    serve_tls,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)


def _email() -> str:
    return f"browser-{secrets.token_hex(4)}@example.com"


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_example(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def http_app(example_dir: Path) -> Iterator[str]:
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'http.db'}",
    )
    with serve(example_dir, env, port=port) as url:
        yield url


@pytest.fixture(scope="module")
def https_app(example_dir: Path) -> Iterator[str]:
    port = free_port()
    env = app_environment(
        f"https://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'https.db'}",
    )
    cert = self_signed_cert(example_dir)
    with serve_tls(example_dir, env, port=port, cert=cert) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(ignore_https_errors=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


def _submit(page: Page, form_id: str, email: str, path: str) -> int:
    """Fill ``form#<form_id>`` and submit it; the status of ``path``."""
    form = page.locator(f"form#{form_id}")
    form.wait_for(state="visible")
    form.locator('input[name="email"]').fill(email)
    form.locator('input[name="password"]').fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith(path)) as answer:
        form.evaluate("form => form.requestSubmit()")
    status: int = answer.value.status
    return status


def register(context: BrowserContext, url: str) -> tuple[Page, str]:
    """Create an account on the demo page; the browser keeps no cookie."""
    email = _email()
    page = context.new_page()
    page.goto(url)
    assert _submit(page, "register", email, "/auth/register") == 202
    # The page may sign in by itself after registering: let it finish,
    # then forget that session so the sign-in form is used below.
    page.wait_for_load_state("networkidle")
    context.clear_cookies()
    return page, email


def sign_in(page: Page, url: str, email: str) -> None:
    """Sign in with the demo page's sign-in form."""
    page.goto(url)
    assert _submit(page, "login", email, "/auth/login") == 200
    page.wait_for_load_state("networkidle")
    page.locator("form#login").wait_for(state="hidden")


def register_and_sign_in(context: BrowserContext, url: str) -> Page:
    """A new account, signed in through the demo page."""
    page, email = register(context, url)
    sign_in(page, url, email)
    return page


def _session_cookie(context: BrowserContext, url: str) -> dict[str, Any]:
    found = [
        dict(c) for c in context.cookies(url) if c["name"].endswith("session")
    ]
    assert len(found) == 1, found
    return found[0]


def _me(context: BrowserContext, url: str) -> int:
    status: int = context.request.get(f"{url}/me").status
    return status


def _screenshot(page: Page, name: str) -> None:
    path = artifacts() / name
    page.screenshot(path=path, full_page=True)
    print(f"screenshot of the signed-in page: {path}")


def assert_locked_down(
    context: BrowserContext,
    page: Page,
    url: str,
    *,
    secure: bool,
) -> None:
    """The session cookie: HttpOnly, Lax, host-only, hidden from scripts.

    Secure with the ``__Host-`` prefix over https; over plain http on
    127.0.0.1 (development only) neither, as documented.
    """
    cookie = _session_cookie(context, url)
    assert cookie["name"] == ("__Host-session" if secure else "session")
    assert cookie["secure"] is secure
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1"  # host-only: no Domain
    script_sees = page.evaluate("document.cookie")
    assert "session" not in script_sees
    assert cookie["value"] not in script_sees
    assert _me(context, url) == 200


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_session_cookie_is_locked_down(
    context: BrowserContext,
    request: pytest.FixtureRequest,
    scheme: str,
) -> None:
    url: str = request.getfixturevalue(f"{scheme}_app")
    page = register_and_sign_in(context, url)

    assert_locked_down(context, page, url, secure=scheme == "https")
    _screenshot(page, f"signed-in-{scheme}.png")


class _Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def other_site(html: str) -> Iterator[int]:
    """Serve ``html`` at ``/`` on another loopback port; yield the port."""
    handler = type("Handler", (_Page,), {"body": html.encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# 127.0.0.1 on another port is the same site (the Lax cookie goes along)
# but another origin; localhost is another site altogether.
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize(
    "path",
    ["/auth/logout", "/auth/sessions/revoke-all"],
)
def test_cross_site_form_post_is_refused(
    context: BrowserContext,
    http_app: str,
    host: str,
    path: str,
) -> None:
    register_and_sign_in(context, http_app)
    target = f"{http_app}{path}"
    html = (
        f'<form method="post" action="{target}">'
        '<input type="hidden" name="all" value="1"></form>'
        "<script>document.forms[0].submit()</script>"
    )

    with other_site(html) as port:
        attacker = context.new_page()
        with attacker.expect_response(target) as answer:
            attacker.goto(f"http://{host}:{port}/")
        response = answer.value

    assert response.request.method == "POST"
    assert response.request.headers["origin"] == f"http://{host}:{port}"
    assert response.status == 403
    assert response.json()["detail"]["code"] == "csrf_rejected"
    assert _me(context, http_app) == 200  # the session still works


def _attacker_session(url: str) -> str:
    """A valid session token of another account (the attacker's own)."""
    credentials = {"email": _email(), "password": PASSWORD}
    with httpx.Client(base_url=url, headers={"Origin": url}) as client:
        client.post("/auth/register", json=credentials)
        assert client.post("/auth/login", json=credentials).status_code == 200
        return client.cookies["session"]


SIGN_IN_SCRIPT = """async ([email, password]) => (await fetch("/auth/login", {
  method: "POST",
  headers: {"Content-Type": "application/json"},
  credentials: "same-origin",
  body: JSON.stringify({email, password}),
})).status"""


@pytest.mark.parametrize("planted_kind", ["made_up", "attacker_session"])
def test_planted_session_cookie_is_dead_after_login(
    context: BrowserContext,
    http_app: str,
    planted_kind: str,
) -> None:
    if planted_kind == "made_up":
        planted = secrets.token_urlsafe(32)
    else:
        planted = _attacker_session(http_app)
    page, victim = register(context, http_app)
    context.add_cookies(
        [{"name": "session", "value": planted, "url": http_app}],
    )

    if planted_kind == "made_up":
        sign_in(page, http_app, victim)
    else:
        # The page shows the planted session, so no sign-in form: sign in
        # with the same request the form sends.
        page.goto(http_app)
        status = page.evaluate(SIGN_IN_SCRIPT, [victim, PASSWORD])
        assert status == 200

    assert _session_cookie(context, http_app)["value"] != planted
    assert _me(context, http_app) == 200
    with httpx.Client(base_url=http_app, cookies={"session": planted}) as c:
        me = c.get("/me")
    assert me.status_code == 401
    assert me.json()["detail"]["code"] == "not_authenticated"
