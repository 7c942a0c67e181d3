"""The example app rendered and served by uvicorn, for end-to-end tests.

``render_example`` copies ``examples/app`` into a scratch folder and renders
the template into its ``auth`` package with ``examples/app/answers.yml`` (or
other answers); ``serve`` runs uvicorn there on a free loopback port until
the ``with`` block ends. Several tests modules (HTTP, browser, fuzzing,
several processes) share these so the app is started one way only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import copier
import httpx
import pytest
import yaml
from copier.errors import DirtyLocalWarning

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "app"
ANSWERS = EXAMPLE / "answers.yml"


def example_answers() -> dict[str, Any]:
    """The answers scripts/demo renders the example app with."""
    answers: dict[str, Any] = yaml.safe_load(ANSWERS.read_text())
    return answers


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render_example(
    base: Path,
    answers: Mapping[str, Any] | None = None,
) -> Path:
    """Copy the example app into ``base/app`` and render its package."""
    shutil.copytree(
        EXAMPLE,
        base / "app",
        ignore=shutil.ignore_patterns("auth", "__pycache__", "*.db"),
    )
    with warnings.catch_warnings():
        # Rendering HEAD includes uncommitted template edits, on purpose.
        warnings.simplefilter("ignore", DirtyLocalWarning)
        copier.run_copy(
            str(ROOT),
            base / "app" / "auth",
            data=dict(example_answers() if answers is None else answers),
            defaults=True,
            quiet=True,
            vcs_ref="HEAD" if (ROOT / ".git").exists() else None,
        )
    return base


def app_environment(url: str, database_url: str) -> dict[str, str]:
    """This process's environment without AUTH_*, plus the app's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env |= {
        "AUTH_SECRET_KEY": secrets.token_urlsafe(48),
        "AUTH_ENVIRONMENT": "development",
        "AUTH_BASE_URL": url,
        "DATABASE_URL": database_url,
    }
    return env


@contextlib.contextmanager
def serve(
    example_dir: Path,
    env: Mapping[str, str],
    *,
    port: int,
    log_name: str = "uvicorn.log",
) -> Iterator[str]:
    """Run ``uvicorn app.main:app`` in ``example_dir``; yield its URL."""
    url = f"http://127.0.0.1:{port}"
    log_path = example_dir / log_name
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
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, url, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(
    process: subprocess.Popen[bytes],
    url: str,
    log_path: Path,
) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(
                "uvicorn exited:\n" + log_path.read_text(errors="replace"),
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                "uvicorn did not answer within 60 s:\n"
                + log_path.read_text(errors="replace"),
            )
        time.sleep(0.1)
