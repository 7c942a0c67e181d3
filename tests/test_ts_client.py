"""The generated TypeScript client (``typescript_client``), end to end.

* ``tsc --noEmit`` (the client's own strict tsconfig) over every matrix row
  that enables the client, in one invocation; prettier (its defaults)
  finds nothing to change, as in code written by hand.
* The hand-written request and response types against the OpenAPI schema
  of the all-features example app: openapi-typescript turns the schema
  into types and ``tests/ts_client/schema_check.ts`` asserts that both
  sides accept exactly the same values (tsc fails otherwise).
* vitest runs ``tests/ts_client/client.test.ts``: the client in Node
  against the example app served by uvicorn, over real HTTP with cookies,
  sending email through a real SMTP server (aiosmtpd).
* Chromium loads a small React page (``tests/ts_client/page``, bundled by
  esbuild into the example app's ``static/``) that uses ``useSession``.

The Node tools are pinned in ``tests/ts_client/package-lock.json``;
``scripts/test`` installs them with ``npm ci``.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.sync_api import expect

from tests.browser import launch
from tests.conftest import Rendered
from tests.example_server import (
    app_environment,
    free_port,
    render_example,
    serve,
    smtp_sink,
)

ROOT = Path(__file__).resolve().parents[1]
TS_DIR = ROOT / "tests" / "ts_client"
NODE_MODULES = TS_DIR / "node_modules"
PACKAGE_NAME = "@app/auth-client"  # client_package_name's default
PASSWORD = "correct horse battery staple"  # noqa: S105 (test account)


def _tool(name: str) -> str:
    path = NODE_MODULES / ".bin" / name
    assert path.exists(), "run `npm ci` in tests/ts_client first"
    return str(path)


def _run(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=None if env is None else os.environ | env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args[:2])} failed:\n{output}")
    return output


def _workspace(path: Path) -> Path:
    """A folder where ``react`` and the type packages resolve (ESM)."""
    path.mkdir(parents=True)
    (path / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    (path / "package.json").write_text('{"type": "module"}\n')
    return path


def _tsc(
    workspace: Path,
    extends: str,
    include: list[str],
    **options: object,
) -> None:
    tsconfig = {
        "extends": extends,
        "include": include,
        "compilerOptions": options,
    }
    (workspace / "tsconfig.json").write_text(json.dumps(tsconfig))
    _run([_tool("tsc"), "-p", "tsconfig.json"], workspace)


def _bundle_page(example: Path) -> None:
    """Build tests/ts_client/page into the example app's static/ folder."""
    build = _workspace(example / "web")
    scope, name = PACKAGE_NAME.split("/")
    (build / "packages" / scope).mkdir(parents=True)
    # Resolved like an installed package: through its package.json exports.
    (build / "packages" / scope / name).symlink_to(
        example / "app" / "auth" / "client",
        target_is_directory=True,
    )
    static = example / "app" / "static"
    static.mkdir()
    shutil.copy(TS_DIR / "page" / "index.html", static)
    _run(
        [
            _tool("esbuild"),
            str(TS_DIR / "page" / "page.tsx"),
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            "--define:process.env.NODE_ENV='production'",
            f"--outfile={static / 'page.js'}",
        ],
        build,
        {"NODE_PATH": f"{build / 'packages'}{os.pathsep}{NODE_MODULES}"},
    )


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The all-features example app, its client and the React page."""
    example = render_example(tmp_path_factory.mktemp("ts_client"))
    assert (example / "app" / "auth" / "client").is_dir(), (
        "examples/app/answers.yml must enable typescript_client"
    )
    _bundle_page(example)
    return example


@contextlib.contextmanager
def _serve(
    example: Path,
    database: str,
    settings: dict[str, str] | None = None,
) -> Iterator[str]:
    port = free_port()
    env = app_environment(
        f"http://127.0.0.1:{port}",
        f"sqlite+aiosqlite:///{example / database}",
    ) | (settings or {})
    # Lets the Node tests reach `reauth_required` in a few seconds.
    env["AUTH_REAUTHENTICATION_MAX_AGE"] = "5"
    with serve(example, env, port=port, log_name=f"{database}.log") as url:
        yield url


class MailFolder:
    """An aiosmtpd handler: each message's text in ``<folder>/<to>/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        # aiosmtpd 1.4 cannot bind port 0: pick a free port first.
        self.port = free_port()

    async def handle_DATA(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
    ) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = f"{message['Subject']}\n{body.get_content() if body else ''}"
        for recipient in envelope.rcpt_tos:
            self.count += 1
            box = self.folder / recipient
            box.mkdir(parents=True, exist_ok=True)
            (box / f"{self.count}.txt").write_text(text)
        return "250 OK"


@pytest.fixture(scope="module")
def mail(example_dir: Path) -> Iterator[MailFolder]:
    """A real SMTP server; the Node tests read emailed codes from files."""
    handler = MailFolder(example_dir / "mail")
    with smtp_sink(handler, handler.port):
        yield handler


@pytest.fixture(scope="module")
def server(example_dir: Path, mail: MailFolder) -> Iterator[str]:
    smtp = {
        "AUTH_EMAIL_BACKEND": "smtp",
        "AUTH_SMTP_HOST": "127.0.0.1",
        "AUTH_SMTP_PORT": str(mail.port),
        "AUTH_SMTP_SECURITY": "none",
    }
    with _serve(example_dir, "node.db", smtp) as url:
        yield url


