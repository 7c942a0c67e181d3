"""Layer 4: copy into a user's repo, then update, recopy and toggle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from tests.conftest import git
from tests.manifest import expected_paths, rendered_files, unmatched
from tests.tools import output, run, tool

MARKERS = ("<<<<<<<", ">>>>>>>")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's FastAPI repository; the package goes to app/auth."""
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text("app = None\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "app")
    return root


def copy(template: Path, project: Path, **data: Any) -> Path:
    dst = project / "app" / "auth"
    copier.run_copy(
        str(template),
        str(dst),
        data=data,
        defaults=True,
        unsafe=False,
        quiet=True,
    )
    commit(project, "add auth")
    return dst


def update(dst: Path, **data: Any) -> None:
    copier.run_update(
        str(dst),
        data=data,
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
    )


def commit(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def status(project: Path) -> str:
    return git(project, "status", "--porcelain")


def answers(dst: Path) -> dict[str, Any]:
    return yaml.safe_load((dst / ".copier-answers.yml").read_text())


def assert_files_match(dst: Path) -> None:
    recorded = answers(dst)
    missing, extra = unmatched(expected_paths(recorded), rendered_files(dst))
    assert not missing, f"missing after update: {sorted(missing)}"
    assert not extra, f"unexpected after update: {sorted(extra)}"


def assert_no_conflicts(dst: Path) -> None:
    for path in dst.rglob("*"):
        assert not path.name.endswith((".rej", ".orig")), path
        if path.is_file():
            text = path.read_text()
            assert not any(m in text for m in MARKERS), path


def test_cli_copy_without_trust(template_repo: Path, tmp_path: Path) -> None:
    """`copier copy --defaults` works as users run it: no --trust."""
    dst = tmp_path / "app" / "auth"
    result = run(
        [tool("copier"), "copy", "--defaults", str(template_repo), str(dst)],
        cwd=tmp_path,
    )
    assert result.returncode == 0, output(result)
    recorded = answers(dst)
    assert recorded["_commit"] == "1.0.0"
    assert recorded["package_name"] == "auth"  # from the folder name
    assert "Install what it imports" in result.stderr
    assert_files_match(dst)


def test_same_version_update_is_noop(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    update(dst)
    assert status(project) == ""


def test_recopy_is_noop(template_repo: Path, project: Path) -> None:
    dst = copy(template_repo, project)
    copier.run_recopy(
        str(dst),
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
    )
    assert status(project) == ""


def test_user_edits_survive_upgrade(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    user_code = '\n\ndef user_helper() -> str:\n    return "mine"\n'
    with (dst / "clock.py").open("a") as f:
        f.write(user_code)
    commit(project, "my edit")
    # A dirty file outside the package must not block the update.
    (project / "app" / "main.py").write_text("app = 'dirty'\n")

    source = template_repo / "template" / "clock.py"
    source.write_text("# Changed in 1.1.0.\n" + source.read_text())
    (template_repo / "template" / "new_in_1_1.py").write_text('"""New."""\n')
    git(template_repo, "add", "-A")
    git(template_repo, "commit", "-qm", "1.1.0")
    git(template_repo, "tag", "1.1.0")

    update(dst)

    clock = (dst / "clock.py").read_text()
    assert clock.startswith("# Changed in 1.1.0.\n")
    assert clock.endswith(user_code)
    assert (dst / "new_in_1_1.py").exists()
    assert answers(dst)["_commit"] == "1.1.0"
    assert (project / "app" / "main.py").read_text() == "app = 'dirty'\n"
    assert_no_conflicts(dst)


def test_toggle_fastapi_routers(template_repo: Path, project: Path) -> None:
    dst = copy(template_repo, project, fastapi_routers=False)
    assert not (dst / "contrib" / "fastapi").exists()

    update(dst, fastapi_routers=True)
    assert answers(dst)["fastapi_routers"] is True
    assert (dst / "contrib" / "fastapi").is_dir()
    assert_files_match(dst)
    assert_no_conflicts(dst)
    commit(project, "routers on")

    update(dst, fastapi_routers=False)
    assert answers(dst)["fastapi_routers"] is False
    assert not (dst / "contrib" / "fastapi").exists()
    assert_files_match(dst)
    assert_no_conflicts(dst)
