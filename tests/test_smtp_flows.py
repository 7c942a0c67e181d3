"""Password reset and step-up, end to end, through a real SMTP server.

The example app (every feature) runs on uvicorn with
``AUTH_EMAIL_BACKEND=smtp`` pointed at an aiosmtpd server this module
starts; links and codes are read from the messages it receives, as a user
would read them. ``AUTH_REAUTHENTICATION_MAX_AGE`` is a few seconds, so
a session becomes "not recent" within the test.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import secrets
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    serve,
    smtp_sink,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)
NEW_PASSWORD = "another horse, another battery"  # noqa: S105
REAUTH_MAX_AGE = 3  # seconds
MAIL_TIMEOUT = 15.0


class Mailbox:
    """An aiosmtpd handler keeping every message, by recipient."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[tuple[str, EmailMessage]] = []
        self.used: set[int] = set()
        self.arrived = threading.Condition()

    async def handle_DATA(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
    ) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            for recipient in envelope.rcpt_tos:
                self.messages.append((recipient, message))
            self.arrived.notify_all()
        return "250 OK"

    def find(self, recipient: str, pattern: str) -> re.Match[str]:
        """Wait for a message to ``recipient`` matching ``pattern``.

        Matched against the subject and the plain-text body; a message
        found once is not found again.
        """
        deadline = time.monotonic() + MAIL_TIMEOUT
        with self.arrived:
            while True:
                for index, (to, message) in enumerate(self.messages):
                    if to != recipient or index in self.used:
                        continue
                    body = message.get_body(preferencelist=("plain",))
                    assert body is not None
                    text = f"{message['Subject']}\n{body.get_content()}"
                    found = re.search(pattern, text)
                    if found is not None:
                        self.used.add(index)
                        return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no email to {recipient} matches {pattern}")
                self.arrived.wait(left)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox()
    # aiosmtpd 1.4 cannot bind port 0: pick a free port first.
    handler.port = free_port()
    with smtp_sink(handler, handler.port):
        yield handler


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: Mailbox,
) -> Iterator[str]:
    example_dir = render_example(tmp_path_factory.mktemp("smtp"))
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'smtp.db'}",
    )
    env |= {
        "AUTH_EMAIL_BACKEND": "smtp",
        "AUTH_SMTP_HOST": "127.0.0.1",
        "AUTH_SMTP_PORT": str(mailbox.port),
        "AUTH_SMTP_SECURITY": "none",
        "AUTH_REAUTHENTICATION_MAX_AGE": str(REAUTH_MAX_AGE),
    }
    with serve(example_dir, env, port=port, log_name="smtp.log") as url:
        yield url


def _email() -> str:
    return f"smtp-{secrets.token_hex(4)}@example.com"


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Origin": url})


def _account(url: str) -> str:
    address = _email()
    with _client(url) as client:
        response = client.post(
            "/auth/register",
            json={"email": address, "password": PASSWORD},
        )
    assert response.status_code == 202
    return address


@contextlib.contextmanager
def _signed_in(
    url: str,
    address: str,
    password: str = PASSWORD,
) -> Iterator[httpx.Client]:
    with _client(url) as client:
        response = client.post(
            "/auth/login",
            json={"email": address, "password": password},
        )
        assert response.status_code == 200, response.text
        yield client


def test_password_reset_by_emailed_link_revokes_old_sessions(
    server: str,
    mailbox: Mailbox,
) -> None:
    address = _account(server)
    with (
        _signed_in(server, address) as laptop,
        _signed_in(server, address) as phone,
        _client(server) as anonymous,
    ):
        requested = anonymous.post(
            "/auth/password/reset/request",
            json={"email": address},
        )
        assert requested.status_code == 202
        link = re.escape(f"{server}/reset-password#token=") + r"(\S+)"
        token = mailbox.find(address, link).group(1)

        reset = anonymous.post(
            "/auth/password/reset",
            json={"token": token, "new_password": NEW_PASSWORD},
        )
        assert reset.status_code == 204, reset.text

        for old in (laptop, phone):
            me = old.get("/me")
            assert me.status_code == 401
            assert me.json()["detail"]["code"] == "not_authenticated"
        again = anonymous.post(
            "/auth/password/reset",
            json={"token": token, "new_password": PASSWORD},
        )
        assert again.status_code == 400
        assert again.json()["detail"]["code"] == "invalid_reset_token"
        old_password = anonymous.post(
            "/auth/login",
            json={"email": address, "password": PASSWORD},
        )
        assert old_password.status_code == 401
    with _signed_in(server, address, NEW_PASSWORD) as fresh:
        assert fresh.get("/me").status_code == 200


def _sensitive(client: httpx.Client) -> httpx.Response:
    """An action that needs a recent sign-in."""
    return client.post("/auth/sessions/revoke-others")


def _wait_until_stale(client: httpx.Client) -> None:
    time.sleep(REAUTH_MAX_AGE + 1)
    stale = _sensitive(client)
    assert stale.status_code == 403
    assert stale.json()["detail"]["code"] == "reauth_required"


def test_step_up_with_the_password(server: str) -> None:
    address = _account(server)
    with _signed_in(server, address) as client:
        assert _sensitive(client).status_code == 200
        session = client.cookies["session"]
        _wait_until_stale(client)

        wrong = client.post(
            "/auth/reauthenticate",
            json={"factor": "password", "password": "not the password"},
        )
        assert wrong.status_code == 401
        assert _sensitive(client).status_code == 403

        proved = client.post(
            "/auth/reauthenticate",
            json={"factor": "password", "password": PASSWORD},
        )
        assert proved.status_code == 200, proved.text
        assert proved.json()["amr"] == ["pwd"]
        assert _sensitive(client).status_code == 200
        assert client.cookies["session"] == session  # same session


def test_step_up_with_an_emailed_code(
    server: str,
    mailbox: Mailbox,
) -> None:
    address = _account(server)
    with _signed_in(server, address) as client:
        _wait_until_stale(client)

        sent = client.post("/auth/reauthenticate/email-code")
        assert sent.status_code == 202, sent.text
        code = mailbox.find(address, r"(?i)sign-in code: (\d+)")

        proved = client.post(
            "/auth/reauthenticate",
            json={"factor": "email_otp", "code": code.group(1)},
        )
        assert proved.status_code == 200, proved.text
        assert _sensitive(client).status_code == 200
        reused = client.post(
            "/auth/reauthenticate",
            json={"factor": "email_otp", "code": code.group(1)},
        )
        assert reused.status_code in {400, 401}
