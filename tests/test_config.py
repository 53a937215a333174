"""Settings validation: defaults, parsing, and one clear line naming a bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, async_url, load_settings

GOOD_TOKEN = "123456789:AAHk3xZ-abcdefghijklmnopqrstuvwxyz0"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("KEFU_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_defaults() -> None:
    settings = load_settings()
    assert settings.bot_token is None
    assert settings.data_dir == Path("data")
    assert settings.language == "zh-Hans"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_file_url == "https://api.telegram.org/file/bot"
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{(Path('data') / 'kefu.db').resolve()}"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_BOT_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("KEFU_ADMIN_IDS", "1, 2 3")
    monkeypatch.setenv("KEFU_LANGUAGE", "en")
    monkeypatch.setenv("KEFU_TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("KEFU_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    settings = load_settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == GOOD_TOKEN
    assert GOOD_TOKEN not in repr(settings)
    assert settings.admin_ids == [1, 2, 3]
    assert settings.language == "en"
    assert settings.telegram_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings.sqlalchemy_url == "postgresql+asyncpg://postgres@127.0.0.1/test"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KEFU_AGENT_IDS=42\nKEFU_LANGUAGE=zh-Hant\n", encoding="utf-8")
    settings = load_settings()
    assert (settings.agent_ids, settings.language) == ([42], "zh-Hant")


@pytest.mark.parametrize(
    ("variable", "value", "expected_start"),
    [
        ("KEFU_LANGUAGE", "fr", "KEFU_LANGUAGE: "),
        ("KEFU_BOT_TOKEN", "changeme", "KEFU_BOT_TOKEN: is not a bot token"),
        ("KEFU_BOT_TOKEN", "12345", "KEFU_BOT_TOKEN: is not a bot token"),
        ("KEFU_ADMIN_IDS", "1,alice", "KEFU_ADMIN_IDS: 'alice' is not a numeric"),
        ("KEFU_TELEGRAM_BASE_URL", "https://api.telegram.org", "KEFU_TELEGRAM_BASE_URL: must be"),
        ("KEFU_DATABASE_URL", "mysql://x", "KEFU_DATABASE_URL: must be"),
        ("KEFU_TIMEZONE", "Mars/Base", "KEFU_TIMEZONE: 'Mars/Base' is not"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected_start: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected_start)
    assert "\n" not in message


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.language = "en"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_async_url(url: str, expected: str) -> None:
    assert async_url(url) == expected


def test_empty_values_from_env_example_mean_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import DEFAULT_PHRASEBOOK_DIR

    for name in ("KEFU_BOT_TOKEN", "KEFU_DATABASE_URL", "KEFU_PHRASEBOOK_DIR", "KEFU_DATA_DIR"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert (settings.bot_token, settings.database_url) == (None, None)
    assert (settings.phrasebook_dir, settings.data_dir) == (DEFAULT_PHRASEBOOK_DIR, Path("data"))


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text(encoding="utf-8")
    documented = {
        line.split("=", 1)[0] for line in example.splitlines() if line.startswith("KEFU_")
    }
    assert documented == {f"KEFU_{name.upper()}" for name in Settings.model_fields}


def test_an_empty_retention_setting_keeps_everything() -> None:
    """`KEFU_RETENTION_DAYS=` as .env.example ships it means off, not an error."""
    assert load_settings(_env_file=None, retention_days="").retention_days is None
    assert load_settings(_env_file=None, retention_days="30").retention_days == 30
