"""The demo page, driven in Chromium: every flow it offers, end to end.

The example app (every feature, SQLite, console email) runs on uvicorn
with the development OpenID provider of ``DEMO_OIDC=1 scripts/demo``
(``scripts/demo-oidc.py``). The page's own buttons and forms do the work:
sign up, set up an authenticator app from the QR code, make backup codes
(shown once), sign in with two factors, sign in by emailed code, sign in
with the provider, and confirm the password before a sensitive change.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import TIMEOUT_MS, artifacts
from tests.example_server import (
    ROOT,
    app_environment,
    free_port,
    render_example,
    serve,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)
STEP_UP_SECONDS = 3


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_example(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def openid_provider(app_port: int) -> Iterator[dict[str, str]]:
    """scripts/demo-oidc.py: the provider and the variables it prints."""
    assert (ROOT / "tests" / "oidc_provider" / "node_modules").is_dir(), (
        "run `npm ci` in tests/oidc_provider first"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo-oidc.py"),
            f"http://127.0.0.1:{app_port}",
            str(free_port()),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    variables: dict[str, str] = {}
    for line in process.stdout:
        if line.strip() == "ready":
            break
        name, _, value = line.removeprefix("export ").strip().partition("=")
        variables[name] = value.strip("'")
    assert "AUTH_OAUTH_OIDC_ISSUER" in variables, "the provider did not start"
    try:
        yield variables
    finally:
        process.stdin.close()
        process.wait(15)


@pytest.fixture(scope="module")
def app(
    example_dir: Path,
    app_port: int,
    openid_provider: dict[str, str],
) -> Iterator[str]:
    env = app_environment(
        f"http://127.0.0.1:{app_port}",
        f"sqlite+aiosqlite:///{example_dir / 'demo.db'}",
    )
    with serve(example_dir, env | openid_provider, port=app_port) as url:
        yield url


@pytest.fixture(scope="module")
def impatient_app(example_dir: Path) -> Iterator[str]:
    """The app with a step-up age of a few seconds."""
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'impatient.db'}",
    )
    env["AUTH_REAUTHENTICATION_MAX_AGE"] = str(STEP_UP_SECONDS)
    with serve(example_dir, env, port=port, log_name="impatient.log") as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def email() -> str:
    return f"demo-{time.monotonic_ns()}@example.com"


def fill(page: Page, form: str, **values: str) -> None:
    """Fill ``form#<form>`` and submit it with its button."""
    locator = page.locator(f"form#{form}")
    for name, value in values.items():
        locator.locator(f'[name="{name}"]').fill(value)
    locator.locator('button[type="submit"]').click()


def sign_up(page: Page, url: str) -> str:
    """A new account through the page; it signs in right after."""
    address = email()
    page.goto(url)
    fill(page, "register", email=address, password=PASSWORD)
    expect(page.locator("#signed-in")).to_be_visible()
    return address


def sign_out(page: Page) -> None:
    page.locator("#logout").click()
    expect(page.locator("form#login")).to_be_visible()


def amr(page: Page) -> set[str]:
    expect(page.locator("#signed-in")).to_be_visible()
    return set(page.locator("#amr").inner_text().split(", "))


