"""Throttling holds across two app processes sharing one PostgreSQL.

Two uvicorn processes serve the example app (every feature) from the same
database with the same settings, as two replicas behind a load balancer
would; failed sign-ins alternate between them. The counts live in the
database, so the sign-in limits of ``ThrottlePolicy`` (10 consecutive
failures per account and address, 100 failures per address, per 15
minutes) hold for the pair as they do for one process. Each check comes
from its own client address, sent in ``X-Forwarded-For`` (both apps trust
127.0.0.1 as their proxy), so the checks never share address counts.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    scratch_database,
    serve,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)
PER_ACCOUNT_IP = 10  # sign_in:account+ip: consecutive failures, 15 min
PER_IP = 100  # sign_in:ip: failures, 15 min
WINDOW_SECONDS = 15 * 60


@pytest.fixture(scope="module")
def apps(
    tmp_path_factory: pytest.TempPathFactory,
    postgres: str,
) -> Iterator[list[str]]:
    """The URLs of two app processes on one database."""
    example_dir = render_example(tmp_path_factory.mktemp("throttle"))
    ports = [free_port(), free_port()]
    with scratch_database(postgres) as database_url:
        shared = app_environment(f"http://127.0.0.1:{ports[0]}", database_url)
        shared |= {
            "AUTH_TRUSTED_PROXIES": "127.0.0.1",
            # The cheapest hashing allowed: the test counts attempts.
            "AUTH_ARGON2_MEMORY_COST": "7168",
            "AUTH_ARGON2_TIME_COST": "1",
        }
        with contextlib.ExitStack() as stack:
            # One after the other: the first creates the tables.
            urls = [
                stack.enter_context(
                    serve(
                        example_dir,
                        {
                            **shared,
                            "AUTH_BASE_URL": f"http://127.0.0.1:{port}",
                        },
                        port=port,
                        log_name=f"uvicorn-{port}.log",
                    ),
                )
                for port in ports
            ]
            yield urls


@pytest.fixture
def clients(apps: list[str]) -> Iterator[list[httpx.Client]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(
                httpx.Client(base_url=url, headers={"Origin": url}),
            )
            for url in apps
        ]


_ADDRESSES = (f"203.0.113.{n}" for n in range(1, 255))  # TEST-NET-3


def _address() -> str:
    """A client address no other sign-in of this module used."""
    return next(_ADDRESSES)


def _email() -> str:
    return f"throttle-{secrets.token_hex(4)}@example.com"


def _sign_in(
    client: httpx.Client,
    email: str,
    password: str,
    address: str,
) -> httpx.Response:
    return client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["detail"]["code"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= WINDOW_SECONDS


def check_account_and_address_limit(clients: list[httpx.Client]) -> None:
    """10 failures on one account from one address, then 429 on both."""
    email, address = _email(), _address()
    registered = clients[0].post(
        "/auth/register",
        json={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": _address()},
    )
    assert registered.status_code == 202
    alternating = itertools.cycle(clients)

    for _ in range(PER_ACCOUNT_IP):
        wrong = _sign_in(next(alternating), email, "wrong password!", address)
        assert wrong.status_code == 401
        assert wrong.json()["detail"]["code"] == "invalid_credentials"

    for client in clients:  # both processes refuse, even the right one
        _assert_limited(_sign_in(client, email, "wrong password!", address))
        _assert_limited(_sign_in(client, email, PASSWORD, address))
    # The account itself is not locked: from another address it signs in.
    other = _sign_in(clients[1], email, PASSWORD, _address())
    assert other.status_code == 200


def check_address_limit(clients: list[httpx.Client]) -> None:
    """100 failures from one address on any accounts, then 429 on both."""
    address = _address()
    alternating = itertools.cycle(clients)

    for _ in range(PER_IP):  # a new (unknown) account every time
        wrong = _sign_in(next(alternating), _email(), PASSWORD, address)
        assert wrong.status_code == 401

    for client in clients:
        _assert_limited(_sign_in(client, _email(), PASSWORD, address))
    elsewhere = _sign_in(clients[0], _email(), PASSWORD, _address())
    assert elsewhere.status_code == 401


# One test, so that both checks share one pair of processes: under xdist
# two tests of a module may run on two workers, each starting its own.
def test_limits_hold_across_processes(clients: list[httpx.Client]) -> None:
    check_account_and_address_limit(clients)
    check_address_limit(clients)
