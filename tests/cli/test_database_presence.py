"""Defect 22: only `kefu db upgrade` (and the console's practice database) creates a database.

Every other command run where there is no database says so in one line and creates nothing.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import pytest

from bot.storage import migrate
from bot.storage.presence import head_revision
from tests.cli.conftest import TOKEN, Kefu

NEEDS_A_DATABASE = [
    ["verify"],
    ["export", "--format", "csv", "--output", "out.csv"],
    ["export", "--format", "html", "--case", "1", "--output", "case.html"],
    ["export", "--format", "bundle", "--case", "1", "--output", "case.zip"],
    ["report"],
    ["db", "current"],
    ["db", "downgrade", "base"],
    ["console", "--record"],
    ["run"],
]
BOT_ENV = {"KEFU_BOT_TOKEN": TOKEN, "KEFU_ROUTING": "agents"}


@pytest.mark.parametrize("args", NEEDS_A_DATABASE, ids=" ".join)
def test_defect_22_no_database_is_one_line_and_nothing_is_created(
    kefu: Kefu, tmp_path: Path, args: list[str]
) -> None:
    """Run from a folder that is not the project's: no ./data/kefu.db appears, no SQL error."""
    result = kefu(*args, env=BOT_ENV)
    where = (tmp_path / "data" / "kefu.db").resolve()
    assert (result.code, result.stderr) == (
        2,
        f"kefu: error: no database at {where} (set KEFU_DATA_DIR or run kefu db upgrade)\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_defect_22_db_upgrade_is_what_creates_it(kefu: Kefu, tmp_path: Path) -> None:
    assert kefu("db", "upgrade").code == 0
    result = kefu("verify")
    assert (result.code, result.stdout.split(",")[0]) == (0, "OK: 0 records")


def test_defect_22_an_empty_file_is_not_a_database_yet(kefu: Kefu, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kefu.db").touch()
    result = kefu("verify")
    where = (tmp_path / "data" / "kefu.db").resolve()
    assert (result.code, result.stderr) == (
        2,
        f"kefu: error: the database at {where} is not set up yet (run kefu db upgrade)\n",
    )


def test_defect_22_an_older_schema_is_named_with_the_revision_needed(
    kefu: Kefu, tmp_path: Path
) -> None:
    database = tmp_path / "data" / "kefu.db"
    database.parent.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{database}", "0001")
    result = kefu("export", "--format", "csv", "--output", "out.csv")
    assert (result.code, result.stderr) == (
        2,
        f"kefu: error: the database at {database.resolve()} is at revision 0001,"
        f" this Kefu needs {head_revision()} (run kefu db upgrade)\n",
    )
    assert not (tmp_path / "out.csv").exists()


def test_defect_22_an_unreachable_postgresql_server_is_one_line(kefu: Kefu, free_port: int) -> None:
    url = f"postgresql://kefu@127.0.0.1:{free_port}/kefu"
    result = kefu("verify", env={"KEFU_DATABASE_URL": url})
    assert result.code == 1
    assert result.stderr.startswith(f"kefu: error: cannot connect to the database at {url}: ")
    assert result.stderr.count("\n") == 1


def test_defect_22_a_missing_postgresql_database_is_one_line(kefu: Kefu) -> None:
    admin = os.environ.get("KEFU_TEST_POSTGRES_URL", "").strip()
    if not admin:
        pytest.skip("KEFU_TEST_POSTGRES_URL is not set")
    url = f"{admin.rpartition('/')[0]}/kefu_missing_{uuid.uuid4().hex[:8]}"
    result = kefu("verify", env={"KEFU_DATABASE_URL": url})
    assert (result.code, result.stderr) == (
        2,
        f"kefu: error: no database at {url} (create it with createdb, then run kefu db upgrade)\n",
    )


def test_defect_22_the_practice_console_leaves_the_real_database_alone(
    kefu: Kefu, tmp_path: Path
) -> None:
    result = kefu("console", stdin="/quit\n")
    assert result.code == 0
    assert sorted(p.name for p in (tmp_path / "data").iterdir() if p.suffix == ".db") == [
        "practice.db"
    ]
    with sqlite3.connect(tmp_path / "data" / "practice.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
