"""Fuzzing: schemathesis against the example app's OpenAPI schema.

The example app (every feature, ``examples/app/answers.yml``) runs on
uvicorn with SQLite; schemathesis generates valid and invalid requests
for every operation of its ``/openapi.json``, once anonymously and once
with a session cookie, and checks that nothing answers 5xx and that the
responses (status, content type, body) match the schema. Requests carry
``Origin: <the app>`` like a browser's, so the CSRF check lets them reach
the routes. A traceback in uvicorn's log fails the run too.

The number of examples per operation is small so the module fits CI on
two cores (about a minute per identity); raise ``AEGISTRY_FUZZ_EXAMPLES``
for a longer local run.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    serve,
)

PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)
MAX_EXAMPLES = int(os.environ.get("AEGISTRY_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ACCOUNT_ADDRESS = "198.51.100.7"  # TEST-NET-2
# Signed in, these would end the very session the run uses.
SESSION_ENDING = r"^/auth/(logout|sessions/revoke-all)$"


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_example(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def server(example_dir: Path) -> Iterator[str]:
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example_dir / 'fuzz.db'}",
    )
    # Lets the signed-in account come from an address of its own, so the
    # anonymous run's registrations cannot use up its allowance.
    env["AUTH_TRUSTED_PROXIES"] = "127.0.0.1"
    with serve(example_dir, env, port=port, log_name="fuzz.log") as url:
        yield url
    log = (example_dir / "fuzz.log").read_text(errors="replace")
    first = log.find("Traceback")
    assert first == -1, "uvicorn logged an exception:\n" + log[first:][:6000]


@pytest.fixture(scope="module")
def session_cookie(server: str) -> str:
    """A ``Cookie`` header value for a fresh, signed-in account."""
    credentials = {
        "email": f"fuzz-{secrets.token_hex(4)}@example.com",
        "password": PASSWORD,
    }
    headers = {"Origin": server, "X-Forwarded-For": ACCOUNT_ADDRESS}
    with httpx.Client(base_url=server, headers=headers) as c:
        assert c.post("/auth/register", json=credentials).status_code == 202
        assert c.post("/auth/login", json=credentials).status_code == 200
        return f"session={c.cookies['session']}"


@pytest.fixture(scope="module")
def api_schema(server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def fuzz(
    api_schema: schemathesis.BaseSchema,
    subtests: pytest.Subtests,
    headers: dict[str, str],
    skip: str = "$^",
) -> None:
    """Every operation (but ``skip``), valid and invalid inputs."""
    base_url = headers["Origin"]
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if re.search(skip, operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ_SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=base_url,
                    headers=headers,
                    checks=CHECKS,
                    timeout=30,
                )

            with subtests.test(msg=f"{operation.label} {mode.value}"):
                try:
                    run()
                except Unsatisfiable:
                    # Nothing to make invalid: no parameters, no body.
                    assert mode is GenerationMode.NEGATIVE


def test_anonymous(
    api_schema: schemathesis.BaseSchema,
    subtests: pytest.Subtests,
    server: str,
) -> None:
    fuzz(api_schema, subtests, {"Origin": server})


def test_signed_in(
    api_schema: schemathesis.BaseSchema,
    subtests: pytest.Subtests,
    server: str,
    session_cookie: str,
) -> None:
    headers = {"Origin": server, "Cookie": session_cookie}
    fuzz(api_schema, subtests, headers, skip=SESSION_ENDING)
