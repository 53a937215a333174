"""`kefu train --shop`, `kefu model list|rollback`, `kefu phrasebook export-shop` (issue 15)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from bot.core.shop_words import WordRequest
from bot.core.types import Category
from bot.phrasebook.rules import load_rules
from bot.service import shop_model
from bot.storage.database import Database
from bot.understanding import load_understanding
from tests.cli.conftest import Kefu
from tests.service.monitor_shop import WORD, corrections

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"


@pytest.fixture
def env(tmp_path: Path, kefu: Kefu) -> dict[str, str]:
    """Settings of a shop with a migrated SQLite database in tmp_path/data."""
    settings = {"KEFU_DATA_DIR": str(tmp_path / "data")}
    assert kefu("db", "upgrade", env=settings).code == 0
    return settings


def _db(tmp_path: Path) -> Database:
    return Database.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'kefu.db'}")


async def _train(tmp_path: Path, times: int = 1) -> list[int]:
    db = _db(tmp_path)
    try:
        understanding = load_understanding(PHRASEBOOK)
        return [
            (
                await shop_model.train_and_activate(
                    db=db, understanding=understanding, created_by=None, labels=corrections()
                )
            ).version_id
            for _ in range(times)
        ]
    finally:
        await db.close()


def test_train_shop_without_a_database_says_what_to_do(kefu: Kefu, tmp_path: Path) -> None:
    done = kefu("train", "--shop", env={"KEFU_DATA_DIR": str(tmp_path / "none")})
    assert (done.code, done.stderr.count("\n")) == (2, 1)
    assert "kefu db upgrade" in done.stderr


def test_model_list_and_rollback(kefu: Kefu, env: dict[str, str], tmp_path: Path) -> None:
    empty = kefu("model", "list", env=env)
    nothing = kefu("model", "rollback", env=env)
    one, two = asyncio.run(_train(tmp_path, times=2))
    listed = kefu("model", "list", env=env)
    back = kefu("model", "rollback", env=env)
    after = kefu("model", "list", env=env)

    assert empty.stdout == "no shop model yet: the shipped weights are in use (kefu train --shop)\n"
    assert (nothing.code, nothing.stderr) == (
        1,
        "kefu: error: nothing to roll back: the shipped weights are in use\n",
    )
    lines = listed.stdout.splitlines()
    assert [line[:6] for line in lines] == [f"     {one}", f"*    {two}"]
    # Before: the shipped weights on the newest labels held out (they know 鬼影 only in part).
    first = re.search(
        r"20 labels \(20 corrections\)  held-out accuracy (\d+\.\d)% -> 100\.0%", lines[0]
    )
    assert first is not None, lines[0]
    assert float(first.group(1)) < 100.0
    assert "held-out accuracy 100.0% -> 100.0%" in lines[1]  # measured against version 1
    assert back.stdout.startswith(f"rolled back from version {two} to version {one};")
    assert [line[:6] for line in after.stdout.splitlines()] == [f"*    {one}", f"     {two}"]


def test_export_shop_writes_overrides_the_rules_loader_reads(
    kefu: Kefu, env: dict[str, str], tmp_path: Path
) -> None:
    async def add() -> None:
        db = _db(tmp_path)
        try:
            await shop_model.add_word(
                db=db,
                understanding=load_understanding(PHRASEBOOK),
                request=WordRequest(WORD, "quality", 2.0),
                actor=5,
                actor_name="Sam",
            )
        finally:
            await db.close()

    asyncio.run(add())
    output = tmp_path / "shop.yaml"
    done = kefu("phrasebook", "export-shop", "--output", str(output), env=env)
    rules_dir = tmp_path / "rules"
    shutil.copytree(PHRASEBOOK / "rules", rules_dir)
    shutil.copy(output, rules_dir / "90-shop.yaml")

    assert done.stdout == f"wrote 1 shop words to {output}\n"
    assert load_rules(rules_dir).phrases[WORD].override == ((Category.QUALITY, 2.0),)
    unwritable = kefu("phrasebook", "export-shop", "--output", str(tmp_path / "no" / "x.yaml"))
    assert unwritable.code != 0
