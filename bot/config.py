"""Settings: read once from the environment and an optional `.env`, validated, passed down."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.sla import SlaPolicy, policy_for

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PHRASEBOOK_DIR = REPO_ROOT / "phrasebook"
DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"

Language = Literal["zh-Hans", "zh-Hant", "en"]
IdList = Annotated[list[int], NoDecode]

_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
_PLACEHOLDER_TOKENS = {"", "changeme", "your-token-here", "token", "<token>", "xxx"}


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Every setting Kefu reads; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(
        env_prefix="KEFU_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    bot_token: SecretStr | None = None
    data_dir: Path = Path("data")
    database_url: str | None = None
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE_URL
    admin_ids: IdList = Field(default_factory=list)
    supervisor_ids: IdList = Field(default_factory=list)
    agent_ids: IdList = Field(default_factory=list)
    language: Language = "zh-Hans"
    phrasebook_dir: Path = DEFAULT_PHRASEBOOK_DIR
    shop_name: str = ""
    timezone: str = "Asia/Shanghai"
    supervisor_chat_id: int | None = None
    routing: Literal["topics", "agents"] = "topics"
    agent_chat_id: int | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    sla_preset: Literal["taobao", "kuaishou", "amazon"] = "taobao"
    ack_after_seconds: float | None = Field(default=None, ge=0)
    sla_target_seconds: float | None = Field(default=None, gt=0)
    scheduler_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # How often each bot process looks for new shop words or a new shop model (one small query).
    shop_poll_seconds: float = Field(default=0.5, gt=0, le=3600)
    # Retraining the shop's model (/retrain, kefu train --shop) needs this many labels.
    shop_min_labels: int = Field(default=20, ge=2)
    witness_hour: int = Field(default=9, ge=0, le=23)
    retention_days: int | None = Field(default=None, ge=1)  # erase closed cases older
    telegram_rate_limit: float = Field(default=30.0, ge=0)
    telegram_group_rate_limit: int = Field(default=20, ge=0)
    log_format: Literal["text", "json"] = "text"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_listen: str = "127.0.0.1"

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, value: Any) -> Any:
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        text = text.strip()
        if text == "":
            return None
        if text.lower() in _PLACEHOLDER_TOKENS or not _TOKEN_RE.match(text):
            raise ValueError("is not a bot token from @BotFather (digits:letters)")
        return text

    @field_validator("phrasebook_dir", "data_dir", mode="before")
    @classmethod
    def _empty_path_is_default(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str) and value.strip() == "":
            return DEFAULT_PHRASEBOOK_DIR if info.field_name == "phrasebook_dir" else Path("data")
        return value

    @field_validator("admin_ids", "supervisor_ids", "agent_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in re.split(r"[,\s]+", value) if p.strip()]
            for part in parts:
                if not re.fullmatch(r"-?\d+", part):
                    raise ValueError(f"{part!r} is not a numeric Telegram user id")
            return [int(p) for p in parts]
        return value

    @field_validator(
        "agent_chat_id",
        "webhook_url",
        "webhook_secret",
        "ack_after_seconds",
        "retention_days",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format_word(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower() or "text"
            if value not in ("text", "json"):
                raise ValueError(f"{value!r} is not a log format: use text or json")
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_port_is_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("supervisor_chat_id", mode="before")
    @classmethod
    def _empty_chat_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _base_url_shape(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://", value) or not value.endswith("/bot"):
            raise ValueError(
                "must be an http(s) URL ending in /bot, like https://api.telegram.org/bot"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like Asia/Shanghai") from None
        return value

    @property
    def sla_policy(self) -> SlaPolicy:
        """The shop's quick-response policy: the preset, with the two overrides when set."""
        return policy_for(
            self.sla_preset,
            ack_after_seconds=self.ack_after_seconds,
            target_seconds=self.sla_target_seconds,
        )

    @property
    def telegram_file_url(self) -> str:
        """The Bot API file URL: the base URL with its final `/bot` replaced by `/file/bot`."""
        return self.telegram_base_url[: -len("/bot")] + "/file/bot"

    @property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL: the configured one with its async driver, or the SQLite default."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'kefu.db').resolve()}"
        return async_url(self.database_url)

    def ensure_data_dir(self) -> Path:
        """Create the data directory on demand and return it; SettingsError when it is unusable."""
        where = self.data_dir
        if where.exists() and not where.is_dir():
            raise SettingsError(f"KEFU_DATA_DIR: {where} is not a directory")
        try:
            where.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=where):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SettingsError(f"KEFU_DATA_DIR: {where} is not writable ({reason})") from None
        return where


def async_url(url: str) -> str:
    """Give a plain database URL its async driver (aiosqlite or asyncpg)."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg2://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; a bad value raises SettingsError with one line naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise SettingsError(f"KEFU_{field.upper()}: {_reason(first)}") from None


def _reason(error: Any) -> str:
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")
