"""Layer 1: every matrix row renders to exactly the expected, clean files."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import yaml

from tests import matrix
from tests.conftest import Rendered
from tests.manifest import (
    expected_paths,
    is_runtime_template,
    rendered_files,
    unmatched,
)

ROWS = pytest.mark.parametrize("index", matrix.indices(), ids=matrix.ids())
RESIDUE = re.compile(r"\{\{|\{%|\{#|%\}|#\}")
COMPUTED = ("identity_id_type", "dependencies", "test_dependencies")


def _text_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@ROWS
def test_expected_files(rendered_matrix: list[Rendered], index: int) -> None:
    row = rendered_matrix[index]
    files = rendered_files(row.path)
    missing, extra = unmatched(expected_paths(row.answers), files)
    assert not missing, f"expected but not rendered: {sorted(missing)}"
    assert not extra, f"rendered but not in tests/manifest.py: {sorted(extra)}"


@ROWS
def test_no_jinja_residue(rendered_matrix: list[Rendered], index: int) -> None:
    row = rendered_matrix[index]
    problems = []
    for path in _text_files(row.path):
        rel = path.relative_to(row.path).as_posix()
        if path.suffix == ".jinja" or RESIDUE.search(rel):
            problems.append(f"{rel}: template file name")
        text = path.read_text()
        if is_runtime_template(rel):
            # Rendered by the package itself: must be valid Jinja.
            jinja2.Environment(autoescape=True).parse(text)
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if RESIDUE.search(line):
                problems.append(f"{rel}:{number}: {line.strip()}")
    assert not problems, "\n".join(problems)


@ROWS
def test_whitespace(rendered_matrix: list[Rendered], index: int) -> None:
    """No trailing spaces, no runs of 3+ blank lines, one final newline."""
    row = rendered_matrix[index]
    problems = []
    for path in _text_files(row.path):
        rel = path.relative_to(row.path).as_posix()
        text = path.read_text()
        if not text:
            problems.append(f"{rel}: empty file")
            continue
        if not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{rel}: must end with exactly one newline")
        blank = 0
        for number, line in enumerate(text.splitlines(), 1):
            if line != line.rstrip():
                problems.append(f"{rel}:{number}: trailing whitespace")
            blank = blank + 1 if not line.strip() else 0
            if blank == 3:
                problems.append(f"{rel}:{number}: 3+ blank lines")
    assert not problems, "\n".join(problems)


@ROWS
def test_answers_file(rendered_matrix: list[Rendered], index: int) -> None:
    """The answers are recorded for `copier update`; computed ones are not."""
    row = rendered_matrix[index]
    stored = yaml.safe_load((row.path / ".copier-answers.yml").read_text())
    for key, value in row.answers.items():
        assert stored[key] == value
    assert "_src_path" in stored
    assert not set(COMPUTED) & set(stored)


def test_compiles(matrix_dir: tuple[Path, list[Rendered]]) -> None:
    """Every Python file compiles (in memory: the folder is shared)."""
    base, rendered = matrix_dir
    assert rendered
    problems = []
    for path in sorted(base.rglob("*.py")):
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as error:
            problems.append(f"{path.relative_to(base)}: {error}")
    assert not problems, "\n".join(problems)
