"""Running the real Kefu application against the emulator: settings, database, a shop's team.

In this process (`running_kefu`, `running_kefu_webhook`) or as `kefu` subprocesses
(`start_kefu`, `stop_kefu`). A subprocess started with `patches` runs as
`python -m tests.e2e.kefu PATCHES_JSON ARGS...`: the same `kefu` command line, with a few
timing constants shortened first (send lease, job claim lease, the group rate's period).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bot.app import build_application
from bot.config import REPO_ROOT, Settings, load_settings
from bot.storage import migrate
from bot.storage.engine import make_engine
from bot.storage.filestore import AttachmentStore
from bot.storage.verify import VerifyReport, verify_chain
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

    async def write(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run a changing statement on the shop's database (committed); its rows, if any."""
        engine = make_engine(self.settings.sqlalchemy_url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return [dict(row._mapping) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    async def count(self, sql: str, **params: Any) -> int:
        """The `n` column of a one-row query."""
        [row] = await self.rows(sql, **params)
        return int(row["n"])

    async def until(
        self, sql: str, expected: int, *, seconds: float = 60.0, context: Any = ""
    ) -> None:
        """Wait until the query's `n` reaches `expected`; fail with `context` after `seconds`."""
        count = -1
        for _ in range(int(seconds / 0.1)):
            count = await self.count(sql)
            if count >= expected:
                return
            await asyncio.sleep(0.1)
        detail = context() if callable(context) else context
        raise AssertionError(f"{sql!r}: {count}, not {expected}, after {seconds} s\n{detail}")

    async def verify(self, *, attachments: bool = False) -> VerifyReport:
        """The hash chain's verification, as `kefu verify` runs it (attachments optional)."""
        engine = make_engine(self.settings.sqlalchemy_url)
        store = AttachmentStore(self.settings.data_dir) if attachments else None
        try:
            return await verify_chain(engine=engine, attachments=store)
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


async def take_updates(botapi: InProcessTelegram, count: int) -> list[JSON]:
    """The pending updates, read straight from the emulator and confirmed (no bot is polling)."""
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            answer = await client.post(
                f"{botapi.base_url}{botapi.token}/getUpdates", json={"timeout": 0}
            )
            updates: list[JSON] = answer.json()["result"]
            if len(updates) >= count:
                last = updates[-1]["update_id"]
                await client.post(
                    f"{botapi.base_url}{botapi.token}/getUpdates",
                    json={"offset": last + 1, "timeout": 0},
                )
                return updates
            await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} updates")


# ---------------------------------------------------------------- kefu as a subprocess
def kefu_environment(shop: Shop, **extra: Any) -> dict[str, str]:
    """The environment of a `kefu` command for this shop; `extra` are more settings
    (`ack_after_seconds=2` becomes `KEFU_ACK_AFTER_SECONDS=2`)."""
    settings = shop.settings
    assert settings.bot_token is not None
    values: dict[str, Any] = {
        "bot_token": settings.bot_token.get_secret_value(),
        "telegram_base_url": settings.telegram_base_url,
        "data_dir": settings.data_dir,
        "database_url": settings.database_url or "",
        "agent_ids": ",".join(str(i) for i in settings.agent_ids),
        "supervisor_ids": ",".join(str(i) for i in settings.supervisor_ids),
        "admin_ids": ",".join(str(i) for i in settings.admin_ids),
        "routing": "topics",
        "agent_chat_id": settings.agent_chat_id,
        "shop_name": settings.shop_name,
        **extra,
    }
    return {**os.environ, **{f"KEFU_{k.upper()}": str(v) for k, v in values.items()}}


def start_kefu(
    env: dict[str, str],
    log: Path,
    *args: str,
    cwd: Path = REPO_ROOT,
    patches: dict[str, float] | None = None,
) -> subprocess.Popen[bytes]:
    """`kefu ARGS` (default `run`) in its own process, its stderr appended to `log`.

    `patches` (see `_patch`) shorten timing constants first: then it runs as
    `python -m tests.e2e.kefu PATCHES ARGS`, which is the same command line after them."""
    command = list(args) or ["run"]
    prefix = ["-m", "tests.e2e.kefu", json.dumps(patches)] if patches else ["-m", "bot"]
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, *prefix, *command],
            cwd=cwd,
            env={**env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])},
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )


async def stop_kefu(workers: Sequence[subprocess.Popen[bytes]], *, seconds: float = 60) -> None:
    """SIGTERM every worker still running and wait for it (SIGKILL after `seconds`)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            await asyncio.to_thread(worker.wait, seconds)
        except subprocess.TimeoutExpired:
            worker.kill()
            await asyncio.to_thread(worker.wait, 10)


def log_tails(paths: Sequence[Path], chars: int = 2000) -> str:
    """The end of each log file, for a failing assertion's message."""
    return "\n".join(
        f"--- {path.name}\n" + path.read_text(errors="replace")[-chars:]
        for path in paths
        if path.exists()
    )


def _patch(patches: dict[str, float]) -> None:
    """Shorten timing constants of this process (seconds): `send_lease` (the outbox's lease),
    `job_lease` (a scheduled job's claim), `group_period` (the per-group rate's window),
    `posting_lease` (a card taken for posting)."""
    from bot.storage import card_posting, jobs, outbox
    from bot.tg import rate_limit

    if "posting_lease" in patches:
        card_posting.POSTING_LEASE = timedelta(seconds=patches["posting_lease"])
    if "send_lease" in patches:
        outbox.SEND_LEASE = timedelta(seconds=patches["send_lease"])
    if "job_lease" in patches:
        jobs.LEASE = timedelta(seconds=patches["job_lease"])
    if "group_period" in patches:
        rate_limit.GROUP_PERIOD_SECONDS = patches["group_period"]


def _main() -> None:
    """`python -m tests.e2e.kefu PATCHES_JSON ARGS...`: `kefu ARGS` with shortened timings."""
    from bot.cli import main

    _patch(json.loads(sys.argv[1]))
    main(sys.argv[2:])


if __name__ == "__main__":
    _main()
