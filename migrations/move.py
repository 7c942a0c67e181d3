"""Copier migration step: carry the user's edits into moved files.

When a template version moves or renames a generated file, ``copier
update`` deletes the old file and writes the new one fresh: the user's
edits to it are silently dropped. Listing the move in ``copier.yml`` runs
this script after such an update (in the package folder)::

    _migrations:
      - version: "0.2.0"           # the release that moved the files
        command:
          - "{{ _copier_python }}"
          - "{{ _copier_conf.src_path }}/migrations/move.py"
          - "{{ _copier_conf.src_path }}"
          - "{{ _version_from }}"
          - clock.py               # old path, new path, ...
          - time/clock.py

For each (old, new) pair it does the three-way merge copier would have
done had the file not moved: the user's committed old file, the old
file as the previous version rendered it (rendered again here from the
template's history, with the previous answers), and the new file as this
update wrote it. Edits that do not overlap merge cleanly; overlapping ones
leave copier's inline conflict markers. Pairs are skipped when the user
had no such file (a feature that is off, a file they deleted) or never
edited it. It runs on the Python that runs copier, so copier and PyYAML
are importable; only after an update (``_stage == 'after'``, the default),
and copier asks for ``--trust`` for that update, as for any migration.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import copier
import yaml

ANSWERS = ".copier-answers.yml"
LABELS = ("before updating", "last update", "after updating")


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        check=False,
    )


def committed(path: str) -> bytes | None:
    """The file as committed before the update (copier wants it clean)."""
    result = git("show", f"HEAD:./{path}")
    return result.stdout if result.returncode == 0 else None


def previous_answers() -> dict[str, Any]:
    text = committed(ANSWERS)
    if text is None:
        raise SystemExit(f"move.py: no committed {ANSWERS} here")
    answers = yaml.safe_load(text)
    return {k: v for k, v in answers.items() if not k.startswith("_")}


def render_previous(source: Path, ref: str, dst: Path) -> Path:
    """The package as template version ``ref`` rendered it."""
    archive = git("archive", "--format=tar", ref, cwd=source)
    if archive.returncode != 0:
        raise SystemExit(f"move.py: cannot read {ref} in {source}")
    template = dst / "template"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(template, filter="data")
    package = dst / "package"
    copier.run_copy(
        str(template),
        str(package),
        data=previous_answers(),
        defaults=True,
        quiet=True,
    )
    return package


def merge(old: str, new: str, previous: Path, scratch: Path) -> str | None:
    """Merge the user's edits of ``old`` into ``new``; what happened."""
    ours = committed(old)
    base = previous / old
    theirs = Path(new)
    if ours is None or not base.is_file() or not theirs.is_file():
        return None
    if ours == base.read_bytes():
        return None  # never edited: the new file is right as it is
    mine = scratch / "mine"
    mine.write_bytes(ours)
    result = git(
        "merge-file",
        "--stdout",
        *(arg for label in LABELS for arg in ("-L", label)),
        str(mine),
        str(base),
        str(theirs),
    )
    if result.returncode > 127:  # conflicts: 1..127
        raise SystemExit(f"move.py: git merge-file failed on {new}")
    theirs.write_bytes(result.stdout)
    Path(old).unlink(missing_ok=True)
    if result.returncode:
        return f"{old} -> {new}: your edits merged, with conflicts to resolve"
    return f"{old} -> {new}: your edits merged"


def main(args: list[str]) -> int:
    if len(args) < 4 or len(args) % 2:
        print(
            "usage: move.py TEMPLATE VERSION_FROM OLD NEW [OLD NEW ...]",
            file=sys.stderr,
        )
        return 2
    source, ref, *paths = args
    pairs = list(zip(paths[::2], paths[1::2], strict=True))
    if all(committed(old) is None for old, _ in pairs):
        return 0  # none of the moved files was generated here
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        previous = render_previous(Path(source), ref, scratch)
        for old, new in pairs:
            outcome = merge(old, new, previous, scratch)
            if outcome:
                print(outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
