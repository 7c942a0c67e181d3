"""A throwaway PostgreSQL server from the Debian package (see rig.md).

``python -m tests.pg`` starts one, prints its URL and stops it when stdin
closes; ``scripts/test`` uses that so every test process shares a server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

URL_VARIABLE = "AUTH_TEST_POSTGRES_URL"
DATABASE = "auth_test"
PASSWORD = "testpw"  # noqa: S105 - a throwaway local server


def _bindir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    msg = (
        "PostgreSQL not found: install it (apt-get install postgresql) "
        f"or set {URL_VARIABLE}"
    )
    raise RuntimeError(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str | Path) -> list[str]:
    # initdb refuses to run as root: drop to the postgres user.
    cmd = [str(a) for a in args]
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(*args: str | Path) -> None:
    subprocess.run(
        _as_postgres(*args),
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def server() -> Iterator[str]:
    """Start PostgreSQL in a temp folder; yield an asyncpg URL."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="aegistry-pg-"))
    data = root / "data"
    try:
        (root / "pw").write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(root / "pw", "postgres")
        _run(
            bindir / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            f"--pwfile={root / 'pw'}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        port = _start(bindir, root, data)
        try:
            _run(
                bindir / "psql",
                "-h",
                root,
                "-p",
                str(port),
                "-U",
                "postgres",
                "-qc",
                f"CREATE DATABASE {DATABASE}",
            )
            yield (
                f"postgresql+asyncpg://postgres:{PASSWORD}"
                f"@127.0.0.1:{port}/{DATABASE}"
            )
        finally:
            subprocess.run(
                _as_postgres(
                    bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"
                ),
                check=False,
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(bindir: Path, root: Path, data: Path) -> int:
    """Start the server on a free port; retry if another process took it."""
    for _ in range(5):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        result = subprocess.run(
            _as_postgres(
                bindir / "pg_ctl",
                "-D",
                data,
                "-l",
                root / "log",
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            ),
            check=False,
            capture_output=True,
        )
        if result.returncode == 0:
            return port
    log = (root / "log").read_text(errors="replace")
    msg = f"PostgreSQL did not start:\n{log}"
    raise RuntimeError(msg)


def main() -> None:
    """Print the URL of a fresh server; stop it when stdin closes."""
    with server() as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
