"""Fixtures for the template's own suite.

Git and Copier are isolated from the machine's settings at import time (so
every xdist worker is isolated too). Rendering goes through the public
``copier.run_copy`` / ``run_update`` API; one test also drives the CLI.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import copier
import plumbum
import pytest
from playwright.sync_api import Browser

from tests import matrix, pg
from tests.browser import launch

ROOT = Path(__file__).resolve().parent.parent

# Never copied into scratch template repositories.
_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.py[co]",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "node_modules",
    "*.db",
    ".env",
)


def _isolate() -> None:
    """Point git and copier at throwaway settings (os.environ + plumbum)."""
    home = Path(tempfile.mkdtemp(prefix="aegistry-env-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    gitconfig = home / "gitconfig"
    gitconfig.write_text(
        "[user]\n"
        "\tname = Aegistry Tests\n"
        "\temail = tests@example.com\n"
        "[init]\n"
        "\tdefaultBranch = main\n"
        "[commit]\n"
        "\tgpgsign = false\n"
        "[tag]\n"
        "\tgpgsign = false\n"
    )
    settings = home / "copier-settings.yml"
    settings.write_text("{}\n")  # no defaults, no trust
    env = {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "COPIER_SETTINGS_PATH": str(settings),
    }
    os.environ.update(env)
    # plumbum (used by copier) snapshots the environment at import time.
    for key, value in env.items():
        plumbum.local.env[key] = value


_isolate()


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def copy_working_tree(dst: Path) -> Path:
    """Copy the template's working tree (uncommitted edits included)."""
    shutil.copytree(ROOT, dst, ignore=_IGNORE, symlinks=True)
    shutil.rmtree(dst / "examples" / "app" / "auth", ignore_errors=True)
    return dst


def make_template_repo(dst: Path, tag: str = "1.0.0") -> Path:
    """A scratch git repository of the working tree, tagged ``tag``."""
    copy_working_tree(dst)
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "template")
    git(dst, "tag", tag)
    return dst


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """A tagged (1.0.0) git copy of the template that a test may change."""
    return make_template_repo(tmp_path / "template")


@pytest.fixture(scope="session")
def template_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain (non-git) copy of the working tree: fastest to render."""
    return copy_working_tree(tmp_path_factory.mktemp("src") / "aegistry")


@dataclass(frozen=True)
class Rendered:
    """One rendered matrix row."""

    name: str
    answers: dict[str, Any]
    path: Path
    message: str
    computed: dict[str, Any]


def render(
    src: Path,
    dst: Path,
    data: dict[str, Any],
    **kwargs: Any,
) -> tuple[copier.Worker, str]:
    """``run_copy`` without trust; returns the worker and what it printed."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        worker = copier.run_copy(
            str(src),
            str(dst),
            data=data,
            defaults=True,
            unsafe=False,
            quiet=False,
            **kwargs,
        )
    return worker, err.getvalue()


def _render_matrix(base: Path, src: Path) -> list[Rendered]:
    rendered = []
    for index, answers in enumerate(matrix.load_rows()):
        name = f"pkg_{index}"
        data = {"package_name": name, **answers}
        worker, message = render(src, base / name, data)
        combined = worker.answers.combined
        computed = {
            key: combined[key]
            for key in ("dependencies", "test_dependencies")
            if key in combined
        }
        rendered.append(Rendered(name, data, base / name, message, computed))
    return rendered


@pytest.fixture(scope="session")
def matrix_dir(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    template_src: Path,
) -> tuple[Path, list[Rendered]]:
    """Every row of tests/matrix.yml rendered to ``<dir>/pkg_<i>``.

    Rendered once per run: xdist workers share the folder (the first one
    renders under a file lock). Tests treat it as read-only.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent
    base = root / "matrix"
    index = root / "matrix.json"
    with (root / "matrix.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not index.exists():
            shutil.rmtree(base, ignore_errors=True)
            rendered = _render_matrix(base, template_src)
            index.write_text(
                json.dumps([{**asdict(r), "path": r.name} for r in rendered]),
            )
    rendered = [
        Rendered(**{**item, "path": base / item["path"]})
        for item in json.loads(index.read_text())
    ]
    return base, rendered


@pytest.fixture(scope="session")
def rendered_matrix(
    matrix_dir: tuple[Path, list[Rendered]],
) -> list[Rendered]:
    return matrix_dir[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL URL (asyncpg): AUTH_TEST_POSTGRES_URL or a fresh server.

    Each xdist worker that asks for it starts its own throwaway server on a
    free loopback port (about 2 s), so workers never share state.
    """
    url = os.environ.get(pg.URL_VARIABLE)
    if url:
        yield url
        return
    with pg.server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (see ``tests/browser.py``)."""
    with launch() as launched:
        yield launched