def test_client_checks_for_every_row(
    rendered_matrix: list[Rendered],
    tmp_path: Path,
) -> None:
    """tsc (strict) and prettier over every rendered client at once."""
    rows = [r for r in rendered_matrix if r.answers.get("typescript_client")]
    assert rows, "no matrix row enables typescript_client"
    workspace = _workspace(tmp_path / "rows")
    for row in rows:
        client = row.path / "client"
        package = json.loads((client / "package.json").read_text())
        assert package["type"] == "module"
        assert "dependencies" not in package, "no runtime dependencies"
        shutil.copytree(client, workspace / row.name / "client")
    _tsc(
        workspace,
        f"./{rows[0].name}/client/tsconfig.json",
        [f"{row.name}/client/src" for row in rows],
    )
    clients = [f"{row.name}/client" for row in rows]
    _run([_tool("prettier"), "--check", *clients], workspace)


def _schema_workspace(example_dir: Path, path: Path) -> Path:
    """The client, the schema's types and the checks, ready for tsc."""
    workspace = _workspace(path)
    env = app_environment(
        "http://127.0.0.1",
        f"sqlite+aiosqlite:///{path / 'schema.db'}",
    )
    schema = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from app.main import app; "
            "print(json.dumps(app.openapi()))",
        ],
        cwd=example_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (workspace / "openapi.json").write_text(schema)
    _run(
        [_tool("openapi-typescript"), "openapi.json", "-o", "openapi.d.ts"],
        workspace,
    )
    shutil.copytree(
        example_dir / "app" / "auth" / "client",
        workspace / "client",
    )
    checked = ["schema_check.ts", "client.test.ts", "page/page.tsx"]
    for name in checked:
        (workspace / name).parent.mkdir(exist_ok=True)
        shutil.copy(TS_DIR / name, workspace / name)
    # The package's entries, mapped to the rendered client's sources.
    entries = {"": "index", "/react": "react", "/server": "server"}
    tsconfig = {
        "extends": "./client/tsconfig.json",
        "include": checked,
        "compilerOptions": {
            "jsx": "react-jsx",
            "types": ["node"],
            "paths": {
                f"{PACKAGE_NAME}{entry}": [f"./client/src/{module}.ts"]
                for entry, module in entries.items()
            },
        },
    }
    (workspace / "tsconfig.json").write_text(json.dumps(tsconfig))
    return workspace


def test_client_types_match_the_openapi_schema(
    example_dir: Path,
    tmp_path: Path,
) -> None:
    """Every request and response type equals the schema's (tsc checks).

    The Node test and the React page are type-checked against the client
    in the same run.
    """
    workspace = _schema_workspace(example_dir, tmp_path / "schema")
    _run([_tool("tsc"), "-p", "tsconfig.json"], workspace)


@pytest.mark.parametrize(
    ("field", "drift"),
    [
        ("  created_at: string;", "  created_at: number;"),  # wrong type
        ("  amr: string[];", "  amr: string[];\n  device?: string;"),  # extra
        ("  auth_time: string;\n", ""),  # missing
    ],
    ids=["wrong-type", "extra-optional-field", "missing-field"],
)
def test_the_schema_check_catches_a_drifted_type(
    example_dir: Path,
    tmp_path: Path,
    field: str,
    drift: str,
) -> None:
    """A client type that differs from the schema fails the check."""
    workspace = _schema_workspace(example_dir, tmp_path / "drift")
    types = workspace / "client" / "src" / "types.ts"
    source = types.read_text()
    session_info = source.index("export interface SessionInfo {")
    assert source.index(field, session_info) < source.index("}", session_info)
    types.write_text(
        source[:session_info] + source[session_info:].replace(field, drift, 1),
    )

    result = subprocess.run(
        [_tool("tsc"), "-p", "tsconfig.json"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode != 0
    assert "schema_check.ts" in result.stdout, result.stdout


def test_client_against_the_example_app(
    example_dir: Path,
    server: str,
    mail: MailFolder,
) -> None:
    """vitest: sign-up, sign-in, MFA, sessions, errors, rate limits.

    Also the account calls: password change and reset, email verification
    and change (links read from the SMTP server's files), linked provider
    accounts and the audit list.
    """
    client = example_dir / "app" / "auth" / "client"
    output = _run(
        [_tool("vitest"), "run", "--reporter=verbose"],
        TS_DIR,
        {
            "AEGISTRY_AUTH_URL": f"{server}/auth",
            "AEGISTRY_CLIENT_DIR": str(client),
            "AEGISTRY_MAIL_DIR": str(mail.folder),
            "NO_COLOR": "1",
        },
    )
    assert re.search(r"Tests\s+\d+ passed", output), output


def test_use_session_in_a_browser(example_dir: Path) -> None:
    """Signed out -> sign in -> useSession shows it -> sign out.

    Signing out in another tab shows when the window regains focus.
    """
    email = f"browser-{secrets.token_hex(4)}@example.com"
    with _serve(example_dir, "browser.db") as url, launch() as browser:
        response = httpx.post(
            f"{url}/auth/register",
            json={"email": email, "password": PASSWORD},
            headers={"Origin": url},
        )
        assert response.status_code == 202
        page = browser.new_page()
        page.goto(f"{url}/static/index.html")
        status = page.locator("#status")
        expect(status).to_have_text("Signed out")

        def sign_in() -> None:
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(status).to_contain_text("Signed in as")
            expect(status).to_contain_text("pwd")
            session = page.request.get(f"{url}/auth/session").json()
            expect(page.locator("#session")).to_have_text(session["id"])

        sign_in()
        # Signed out elsewhere (another tab): the hook notices on focus.
        page.request.post(f"{url}/auth/logout", headers={"Origin": url})
        page.evaluate("window.dispatchEvent(new Event('focus'))")
        expect(status).to_have_text("Signed out")

        sign_in()
        page.get_by_role("button", name="Sign out").click()
        expect(status).to_have_text("Signed out")
        assert page.request.get(f"{url}/auth/session").status == 401
