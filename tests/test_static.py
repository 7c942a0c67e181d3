"""Layer 2: one ruff and one mypy --strict pass over all rendered packages."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, Rendered
from tests.tools import output, run, tool

Matrix = tuple[Path, list[Rendered]]


def test_ruff_check(matrix_dir: Matrix) -> None:
    """Each package's own ruff.toml (select ALL) applies to it."""
    base, _ = matrix_dir
    result = run([tool("ruff"), "check", "--no-cache", "."], cwd=base)
    assert result.returncode == 0, output(result)


def test_ruff_format(matrix_dir: Matrix) -> None:
    base, _ = matrix_dir
    result = run(
        [tool("ruff"), "format", "--check", "--no-cache", "."],
        cwd=base,
    )
    assert result.returncode == 0, output(result)


def test_mypy_strict(matrix_dir: Matrix) -> None:
    base, rendered = matrix_dir
    packages = [arg for row in rendered for arg in ("-p", row.name)]
    result = run(
        [
            tool("mypy"),
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            # Cache third-party stubs between runs (gitignored).
            f"--cache-dir={ROOT / '.mypy_cache' / 'matrix'}",
            *packages,
        ],
        cwd=base,
    )
    assert result.returncode == 0, output(result)


def test_template_suite_lints() -> None:
    """This suite itself stays ruff-clean (pyproject.toml's rules)."""
    result = run(
        [tool("ruff"), "check", "--no-cache", "tests", "extensions"],
        cwd=ROOT,
    )
    assert result.returncode == 0, output(result)
