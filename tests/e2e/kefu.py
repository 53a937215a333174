"""Running the real Kefu application against the emulator: settings, database, a shop's team."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.app import build_application
from bot.config import Settings, load_settings
from bot.storage import migrate
from bot.storage.engine import make_engine
from bot.tg.webhook import MAX_BODY_BYTES, WebhookConfig, listening
from tests.e2e.emulator import InProcessTelegram

JSON = dict[str, Any]


@dataclass
class Shop:
    """A shop on the emulator: an agent, a supervisor, an admin, a buyer and the agents' forum."""

    botapi: InProcessTelegram
    agent: JSON
    supervisor: JSON
    admin: JSON
    buyer: JSON
    forum: JSON
    settings: Settings

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a query on the shop's database, as dicts."""
        engine = make_engine(self.settings.sqlalchemy_url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(text(sql), params)
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    async def card_suggestions(self, card_id: int) -> list[str]:
        """The suggestion texts stored for a card."""
        [row] = await self.rows("SELECT suggestions FROM cards WHERE id = :id", id=card_id)
        return [s["text"] for s in json.loads(row["suggestions"])]


def make_shop(
    botapi: InProcessTelegram, tmp_path: Path, *, database_url: str | None = None, **overrides: Any
) -> Shop:
    """Users, the agents' forum, and settings pointing Kefu at the emulator and a fresh database."""
    agent = botapi.create_user("Ada", username="ada_cs", language_code="zh-hans")
    supervisor = botapi.create_user("Sam", language_code="zh-hans")
    admin = botapi.create_user("Owner", language_code="zh-hans")
    buyer = botapi.create_user("小王", username="xiaowang", language_code="zh-hans")
    forum = botapi.create_forum("客服组", members=[admin, agent, supervisor])
    values: dict[str, Any] = {
        "bot_token": botapi.token,
        "telegram_base_url": botapi.base_url,
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "agent_ids": [agent["id"]],
        "supervisor_ids": [supervisor["id"]],
        "admin_ids": [admin["id"]],
        "routing": "topics",
        "agent_chat_id": forum["id"],
        "shop_name": "小米粒旗舰店",
        **overrides,
    }
    settings = load_settings(**values)
    return Shop(botapi, agent, supervisor, admin, buyer, forum, settings)


async def prepare_database(shop: Shop) -> None:
    """Create the data directory and migrate the shop's database to head."""
    settings = shop.settings
    settings.ensure_data_dir()
    migrate.ensure_sqlite_dir(settings.sqlalchemy_url)
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)


@asynccontextmanager
async def started(application: Any, *, poll: bool) -> AsyncIterator[Any]:
    """What `run_polling` does, step by step: initialize, post_init, start (and poll), then undo."""
    await application.initialize()
    await application.post_init(application)
    await application.start()
    if poll:
        await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        if poll:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await application.post_shutdown(application)


@asynccontextmanager
async def running_kefu(shop: Shop, *, poll: bool = True) -> AsyncIterator[Any]:
    """Migrate the shop's database and run Kefu (polling) until the block ends."""
    await prepare_database(shop)
    async with started(build_application(shop.settings), poll=poll) as app:
        yield app


@asynccontextmanager
async def running_kefu_webhook(
    shop: Shop, *, secret_token: str = "kefu-e2e-secret", max_body: int = MAX_BODY_BYTES
) -> AsyncIterator[str]:
    """Migrate the shop's database and run Kefu with its own webhook receiver (what
    `kefu run --webhook` serves) on a loopback port, registered with the emulator; yields its URL."""
    await prepare_database(shop)
    config = WebhookConfig(
        listen="127.0.0.1",
        port=0,
        url_path="telegram",
        secret_token=secret_token,
        max_body=max_body,
    )
    application = build_application(shop.settings)
    async with started(application, poll=False), listening(application, config) as port:
        url = f"http://127.0.0.1:{port}/telegram"
        await application.bot.set_webhook(url=url, secret_token=secret_token)
        try:
            yield url
        finally:
            await application.bot.delete_webhook()


def is_card(message: JSON) -> bool:
    """A bot message carrying a card's send buttons."""
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return any(str(b.get("callback_data", "")).startswith("c:") for row in rows for b in row)


def button_data(message: JSON) -> list[str]:
    """Every callback_data on a message's inline keyboard."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [str(b.get("callback_data")) for row in rows for b in row]
