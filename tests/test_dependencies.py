"""The dependency lists copier prints cover exactly what the code imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from tests import matrix
from tests.conftest import Rendered

ROWS = pytest.mark.parametrize("index", matrix.indices(), ids=matrix.ids())

# Import names a distribution provides, where they differ from its name.
# The first name is its own; the others are hard dependencies it guarantees
# and re-exports (FastAPI is Starlette + Pydantic, SQLModel is SQLAlchemy +
# Pydantic).
PROVIDES: dict[str, tuple[str, ...]] = {
    "argon2-cffi": ("argon2",),
    "fastapi": ("fastapi", "starlette", "pydantic"),
    "pwdlib": ("pwdlib",),
    "pyjwt": ("jwt",),
    "pytest": ("pytest", "_pytest"),
    "python-multipart": ("python_multipart", "multipart"),
    "sqlmodel": ("sqlmodel", "sqlalchemy", "pydantic"),
}
# Needed without being imported by name: database drivers chosen by URL,
# and anyio, whose pytest plugin runs the `pytest.mark.anyio` tests.
USED_WITHOUT_IMPORT = frozenset({"aiosqlite", "asyncpg", "anyio"})
EXTRAS: dict[str, tuple[str, ...]] = {"pwdlib[argon2]": ("argon2",)}
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
# Modules that need a distribution without importing it by name.
IMPLIES = {
    "fastapi.testclient": "httpx",
    "starlette.testclient": "httpx",
}


def distribution(requirement: str) -> str:
    """``sqlalchemy[asyncio]>=2`` -> ``sqlalchemy``."""
    name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def provided(requirements: list[str]) -> set[str]:
    names: set[str] = set()
    for requirement in requirements:
        dist = distribution(requirement)
        names.update(PROVIDES.get(dist, (dist.replace("-", "_"),)))
        names.update(EXTRAS.get(requirement, ()))
    return names


def own_import(requirement: str) -> str | None:
    dist = distribution(requirement)
    if dist in USED_WITHOUT_IMPORT:
        return None
    return PROVIDES.get(dist, (dist.replace("-", "_"),))[0]


def imports(files: list[Path]) -> dict[str, set[str]]:
    """Third-party top-level import names -> the files importing them.

    A module in IMPLIES also counts as an import of what it needs.
    """
    found: dict[str, set[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top and top not in STDLIB:
                    found.setdefault(top, set()).add(path.name)
                for prefix, needed in IMPLIES.items():
                    if f"{module}.".startswith(f"{prefix}."):
                        found.setdefault(needed, set()).add(path.name)
    return found


def message_dependencies(message: str) -> list[str]:
    """The package list printed after ``Install what it imports:``."""
    lines = message.splitlines()
    start = next(
        i for i, line in enumerate(lines) if "Install what it imports" in line
    )
    listed = next(line for line in lines[start + 1 :] if line.strip())
    return listed.split()


def readme_dependencies(readme: str) -> tuple[list[str], list[str]]:
    """(runtime, test) lists from the README's ``uv add`` lines."""
    runtime: list[str] = []
    test: list[str] = []
    for line in readme.splitlines():
        if line.startswith("uv add "):
            names = re.findall(r'"([^"]+)"', line)
            (test if line.rstrip().endswith("--dev") else runtime).extend(
                names,
            )
    return runtime, test


def _split(row: Rendered) -> tuple[list[Path], list[Path]]:
    code, tests = [], []
    for path in sorted(row.path.rglob("*.py")):
        rel = path.relative_to(row.path)
        (tests if rel.parts[0] == "tests" else code).append(path)
    return code, tests


@ROWS
def test_printed_lists_match(
    rendered_matrix: list[Rendered],
    index: int,
) -> None:
    """The after-copy message and the README print the computed lists."""
    row = rendered_matrix[index]
    dependencies = row.computed["dependencies"]
    assert message_dependencies(row.message) == dependencies
    readme = row.path / "README.md"
    if readme.exists():
        runtime, test = readme_dependencies(readme.read_text())
        assert runtime == dependencies
        assert test == row.computed["test_dependencies"]


@ROWS
def test_imports_are_declared(
    rendered_matrix: list[Rendered],
    index: int,
) -> None:
    row = rendered_matrix[index]
    dependencies = message_dependencies(row.message)
    test_dependencies = row.computed["test_dependencies"]
    code, tests = _split(row)

    code_imports = imports(code)
    undeclared = set(code_imports) - provided(dependencies)
    assert not undeclared, {m: code_imports[m] for m in undeclared}

    test_imports = imports(tests)
    undeclared = set(test_imports) - provided(
        dependencies + test_dependencies,
    )
    assert not undeclared, {m: test_imports[m] for m in undeclared}


@ROWS
def test_declared_are_imported(
    rendered_matrix: list[Rendered],
    index: int,
) -> None:
    """No dependency is listed that the chosen features do not use."""
    row = rendered_matrix[index]
    code, tests = _split(row)
    used = set(imports(code)) | set(imports(tests))
    for requirement in (
        row.computed["dependencies"] + row.computed["test_dependencies"]
    ):
        name = own_import(requirement)
        assert name is None or name in used, requirement
