"""Defect 23: an unusable KEFU_DATA_DIR, an unreachable Telegram and an unwritable export path are
each one line naming what the user set, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.tg import startup
from tests.cli.conftest import TOKEN, Kefu
from tests.e2e.emulator import InProcessTelegram


@pytest.mark.parametrize("args", [["db", "upgrade"], ["console"]], ids=" ".join)
def test_defect_23_a_data_dir_that_is_a_file_names_the_variable(
    kefu: Kefu, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    result = kefu(*args, env={"KEFU_DATA_DIR": "notes.txt"}, stdin="/quit\n")
    assert (result.code, result.stderr) == (
        2,
        "kefu: error: KEFU_DATA_DIR: notes.txt is not a directory\n",
    )


def test_defect_23_a_data_dir_that_cannot_be_written_names_the_variable(kefu: Kefu) -> None:
    """/sys refuses new files even to root (a chmod'ed folder would not stop root)."""
    result = kefu("db", "upgrade", env={"KEFU_DATA_DIR": "/sys/kefu-data"})
    assert result.code == 2
    assert result.stderr.startswith("kefu: error: KEFU_DATA_DIR: /sys/kefu-data is not writable (")
    assert result.stderr.count("\n") == 1


def test_defect_23_run_retries_an_unreachable_telegram_then_says_so_in_one_line(
    kefu: Kefu, free_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(startup, "STARTUP_RETRY_DELAYS", (0.01, 0.02))
    assert kefu("db", "upgrade").code == 0
    base = f"http://127.0.0.1:{free_port}/bot"
    with caplog.at_level(logging.WARNING, logger="bot.tg.startup"):
        result = kefu(
            "run",
            env={
                "KEFU_BOT_TOKEN": TOKEN,
                "KEFU_ROUTING": "agents",
                "KEFU_TELEGRAM_BASE_URL": base,
            },
        )
    retries = [r.getMessage() for r in caplog.records if r.name == "bot.tg.startup"]
    assert [line.split(": attempt ")[1] for line in retries] == [
        "1 of 3, next in 0 s",
        "2 of 3, next in 0 s",
    ]
    assert result.code == 1
    assert result.stderr.startswith(
        f"kefu: error: cannot reach Telegram at {base} after 3 attempts over 0 s ("
    )
    assert result.stderr.endswith(
        "); check the network (or KEFU_TELEGRAM_BASE_URL) and start again\n"
    )
    assert result.stderr.count("\n") == 1  # no traceback


def test_defect_23_reaching_telegram_takes_one_attempt_when_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram = InProcessTelegram()
    try:
        settings = load_settings(
            bot_token=telegram.token, telegram_base_url=telegram.base_url, _env_file=None
        )
        with caplog.at_level(logging.WARNING, logger="bot.tg.startup"):
            asyncio.run(startup.reach_telegram(settings, delays=(0.01,)))
    finally:
        telegram.close()
    assert [r for r in caplog.records if r.name == "bot.tg.startup"] == []


@pytest.mark.parametrize(
    "output",
    ["/sys/kefu-export.csv", "notes.txt/export.csv", "exports"],
    ids=["read-only", "under-a-file", "a-folder"],
)
def test_defect_23_export_to_an_unwritable_path_names_the_path_given(
    kefu: Kefu, tmp_path: Path, output: str
) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    (tmp_path / "exports").mkdir()
    assert kefu("db", "upgrade").code == 0
    result = kefu("export", "--format", "csv", "--output", output)
    assert result.code == 2
    assert result.stderr.startswith(f"kefu: error: cannot write {output}: ")
    assert ".partial" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "exports", "notes.txt"]
