"""The example app rendered and served by uvicorn, for end-to-end tests.

``render_example`` copies ``examples/app`` into a scratch folder and renders
the template into its ``auth`` package with ``examples/app/answers.yml`` (or
other answers); ``serve`` runs uvicorn there on a free loopback port until
the ``with`` block ends. Several tests modules (HTTP, browser, fuzzing,
several processes) share these so the app is started one way only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import copier
import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
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
def scratch_database(url: str) -> Iterator[str]:
    """A new, empty database on the server of ``url`` (asyncpg); its URL.

    The example app creates its tables in whatever ``DATABASE_URL``
    names, so each app under test gets a database nobody else uses.
    Call it outside any running event loop (a plain test or fixture).
    """
    name = f"example_{secrets.token_hex(6)}"
    parts = urlsplit(url)
    admin = parts._replace(scheme="postgresql").geturl()

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def serve(
    example_dir: Path,
    env: Mapping[str, str],
    *,
    port: int,
    log_name: str = "uvicorn.log",
) -> Iterator[str]:
    """Run ``uvicorn app.main:app`` in ``example_dir``; yield its URL."""
    with _uvicorn(
        example_dir,
        env,
        url=f"http://127.0.0.1:{port}",
        log_name=log_name,
    ) as url:
        yield url


@contextlib.contextmanager
def serve_tls(
    example_dir: Path,
    env: Mapping[str, str],
    *,
    port: int,
    cert: tuple[Path, Path],
    log_name: str = "uvicorn-tls.log",
) -> Iterator[str]:
    """Like :func:`serve`, over https with ``cert`` (certificate, key)."""
    certfile, keyfile = cert
    with _uvicorn(
        example_dir,
        env,
        url=f"https://127.0.0.1:{port}",
        log_name=log_name,
        extra_args=(
            "--ssl-certfile",
            str(certfile),
            "--ssl-keyfile",
            str(keyfile),
        ),
        verify=ssl.create_default_context(cafile=certfile),
    ) as url:
        yield url


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and localhost; (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ],
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return certfile, keyfile


@contextlib.contextmanager
def _uvicorn(
    example_dir: Path,
    env: Mapping[str, str],
    *,
    url: str,
    log_name: str,
    extra_args: Sequence[str] = (),
    verify: ssl.SSLContext | bool = True,
) -> Iterator[str]:
    port = str(urlsplit(url).port)
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
                port,
                *extra_args,
            ],
            cwd=example_dir,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, url, log_path, verify)
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
    verify: ssl.SSLContext | bool = True,
) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(
                "uvicorn exited:\n" + log_path.read_text(errors="replace"),
            )
        try:
            health = httpx.get(f"{url}/health", timeout=1, verify=verify)
            if health.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                "uvicorn did not answer within 60 s:\n"
                + log_path.read_text(errors="replace"),
            )
        time.sleep(0.1)


@contextlib.contextmanager
def smtp_sink(handler: object, port: int) -> Iterator[None]:
    """A real SMTP server (aiosmtpd) on ``port``, handled by ``handler``.

    aiosmtpd cannot bind port 0: pick one with :func:`free_port`.
    """
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()
