"""Questions: invalid answers are refused whole; the matrix is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier
import pytest

from tests import make_matrix, matrix


@pytest.mark.parametrize(
    ("data", "question"),
    [
        pytest.param(
            {"sqlalchemy_stores": False, "fastapi_routers": True},
            "fastapi_routers",
            id="routers-without-stores",
        ),
        pytest.param(
            {"factors": [], "oauth_providers": []},
            "oauth_providers",
            id="nothing-starts-a-sign-in",
        ),
        pytest.param(
            {"factors": ["totp"], "oauth_providers": []},
            "oauth_providers",
            id="second-factor-only",
        ),
        pytest.param(
            {"factors": ["password", "backup_codes"]},
            "factors",
            id="backup-codes-without-otp",
        ),
        pytest.param(
            {"factors": ["totp"], "oauth_providers": ["github"]},
            "fastapi_routers",
            id="routers-with-github-only",
        ),
        pytest.param({"package_name": "Auth-Pkg"}, "package_name", id="name"),
        pytest.param({"package_name": "1auth"}, "package_name", id="digit"),
    ],
)
def test_invalid_answers_are_refused(
    template_src: Path,
    tmp_path: Path,
    data: dict[str, Any],
    question: str,
) -> None:
    dst = tmp_path / "auth"
    with pytest.raises(ValueError, match=f"question '{question}'"):
        copier.run_copy(
            str(template_src),
            str(dst),
            data=data,
            defaults=True,
            unsafe=False,
            quiet=True,
        )
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == []


def test_refused_into_existing_folder_writes_nothing(
    template_src: Path,
    tmp_path: Path,
) -> None:
    dst = tmp_path / "auth"
    dst.mkdir()
    with pytest.raises(ValueError, match="fastapi_routers"):
        copier.run_copy(
            str(template_src),
            str(dst),
            data={"sqlalchemy_stores": False, "fastapi_routers": True},
            defaults=True,
            unsafe=False,
            quiet=True,
        )
    assert list(dst.iterdir()) == []


@pytest.mark.parametrize(
    "providers",
    [["oidc"], ["google", "github"], ["apple"], ["line"]],
)
def test_routers_with_an_openid_provider_only(
    template_src: Path,
    tmp_path: Path,
    providers: list[str],
) -> None:
    """Step-up then goes through the provider: no POST /reauthenticate."""
    dst = tmp_path / "auth"
    copier.run_copy(
        str(template_src),
        str(dst),
        data={"factors": [], "oauth_providers": providers},
        defaults=True,
        unsafe=False,
        quiet=True,
    )
    routes = dst / "contrib" / "fastapi" / "routes"
    assert (routes / "oauth.py").is_file()
    assert not (routes / "reauthenticate.py").exists()
    assert "reauthenticate" not in (routes / "__init__.py").read_text()


def test_matrix_is_current() -> None:
    """tests/matrix.yml is what tests/make_matrix.py makes of copier.yml."""
    assert make_matrix.dump(make_matrix.build()) == (
        matrix.MATRIX_FILE.read_text()
    ), "run: uv run python tests/make_matrix.py"


def test_matrix_rows_cover_every_choice() -> None:
    """Each choice and each bool value appears in some row."""
    rows = matrix.load_rows()
    for name, spec in make_matrix.questions().items():
        if "choices" in spec and spec.get("multiselect"):
            seen = {v for row in rows for v in row[name]}
            values = set(make_matrix.choice_values(spec))
        elif "choices" in spec:
            seen = {row[name] for row in rows}
            values = set(make_matrix.choice_values(spec))
        elif spec.get("type") == "bool":
            seen = {row[name] for row in rows}
            values = {True, False}
        else:
            continue
        assert seen == values, name