def test_authenticator_backup_codes_and_two_factor_sign_in(
    page: Page,
    app: str,
) -> None:
    address = sign_up(page, app)

    page.locator("#totp-enroll").click()
    expect(page.locator("form#totp-confirm")).to_be_visible()
    qr = page.locator("#totp-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("document.getElementById('totp-qr').complete")
    assert qr.evaluate("image => image.naturalWidth") > 0  # a real image
    page.screenshot(path=artifacts() / "demo-totp-qr.png", full_page=True)
    authenticator = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    fill(page, "totp-confirm", code=authenticator.now())
    expect(page.locator("#status")).to_contain_text("Authenticator app on")

    page.locator("#backup-generate").click()
    expect(page.locator("#backup-new")).to_be_visible()
    codes = page.locator("#backup-codes").inner_text().split()
    assert len(codes) == 10
    assert all(re.fullmatch(r"[2-9a-z]{5}-[2-9a-z]{5}", c) for c in codes)
    expect(page.locator("#backup-remaining")).to_have_text("10")
    page.screenshot(path=artifacts() / "demo-security.png", full_page=True)

    page.reload()  # shown once: not on the page any more
    expect(page.locator("#backup-remaining")).to_have_text("10")
    expect(page.locator("#backup-new")).to_be_hidden()
    assert page.locator("#backup-codes").inner_text() == ""

    sign_out(page)
    fill(page, "login", email=address, password=PASSWORD)
    expect(page.locator("#mfa")).to_be_visible()
    options = page.locator("#mfa-factor option")
    assert options.evaluate_all("os => os.map(o => o.value)") == [
        "totp",
        "backup_codes",
    ]
    page.locator("#mfa-factor").select_option("backup_codes")
    fill(page, "mfa-verify", code=codes[0])
    assert amr(page) == {"backup_code", "mfa", "pwd"}
    expect(page.locator("#backup-remaining")).to_have_text("9")

    sign_out(page)
    fill(page, "login", email=address, password=PASSWORD)
    page.locator("#mfa-factor").select_option("totp")
    # The confirming code's time step is spent: the next one is accepted.
    fill(page, "mfa-verify", code=authenticator.at(time.time() + 30))
    assert amr(page) == {"mfa", "otp", "pwd"}


def last_email(example_dir: Path, to: str, subject: str = "") -> str:
    """The newest console email to ``to`` whose subject has ``subject``."""
    deadline = time.monotonic() + 10
    while True:  # links are sent after the response, in the background
        log = (example_dir / "uvicorn.log").read_text(errors="replace")
        messages = [
            text
            for recipient, subject_line, text in console_emails(log)
            if recipient == to and subject in subject_line
        ]
        if messages:
            return messages[-1]
        assert time.monotonic() < deadline, f"no email to {to}: {subject}"
        time.sleep(0.1)


def console_emails(log: str) -> list[tuple[str, str, str]]:
    """(recipient, subject, whole message) of each printed email.

    The console sender prints ``--- email from A to B``, a ``Subject:``
    line, the body and ``---``; server log lines fall between messages and
    are left out.
    """
    emails = []
    for chunk in log.split("--- email from ")[1:]:
        message = chunk.split("\n---", 1)[0]
        header, _, rest = message.partition("\n")
        subject = rest.partition("\n")[0].removeprefix("Subject: ")
        emails.append((header.rpartition(" to ")[2], subject, message))
    return emails


def link_in(message: str, path: str) -> str:
    link = re.search(rf"http://\S+{path}#token=\S+", message)
    assert link is not None, message
    return link.group(0)


def test_sign_in_with_an_emailed_code(
    page: Page,
    app: str,
    example_dir: Path,
) -> None:
    address = email()
    page.goto(app)
    fill(page, "email-code-request", email=address)
    expect(page.locator("form#email-code-verify")).to_be_visible()
    message = last_email(example_dir, address)
    code = re.search(r"\b(\d{6})\b", message)
    assert code is not None, message

    fill(page, "email-code-verify", code=code.group(1))

    assert amr(page) == {"email"}


def test_sign_in_with_the_openid_provider(page: Page, app: str) -> None:
    page.goto(app)
    button = page.get_by_role("link", name="Sign in with oidc")
    expect(button).to_be_visible()
    button.click()

    # oidc-provider's development login and consent pages.
    page.locator('input[name="login"]').fill("alice")
    page.locator('input[name="password"]').fill("any")
    page.locator('button[type="submit"]').click()
    page.locator('button[type="submit"]').click()

    page.wait_for_url(f"{app}/")
    assert amr(page) == {"fed"}


def test_a_sensitive_change_asks_for_the_password_first(
    page: Page,
    impatient_app: str,
) -> None:
    sign_up(page, impatient_app)
    time.sleep(STEP_UP_SECONDS + 1)

    page.locator("#revoke-others").click()

    expect(page.locator("form#reauthenticate")).to_be_visible()
    fill(page, "reauthenticate", password=PASSWORD)
    expect(page.locator("#status")).to_have_text("Other devices signed out.")
    expect(page.locator("form#reauthenticate")).to_be_hidden()


def test_password_reset_by_emailed_link(
    page: Page,
    app: str,
    example_dir: Path,
) -> None:
    address = sign_up(page, app)
    sign_out(page)

    fill(page, "reset-request", email=address)
    expect(page.locator("#status")).to_contain_text("reset link")
    page.goto(
        link_in(last_email(example_dir, address, "Reset"), "/reset-password")
    )
    fill(page, "reset-password", new_password=PASSWORD + " again")
    expect(page.locator("#status")).to_contain_text("Password changed")
    assert page.url == f"{app}/"  # the token left the address bar

    fill(page, "login", email=address, password=PASSWORD + " again")
    assert amr(page) == {"pwd"}


def test_verify_and_change_the_email_address(
    page: Page,
    app: str,
    example_dir: Path,
) -> None:
    address = sign_up(page, app)
    # A new password account is sent a verification link.
    page.goto(
        link_in(last_email(example_dir, address, "Verify"), "/verify-email")
    )
    expect(page.locator("#status")).to_have_text("Email address verified.")

    new_address = email()
    fill(page, "email-change", new_email=new_address)
    expect(page.locator("#status")).to_contain_text("Open the link")
    page.goto(
        link_in(last_email(example_dir, new_address), "/confirm-email-change")
    )
    expect(page.locator("#status")).to_have_text("Email address changed.")
    notice = last_email(example_dir, address, "was changed")
    assert f"changed to d***@{new_address.split('@')[1]}" in notice

    sign_out(page)
    fill(page, "login", email=new_address, password=PASSWORD)
    assert amr(page) == {"pwd"}
