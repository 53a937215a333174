"""Issue 14: acknowledgements and follow-ups act exactly once, and an acknowledgement is logged
before it is sent.

Two Kefu applications (two engines) share one database and both run the scheduler; job claims
are made to expire at once (`LEASE = 0`, as when a process is slow), so each process re-takes
the other's running jobs: still each buyer gets one acknowledgement per waiting stretch and
each follow-up reminder fires once. Then the bot is SIGKILLed between Telegram taking an
acknowledgement and its record: the restart logs it once, as "sent, id unknown".

The bot process is `kefu run` with a one-second send lease (`tests/e2e/kefu.py`'s `start_kefu`).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.storage import jobs as job_store
from bot.storage.database import Database
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    is_card,
    kefu_environment,
    make_shop,
    prepare_database,
    running_kefu,
    start_kefu,
)

pytestmark = pytest.mark.e2e

BUYERS = 10
# Acks soon, a fast scheduler, and no group flood limit: the 10 cards and 10 reminders in the
# agents' group would otherwise wait a minute behind Telegram's 20 a minute (not under test here).
FAST: dict[str, Any] = {
    "ack_after_seconds": 1,
    "scheduler_interval_seconds": 0.2,
    "telegram_group_rate_limit": 0,
}
QUESTION = "发票怎么开？"


async def _two_schedulers_act_once(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    botapi = shop.botapi
    buyers = [botapi.create_user(f"买家{n}", language_code="zh-hans") for n in range(BUYERS)]
    monkeypatch.setattr(job_store, "LEASE", timedelta(0))  # every claim expires at once
    async with running_kefu(shop), running_kefu(shop, poll=False):
        for buyer in buyers:
            botapi.send_text(buyer, QUESTION)
        await shop.until("SELECT count(*) AS n FROM cards", BUYERS)
        await shop.until(
            "SELECT count(*) AS n FROM messages WHERE content_type = 'auto_ack'", BUYERS
        )
        await _schedule_follow_ups_now(shop)
        await shop.until("SELECT count(*) AS n FROM pending_replies", BUYERS)
        await asyncio.sleep(2.0)  # both schedulers keep re-taking the expired claims meanwhile
    reminders = [m for m in botapi.bot_messages(shop.forum["id"]) if "跟进提醒" in m["text"]]
    per_buyer = [len(botapi.bot_messages(buyer["id"])) for buyer in buyers]
    acks = await shop.rows(
        "SELECT conversation_id, count(*) AS n FROM messages "
        "WHERE content_type = 'auto_ack' GROUP BY conversation_id"
    )
    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log")]
    assert per_buyer == [1] * BUYERS
    assert sorted(r["n"] for r in acks) == [1] * BUYERS
    assert (actions.count("sla.auto_ack"), actions.count("reply.intent")) == (BUYERS, BUYERS)
    assert (len(reminders), actions.count("followup.due")) == (BUYERS, BUYERS)
    assert await shop.rows("SELECT DISTINCT status FROM reply_outbox") == [{"status": "sent"}]


async def _schedule_follow_ups_now(shop: Shop) -> None:
    """A follow-up for every card, due now (as a reply promising a remedy schedules one)."""
    cards = await shop.rows("SELECT id, conversation_id FROM cards")
    db = Database.open(shop.settings.sqlalchemy_url)
    try:
        async with db.transaction() as session:
            for card in cards:
                await job_store.schedule(
                    session=session,
                    kind="follow_up",
                    due_at=datetime(2000, 1, 1, tzinfo=UTC),
                    conversation_id=card["conversation_id"],
                    card_id=card["id"],
                    dedupe_key=f"follow_up:{card['id']}",
                )
    finally:
        await db.close()


async def test_issue_14_two_schedulers_ack_each_buyer_once_and_fire_each_follow_up_once_sqlite(
    botapi: InProcessTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path, **FAST)
    await _two_schedulers_act_once(shop, monkeypatch)


async def test_issue_14_two_schedulers_ack_each_buyer_once_and_fire_each_follow_up_once_postgres(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=postgres_url, **FAST)
    await prepare_database(shop)
    await _two_schedulers_act_once(shop, monkeypatch)


def _start_worker(shop: Shop, log_path: Path) -> subprocess.Popen[bytes]:
    """`kefu run` with a one-second send lease, acks after 2 s, a fast scheduler."""
    env = kefu_environment(shop, ack_after_seconds=2, scheduler_interval_seconds=0.2)
    return start_kefu(env, log_path, "run", patches={"send_lease": 1})


async def test_issue_14_an_ack_sent_before_a_crash_is_logged_once_as_sent_id_unknown(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    await prepare_database(shop)
    log_path = tmp_path / "worker.log"
    worker = _start_worker(shop, log_path)
    try:
        botapi.send_text(shop.buyer, QUESTION)
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=60)
        botapi.inject_hang("sendMessage", 60)  # the acknowledgement is taken, its answer lost
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=20)
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 30)
    finally:
        if worker.poll() is None:
            worker.kill()
    context = log_path.read_text(errors="replace")[-3000:]
    before = await shop.rows("SELECT status, outcome FROM reply_outbox")
    assert before == [{"status": "sending", "outcome": "auto_ack"}], context

    async with running_kefu(shop):  # the restart reconciles the acknowledgement left open
        await shop.until(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'reply.unconfirmed'", 1
        )
        await asyncio.sleep(0.5)

    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    out = await shop.rows(
        "SELECT content_type, telegram_message_id FROM messages WHERE direction = 'out'"
    )
    assert out == [{"content_type": "auto_ack", "telegram_message_id": None}]
    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert [a for a in actions if a.startswith(("reply.", "sla."))] == [
        "sla.auto_ack",
        "reply.intent",
        "reply.unconfirmed",
    ]
    [conversation] = await shop.rows("SELECT waiting_since FROM conversations")
    assert conversation["waiting_since"] is not None  # an acknowledgement is not an answer
    report = await shop.verify()
    assert report.ok, report.breaks
