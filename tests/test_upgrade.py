"""Layer 4, continued: upgrades between two tagged template versions.

``test_update.py`` covers the basics (no-op update and recopy with the
default answers, one edit kept, routers toggled). Here: idempotence with
every feature, several edited files with clean merges next to a real
conflict, a factor added and removed, a file moved by a ``_migrations``
step, and the last release updated to the working tree.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from copier.errors import UnsafeTemplateError

from tests.conftest import ROOT, copy_working_tree, git
from tests.test_update import (
    answers,
    assert_files_match,
    assert_no_conflicts,
    commit,
    copy,
    status,
)

ALL_FACTORS = ["password", "email_otp", "totp", "hotp", "backup_codes"]
ALL_PROVIDERS = ["google", "github", "apple", "line", "oidc"]
CONFLICT_START = "<<<<<<< before updating"
CONFLICT_END = ">>>>>>> after updating"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's repository; the package goes to app/auth."""
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    git(root, "init", "-q")
    commit(root, "app")
    return root


def update(dst: Path, *, trust: bool = False, **data: Any) -> None:
    copier.run_update(
        str(dst),
        data=data,
        defaults=True,
        overwrite=True,
        unsafe=trust,
        quiet=True,
    )


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur once) by ``new``."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def release(template: Path, tag: str) -> None:
    git(template, "add", "-A")
    git(template, "commit", "--allow-empty", "-qm", tag)
    git(template, "tag", tag)


def test_same_version_update_and_recopy_with_every_feature(
    template_repo: Path,
    project: Path,
) -> None:
    """Deterministic output: nothing changes without a template change."""
    dst = copy(
        template_repo,
        project,
        id_type="uuid",
        factors=ALL_FACTORS,
        oauth_providers=["google", "oidc"],
    )
    update(dst)
    assert status(project) == ""
    copier.run_recopy(
        str(dst),
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
    )
    assert status(project) == ""


