"""The all-features package on Python 3.13: renders, installs, tests pass.

The rest of the suite runs on 3.12. Here the package gets its own 3.13
virtual environment (``uv venv`` + ``uv pip install`` of the dependency
list Copier computed, pinned to this repository's ``uv.lock``) and runs
its generated tests there, on SQLite and PostgreSQL.

The interpreter comes from ``AEGISTRY_PYTHON313``, else pyenv
(``$(pyenv root)/versions/3.13*/bin/python3.13``), else ``python3.13`` on
PATH. Without one the test is skipped, except where
``AEGISTRY_REQUIRE_PYTHON313`` is set (CI sets it): there it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, render
from tests.pg import URL_VARIABLE
from tests.tools import clean_env, output, run

REQUIRE = "AEGISTRY_REQUIRE_PYTHON313"


def python313() -> str | None:
    explicit = os.environ.get("AEGISTRY_PYTHON313")
    if explicit:
        return explicit
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run(
            [pyenv, "root"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        found = sorted(
            Path(root).glob("versions/3.13*/bin/python3.13"),
            key=lambda p: [int(n) for n in p.parts[-3].split(".")],
        )
        if root and found:
            return str(found[-1])
    return shutil.which("python3.13")


def uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    return ["python3", "-m", "uv"]  # how scripts/test installs it


def all_features() -> dict[str, object]:
    """Every choice of every multiselect question, stores and routers."""
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    return {
        "id_type": "uuid",
        "factors": list(questions["factors"]["choices"].values()),
        "oauth_providers": list(
            questions["oauth_providers"]["choices"].values(),
        ),
        "sqlalchemy_stores": True,
        "fastapi_routers": True,
    }


def test_all_features_on_python_313(
    template_src: Path,
    postgres: str,
    tmp_path: Path,
) -> None:
    interpreter = python313()
    if interpreter is None or not Path(interpreter).exists():
        if os.environ.get(REQUIRE):
            pytest.fail(f"no Python 3.13 interpreter, and {REQUIRE} is set")
        pytest.skip("no Python 3.13 interpreter (pyenv, PATH)")

    worker, _ = render(
        template_src,
        tmp_path / "pkg313",
        {"package_name": "pkg313", **all_features()},
    )
    combined = worker.answers.combined
    requirements = [
        *combined["dependencies"],
        *combined["test_dependencies"],
        "asyncpg",
        "python-multipart",
    ]

    venv = tmp_path / "venv"
    env = clean_env(UV_PYTHON_DOWNLOADS="never")
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_PYTHON", None)
    result = run(
        [*uv(), "venv", "-q", "--python", interpreter, str(venv)],
        tmp_path,
        env,
    )
    assert result.returncode == 0, output(result)
    python = venv / "bin" / "python"
    lock = run(
        [
            *uv(),
            "export",
            "--frozen",
            "--no-hashes",
            "--all-groups",
            "--no-emit-project",
            "--format",
            "requirements.txt",
        ],
        ROOT,
        env,
    )
    assert lock.returncode == 0, output(lock)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(lock.stdout)
    result = run(
        [
            *uv(),
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "--constraint",
            str(constraints),
            *requirements,
        ],
        tmp_path,
        env,
        timeout=900,
    )
    assert result.returncode == 0, output(result)

    report = tmp_path / "junit.xml"
    result = run(
        [
            str(python),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfEs",
            f"--junitxml={report}",
            "pkg313",
        ],
        tmp_path,
        clean_env(**{URL_VARIABLE: postgres}),
        timeout=1200,
    )
    assert result.returncode == 0, output(result)
    version = run(
        [str(python), "-c", "import sys; print(sys.version)"], tmp_path
    )
    assert version.stdout.startswith("3.13"), output(version)
    suites = ET.parse(report).getroot()  # noqa: S314 - our own file
    counts = {
        key: sum(int(s.get(key, "0")) for s in suites.iter("testsuite"))
        for key in ("tests", "skipped", "failures", "errors")
    }
    assert counts["tests"] > 100, counts
    assert counts["skipped"] == counts["failures"] == counts["errors"] == 0
    print(
        f"Python 3.13: {counts['tests']} generated tests passed",
        file=sys.stderr,
    )
