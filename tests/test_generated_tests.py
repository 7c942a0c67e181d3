"""Layer 3: the tests that travel with each package pass, on PostgreSQL too."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.conftest import Rendered
from tests.pg import URL_VARIABLE
from tests.tools import clean_env, output, run

Matrix = tuple[Path, list[Rendered]]


def run_generated_tests(
    cwd: Path,
    targets: list[str],
    postgres: str,
    report: Path,
    workers: int = 2,
    extra: tuple[str, ...] = (),
) -> dict[str, int]:
    """Run pytest on ``targets``; return junit counts, fail on any problem."""
    result = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfEs",
            f"--numprocesses={workers}",
            f"--junitxml={report}",
            *extra,
            *targets,
        ],
        cwd=cwd,
        env=clean_env(**{URL_VARIABLE: postgres}),
        timeout=1200,
    )
    assert result.returncode == 0, output(result)
    suites = ET.parse(report).getroot()  # noqa: S314 - our own file
    counts = {"tests": 0, "skipped": 0, "failures": 0, "errors": 0}
    for suite in suites.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    assert counts["tests"] > 0, output(result)
    # A skip would mean PostgreSQL (or anything else) silently did not run.
    assert counts["skipped"] == 0, output(result)
    assert counts["failures"] == counts["errors"] == 0, output(result)
    return counts


def batches() -> list[list[int]]:
    """Matrix rows whose packages can share one Python process.

    Packages with stores declare the same tables on the shared
    ``SQLModel.metadata``, so two of them cannot be imported by one process
    (SQLAlchemy: "Table ... is already defined"). Each gets its own batch;
    the other packages are spread over the batches. xdist then runs the
    batches on both workers.
    """
    rows = list(enumerate(matrix.load_rows()))
    stores = [i for i, row in rows if row.get("sqlalchemy_stores")]
    others = [i for i, _ in rows if i not in stores]
    groups = [[i] for i in stores] or [[]]
    for n, i in enumerate(others):
        groups[n % len(groups)].append(i)
    # Heaviest first, so the slowest batch does not start last.
    return sorted(
        (g for g in groups if g),
        key=lambda g: -sum(_weight(rows[i][1]) for i in g),
    )


def _weight(answers: dict[str, Any]) -> int:
    """Roughly how many generated tests a row has."""
    return sum(
        len(v) if isinstance(v, list) else 2 * (v is True)
        for v in answers.values()
    )


BATCHES = batches()


@pytest.mark.parametrize(
    "batch",
    BATCHES,
    ids=["+".join(f"pkg_{i}" for i in batch) for batch in BATCHES],
)
def test_generated_tests_pass(
    matrix_dir: Matrix,
    postgres: str,
    tmp_path: Path,
    batch: list[int],
) -> None:
    """The packages' own tests pass, on SQLite and on PostgreSQL."""
    base, rendered = matrix_dir
    counts = run_generated_tests(
        base,
        [rendered[i].name for i in batch],
        postgres,
        tmp_path / "junit.xml",
        workers=0,
    )
    assert counts["tests"] >= len(batch)


def test_batches_cover_the_matrix() -> None:
    indices = sorted(i for batch in BATCHES for i in batch)
    assert indices == matrix.indices()


def _richest(rendered: list[Rendered]) -> Rendered:
    def score(row: Rendered) -> int:
        return sum(
            len(v) if isinstance(v, list) else bool(v) is True
            for k, v in row.answers.items()
            if k != "package_name"
        )

    return max(rendered, key=score)


def test_package_is_movable(
    matrix_dir: Matrix,
    postgres: str,
    tmp_path: Path,
) -> None:
    """Relative imports: the package works under another name and parent.

    The richest row, moved to ``app/identity``; its tests on SQLite (the
    database engine is not what this checks).
    """
    _, rendered = matrix_dir
    row = _richest(rendered)
    for path in row.path.rglob("*.py"):
        text = path.read_text()
        assert row.name not in text, f"{path} hard-codes its package name"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    shutil.copytree(row.path, tmp_path / "app" / "identity")
    run_generated_tests(
        tmp_path,
        ["app/identity"],
        postgres,
        tmp_path / "junit.xml",
        workers=0,
        extra=("-k", "not postgresql"),
    )