def test_upgrade_merges_edits_in_several_files(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    template = template_repo / "template"
    # The user's edits, in four files.
    user_clock = '\n\ndef user_helper() -> str:\n    return "mine"\n'
    append(dst / "clock.py", user_clock)
    edit(
        dst / "config.py",
        "session_idle_timeout: timedelta = timedelta(days=7)",
        "session_idle_timeout: timedelta = timedelta(days=3)",
    )
    append(dst / "README.md", "\nOur notes: ask the security team.\n")
    edit(
        dst / "crypto.py",
        "import hmac\n",
        "import hmac  # user: keep\n",
    )
    commit(project, "my edits")

    # The template's changes: elsewhere in the same files, plus a
    # change to the very line the user changed in crypto.py.
    edit(
        template / "clock.py",
        '"""Time source,',
        '"""Changed in 1.1.0.\n\nTime source,',
    )
    edit(
        template / "config.py.jinja",
        'ENV_PREFIX = "AUTH_"\n',
        'ENV_PREFIX = "AUTH_"  # 1.1.0\n',
    )
    edit(template / "README.md.jinja", "## Install\n", "## Install (1.1)\n")
    edit(template / "crypto.py", "import hmac\n", "import hmac  # 1.1.0\n")
    release(template_repo, "1.1.0")

    update(dst)

    assert answers(dst)["_commit"] == "1.1.0"
    clock = (dst / "clock.py").read_text()
    assert clock.startswith('"""Changed in 1.1.0.\n\nTime source,')
    assert clock.endswith(user_clock)
    config = (dst / "config.py").read_text()
    assert 'ENV_PREFIX = "AUTH_"  # 1.1.0\n' in config
    assert "timedelta = timedelta(days=3)" in config
    readme = (dst / "README.md").read_text()
    assert "## Install (1.1)\n" in readme
    assert readme.endswith("\nOur notes: ask the security team.\n")
    for name in ("clock.py", "config.py", "README.md"):
        text = (dst / name).read_text()
        assert CONFLICT_START not in text, name
        assert CONFLICT_END not in text, name

    # Overlapping edits: a readable inline conflict, flagged by git.
    crypto = (dst / "crypto.py").read_text()
    assert (
        f"{CONFLICT_START}\n"
        "import hmac  # user: keep\n"
        "=======\n"
        "import hmac  # 1.1.0\n"
        f"{CONFLICT_END}\n"
    ) in crypto
    assert "UU app/auth/crypto.py" in status(project).splitlines()
    assert not list(dst.rglob("*.rej"))


def test_factor_added_and_removed_through_updates(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    edit(
        dst / "config.py",
        "session_idle_timeout: timedelta = timedelta(days=7)",
        "session_idle_timeout: timedelta = timedelta(days=3)",
    )
    commit(project, "my edit")
    totp_files = [
        "factors/totp.py",
        "factors/otp.py",
        "secret_box.py",
        "contrib/sqlalchemy/totp.py",
        "tests/test_totp.py",
    ]

    update(dst, factors=["password", "totp"])
    assert answers(dst)["factors"] == ["password", "totp"]
    for name in totp_files:
        assert (dst / name).is_file(), name
    # Wiring in files that exist either way.
    assert (
        "SQLAlchemyTotpStore"
        in (dst / "contrib" / "sqlalchemy" / "__init__.py").read_text()
    )
    assert (
        "TotpFactor" in (dst / "contrib" / "fastapi" / "auth.py").read_text()
    )
    assert "otp_issuer" in (dst / "config.py").read_text()
    assert "timedelta(days=3)" in (dst / "config.py").read_text()
    assert_files_match(dst)
    assert_no_conflicts(dst)
    commit(project, "totp on")

    update(dst, factors=["password"])
    assert answers(dst)["factors"] == ["password"]
    for name in totp_files:
        assert not (dst / name).exists(), name
    assert (
        "Totp"
        not in (dst / "contrib" / "sqlalchemy" / "__init__.py").read_text()
    )
    assert "otp_issuer" not in (dst / "config.py").read_text()
    assert "timedelta(days=3)" in (dst / "config.py").read_text()
    assert_files_match(dst)
    assert_no_conflicts(dst)


MIGRATION = """
_migrations:
  - version: "1.1.0"
    command:
      - "{{ _copier_python }}"
      - "{{ _copier_conf.src_path }}/migrations/move.py"
      - "{{ _copier_conf.src_path }}"
      - "{{ _version_from }}"
      - clock.py
      - clocks.py
      - throttle.py
      - limits/throttle.py
"""


def move_files_in_template(template_repo: Path) -> None:
    """Version 1.1.0: clock.py renamed, throttle.py moved to limits/."""
    template = template_repo / "template"
    git(template_repo, "mv", "template/clock.py", "template/clocks.py")
    (template / "limits").mkdir()
    git(
        template_repo,
        "mv",
        "template/throttle.py",
        "template/limits/throttle.py",
    )
    # Template changes inside the moved files.
    edit(
        template / "clocks.py",
        '"""Time source,',
        '"""Clocks (1.1.0): time source,',
    )
    edit(
        template / "limits" / "throttle.py",
        '"code:account",\n',
        '"code:account",  # 1.1.0\n',
    )
    edit(
        template / "limits" / "throttle.py",
        '"sign_in:ip",\n',
        '"sign_in:ip",  # 1.1.0\n',
    )
    append(template_repo / "copier.yml", MIGRATION)
    release(template_repo, "1.1.0")


def test_moved_files_keep_user_edits(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    user_code = '\n\ndef user_helper() -> str:\n    return "mine"\n'
    append(dst / "clock.py", user_code)
    throttle = dst / "throttle.py"
    edit(throttle, '"sign_in:account",\n', '"sign_in:account",  # mine\n')
    edit(throttle, '"sign_in:ip",\n', '"sign_in:ip",  # mine\n')
    commit(project, "my edits")
    move_files_in_template(template_repo)

    # The migration runs a command: copier wants --trust for this update.
    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(dst)
    assert status(project) == ""
    assert answers(dst)["_commit"] == "1.0.0"

    update(dst, trust=True)

    assert answers(dst)["_commit"] == "1.1.0"
    assert not (dst / "clock.py").exists()
    assert not throttle.exists()
    # Edits and template changes that do not overlap: merged cleanly.
    clocks = (dst / "clocks.py").read_text()
    assert user_code in clocks
    assert clocks.startswith('"""Clocks (1.1.0): time source,')
    assert CONFLICT_START not in clocks
    moved = (dst / "limits" / "throttle.py").read_text()
    assert '"sign_in:account",  # mine\n' in moved
    assert '"code:account",  # 1.1.0\n' in moved
    # The same line changed on both sides: an inline conflict.
    assert (
        f"{CONFLICT_START}\n"
        '        "sign_in:ip",  # mine\n'
        "=======\n"
        '        "sign_in:ip",  # 1.1.0\n'
        f"{CONFLICT_END}\n"
    ) in moved
    assert moved.count(CONFLICT_START) == 1
    assert not list(dst.rglob("*.rej"))


def test_unedited_moved_files_take_the_new_version(
    template_repo: Path,
    project: Path,
) -> None:
    dst = copy(template_repo, project)
    move_files_in_template(template_repo)
    update(dst, trust=True)
    rendered = template_repo / "template"
    assert (dst / "clocks.py").read_text() == (
        rendered / "clocks.py"
    ).read_text()
    assert (dst / "limits" / "throttle.py").read_text() == (
        rendered / "limits" / "throttle.py"
    ).read_text()
    assert not (dst / "clock.py").exists()


def test_moves_need_no_trust_to_copy_or_after_the_move(
    template_repo: Path,
    project: Path,
) -> None:
    move_files_in_template(template_repo)
    dst = copy(template_repo, project)  # a plain copy runs no migration
    assert (dst / "clocks.py").is_file()
    assert (dst / "limits" / "throttle.py").is_file()
    update(dst)  # same version: no migration to run, no trust
    assert status(project) == ""


def latest_release(repo: Path) -> str:
    """The newest PEP 440 release tag of this repository, else HEAD."""
    tags = git(repo, "tag", "--list", "--sort=-v:refname").split()
    releases = [t for t in tags if t.replace(".", "").isdigit()]
    return releases[0] if releases else "HEAD"


def export(ref: str, dst: Path) -> None:
    """The files of ``ref`` in this repository (works on shallow clones)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dst, filter="data")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"factors": ALL_FACTORS, "oauth_providers": ALL_PROVIDERS},
    ],
    ids=["default", "every-feature"],
)
def test_update_from_last_release_to_working_tree(
    tmp_path: Path,
    project: Path,
    data: dict[str, Any],
    record_property: Any,
) -> None:
    """The last release (or HEAD before the first one) -> working tree."""
    template = tmp_path / "template"
    template.mkdir()
    export(latest_release(ROOT), template)
    git(template, "init", "-q")
    release(template, "0.1.0")
    dst = copy(template, project, **data)
    edit(
        dst / "config.py",
        "session_idle_timeout: timedelta = timedelta(days=7)",
        "session_idle_timeout: timedelta = timedelta(days=3)",
    )
    commit(project, "my edit")

    for path in template.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    work = copy_working_tree(tmp_path / "work")
    shutil.copytree(work, template, dirs_exist_ok=True)
    release(template, "0.2.0")

    started = time.perf_counter()
    update(dst)
    seconds = time.perf_counter() - started
    record_property("update_seconds", round(seconds, 2))
    label = "+".join(data.get("factors", ["default answers"]))
    print(f"update to the working tree ({label}): {seconds:.2f} s")

    assert answers(dst)["_commit"] == "0.2.0"
    assert "timedelta(days=3)" in (dst / "config.py").read_text()
    assert_files_match(dst)
    assert_no_conflicts(dst)
    recorded = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert recorded["factors"] == data.get("factors", ["password"])
