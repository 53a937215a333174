"""`kefu doctor` against the Bot API emulator and real databases: one line per check (issue 16)."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.storage import migrate
from tests.e2e.emulator import InProcessTelegram

runner = CliRunner()


def _env(botapi: InProcessTelegram, data: Path, **extra: str) -> dict[str, str]:
    return {
        "KEFU_BOT_TOKEN": botapi.token,
        "KEFU_TELEGRAM_BASE_URL": botapi.base_url,
        "KEFU_DATA_DIR": str(data),
        "KEFU_DATABASE_URL": "",
        "KEFU_WEBHOOK_URL": "",
        **extra,
    }


def _doctor(env: dict[str, str], *args: str) -> tuple[int, dict[str, str]]:
    result = runner.invoke(app, ["doctor", *args], env=env)
    lines = {}
    for line in result.output.splitlines():
        mark, _, rest = line.partition(" ")
        name, _, _ = rest.partition(":")
        lines[name] = mark
    return result.exit_code, lines


def _upgraded(data: Path) -> Path:
    data.mkdir(parents=True)
    migrate.upgrade(f"sqlite+aiosqlite:///{data / 'kefu.db'}")
    return data


def _set_webhook(botapi: InProcessTelegram, url: str) -> None:
    request = urllib.request.Request(
        f"{botapi.base_url}{botapi.token}/setWebhook",
        data=json.dumps({"url": url}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["ok"] is True


@pytest.fixture
def botapi() -> Iterator[InProcessTelegram]:
    telegram = InProcessTelegram()
    try:
        yield telegram
    finally:
        telegram.close()


def test_a_healthy_installation_is_all_ticks(botapi: InProcessTelegram, tmp_path: Path) -> None:
    data = _upgraded(tmp_path / "data")
    code, lines = _doctor(_env(botapi, data))
    assert (code, lines) == (
        0,
        {
            "settings": "✓",
            "phrasebook": "✓",
            "disk": "✓",
            "telegram": "✓",
            "webhook": "✓",
            "database": "✓",
            "evidence chain": "✓",
            "agents": "✓",
        },
    )


def test_each_problem_is_a_cross_with_its_fix(botapi: InProcessTelegram, tmp_path: Path) -> None:
    data = _upgraded(tmp_path / "data")
    _set_webhook(botapi, "https://old.example.com/hook")
    connection = sqlite3.connect(data / "kefu.db")
    connection.execute("UPDATE chain_head SET hash = :h", {"h": "ab" * 32})
    connection.commit()
    connection.close()
    env = _env(botapi, data, KEFU_ROUTING="agents")
    result = runner.invoke(app, ["doctor"], env=env)
    code, lines = _doctor(env)
    assert code == 1
    assert (lines["webhook"], lines["evidence chain"], lines["agents"]) == ("✗", "✗", "✗")
    assert "fix: set KEFU_WEBHOOK_URL" in result.output
    assert "fix: agents send /available" in result.output


def test_no_database_and_a_refused_token(botapi: InProcessTelegram, tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    env = _env(botapi, data, KEFU_BOT_TOKEN="123456:" + "A" * 35)
    result = runner.invoke(app, ["doctor"], env=env)
    code, lines = _doctor(env)
    assert code == 1
    assert (lines["telegram"], lines["database"]) == ("✗", "✗")
    assert f"no database at {data / 'kefu.db'} — fix: run kefu db upgrade" in result.output
    assert not data.exists()  # the doctor looks; it creates nothing


def test_an_old_schema_is_named(botapi: InProcessTelegram, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{data / 'kefu.db'}", "0004")
    result = runner.invoke(app, ["doctor"], env=_env(botapi, data))
    assert result.exit_code == 1
    assert (
        "✗ database: at revision 0004, not the newest — fix: run kefu db upgrade" in result.output
    )


def test_a_refused_token_is_never_printed(botapi: InProcessTelegram, tmp_path: Path) -> None:
    token = "123456:" + "B" * 35
    result = runner.invoke(app, ["doctor"], env=_env(botapi, tmp_path, KEFU_BOT_TOKEN=token))
    assert "✗ telegram: Telegram refused the token" in result.output
    assert token not in result.output
