"""The committed answer rows (tests/matrix.yml) and their test ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MATRIX_FILE = Path(__file__).with_name("matrix.yml")


def load_rows() -> list[dict[str, Any]]:
    """Answers for every row, in file order (row i renders as pkg_i)."""
    document = yaml.safe_load(MATRIX_FILE.read_text())
    rows = document["rows"]
    assert isinstance(rows, list)
    return rows


def row_id(index: int, answers: dict[str, Any]) -> str:
    """A readable pytest id: ``pkg_0-int-password-stores-routers``."""
    parts = [f"pkg_{index}"]
    for key, value in answers.items():
        if isinstance(value, list):
            parts.append("+".join(map(str, value)) or f"no-{key}")
        elif isinstance(value, bool):
            short = key.split("_")[-1]
            parts.append(short if value else f"no-{short}")
        else:
            parts.append(str(value))
    return "-".join(parts)


def ids() -> list[str]:
    return [row_id(i, row) for i, row in enumerate(load_rows())]


def indices() -> list[int]:
    return list(range(len(load_rows())))
