"""Schema migrations: the Alembic recipe of the generated README, tested.

The recipe (README.md.jinja, "Migrations"): ``alembic init -t async
migrations``; in ``migrations/env.py`` import the package's ``metadata``
and set ``target_metadata``; in ``migrations/script.py.mako`` import
``sqlmodel`` and the package's ``contrib.sqlalchemy.types`` (autogenerate
names their column types). Then ``alembic revision --autogenerate``.

Every matrix row with stores: autogenerate creates all of its tables, on
SQLite and PostgreSQL, and leaves nothing for ``alembic check``. And a
template release that adds a column: ``copier update``, autogenerate,
and the database made by the previous version upgrades with its rows.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import copier
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import matrix
from tests.conftest import Rendered, git
from tests.tools import output, run, tool

Matrix = tuple[Path, list[Rendered]]
STORE_ROWS = [
    i for i, row in enumerate(matrix.load_rows()) if row["sqlalchemy_stores"]
]
ENV_IMPORT = """\
from app.auth.contrib.sqlalchemy import metadata

target_metadata = metadata
"""
MAKO_IMPORTS = """\
import sqlalchemy as sa
import sqlmodel

import app.auth.contrib.sqlalchemy.types
"""
# Runs in a fresh interpreter: each package declares its tables on the
# shared SQLModel.metadata, so two packages cannot share a process.
DRIVER = """
import asyncio, json, sys
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

async def table_names(url):
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(
            lambda sync: inspect(sync).get_table_names()
        )
    await engine.dispose()
    return sorted(names)

config = Config("alembic.ini")
urls = sys.argv[1:]
config.set_main_option("sqlalchemy.url", urls[0])
command.revision(config, message="auth tables", autogenerate=True)
tables = {}
for url in urls:
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    command.check(config)
    tables[url] = asyncio.run(table_names(url))
print(json.dumps(tables))
"""


def alembic_env(project: Path) -> None:
    """``alembic init -t async migrations`` plus the recipe's two edits."""
    result = run(
        [tool("alembic"), "init", "-t", "async", "migrations"],
        cwd=project,
    )
    assert result.returncode == 0, output(result)
    env = project / "migrations" / "env.py"
    text_ = env.read_text()
    assert text_.count("target_metadata = None\n") == 1
    env.write_text(text_.replace("target_metadata = None\n", ENV_IMPORT))
    mako = project / "migrations" / "script.py.mako"
    text_ = mako.read_text()
    assert text_.count("import sqlalchemy as sa\n") == 1
    mako.write_text(text_.replace("import sqlalchemy as sa\n", MAKO_IMPORTS))


KEY = "sqlalchemy.url ="


def alembic(project: Path, *args: str, url: str) -> str:
    """The alembic CLI, with ``sqlalchemy.url`` set to ``url``."""
    ini = project / "alembic.ini"
    lines = [
        f"{KEY} {url}" if line.startswith(KEY) else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")
    result = run([tool("alembic"), *args], cwd=project)
    assert result.returncode == 0, output(result)
    return result.stdout + result.stderr


@pytest.fixture
def pg_database(postgres: str) -> Iterator[str]:
    """A fresh PostgreSQL database (asyncpg URL), dropped afterwards."""
    name = f"alembic_{secrets.token_hex(6)}"
    admin_url = make_url(postgres)

    async def execute(statement: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(
            hide_password=False,
        )
    finally:
        asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


def user_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    return root


@pytest.mark.parametrize(
    "index",
    STORE_ROWS,
    ids=[f"pkg_{i}" for i in STORE_ROWS],
)
def test_autogenerate_creates_every_table(
    matrix_dir: Matrix,
    pg_database: str,
    tmp_path: Path,
    index: int,
) -> None:
    _, rendered = matrix_dir
    row = rendered[index]
    project = user_project(tmp_path)
    shutil.copytree(row.path, project / "app" / "auth")
    alembic_env(project)
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"

    result = run(
        [sys.executable, "-c", DRIVER, sqlite, pg_database],
        cwd=project,
    )
    assert result.returncode == 0, output(result)
    tables = json.loads(result.stdout.splitlines()[-1])

    expected = metadata_tables(project)
    assert expected, "the package declares no tables"
    migration = next((project / "migrations" / "versions").glob("*.py"))
    source = migration.read_text()
    for table in expected:
        assert f"op.create_table('{table}'" in source, table
    for url in (sqlite, pg_database):
        assert tables[url] == sorted([*expected, "alembic_version"]), url


def metadata_tables(project: Path) -> list[str]:
    result = run(
        [
            sys.executable,
            "-c",
            "from app.auth.contrib.sqlalchemy import metadata; "
            "print(' '.join(sorted(metadata.tables)))",
        ],
        cwd=project,
    )
    assert result.returncode == 0, output(result)
    return result.stdout.split()


COLUMN = "    display_name: str | None = Field(default=None, max_length=80)\n"


def test_template_change_to_a_table_upgrades_old_database(
    template_repo: Path,
    pg_database: str,
    tmp_path: Path,
) -> None:
    project = user_project(tmp_path)
    git(project, "init", "-q")
    dst = project / "app" / "auth"
    copier.run_copy(
        str(template_repo),
        str(dst),
        defaults=True,
        unsafe=False,
        quiet=True,
    )
    alembic_env(project)
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    databases = (sqlite, pg_database)
    alembic(project, "revision", "--autogenerate", "-m", "v1", url=sqlite)
    for url in databases:
        alembic(project, "upgrade", "head", url=url)
        asyncio.run(insert_user(url))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "auth 1.0.0 and its tables")

    # Release 1.1.0 of the template adds a column to the users table.
    tables = next(
        (template_repo / "template").glob("*contrib*/sqlalchemy/tables.py*"),
    )
    source = tables.read_text()
    assert source.count("    is_active: bool = True\n") == 1
    tables.write_text(
        source.replace(
            "    is_active: bool = True\n",
            "    is_active: bool = True\n" + COLUMN,
        ),
    )
    git(template_repo, "add", "-A")
    git(template_repo, "commit", "-qm", "1.1.0")
    git(template_repo, "tag", "1.1.0")
    copier.run_update(
        str(dst),
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
    )
    assert COLUMN in (dst / "contrib" / "sqlalchemy" / "tables.py").read_text()

    alembic(project, "revision", "--autogenerate", "-m", "v2", url=sqlite)
    v2 = next((project / "migrations" / "versions").glob("*_v2.py"))
    migration = v2.read_text()
    assert "op.add_column('auth_users', sa.Column('display_name'" in migration
    assert "op.drop_table" not in migration
    assert "op.create_table" not in migration
    for url in databases:
        alembic(project, "upgrade", "head", url=url)
        assert asyncio.run(read_users(url)) == [("ann@example.com", None)]
        assert "No new upgrade operations detected" in alembic(
            project,
            "check",
            url=url,
        )


async def insert_user(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO auth_users "
                "(email, email_verified, is_active, created_at) "
                "VALUES ('ann@example.com', false, true, CURRENT_TIMESTAMP)",
            ),
        )
    await engine.dispose()


async def read_users(url: str) -> list[tuple[str, str | None]]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT email, display_name FROM auth_users"),
        )
        users = [(row.email, row.display_name) for row in rows]
    await engine.dispose()
    return users
