"""Agents' workflow end to end: auto-acknowledgement, SLA pings, follow-ups across restarts."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, prepare_database, running_kefu

pytestmark = pytest.mark.e2e


def _card_id(card: dict) -> int:
    return int(button_data(card)[0].split(":")[1])


async def test_an_unanswered_buyer_gets_one_acknowledgement_and_supervisors_a_ping(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(
        botapi,
        tmp_path,
        ack_after_seconds=0.5,
        sla_target_seconds=1.5,
        scheduler_interval_seconds=0.2,
    )
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "还没收到货，快递到哪了")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        ack = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        ping = await botapi.wait_for_bot_message_async(shop.supervisor["id"], timeout=10)
        botapi.send_text(shop.buyer, "在吗？")  # same waiting stretch: no second acknowledgement
        await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: is_card(m) and "在吗" in m["text"], timeout=10
        )
        await asyncio.sleep(1.0)
        marked = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: m["message_id"] == card["message_id"] and "⏱" in m["text"]
        )

    assert "查" in ack["text"]  # the category's acknowledgement, in the buyer's language
    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    assert "#1" in ping["text"]
    assert is_card(marked)  # still open: the agent can answer
    [row] = await shop.rows("SELECT content_type, direction FROM messages WHERE direction = 'out'")
    assert row["content_type"] == "auto_ack"
    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert actions.count("sla.auto_ack") == 1
    assert actions.count("sla.missed") == 1


async def test_an_answer_in_time_cancels_the_acknowledgement(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path, ack_after_seconds=1.0, scheduler_interval_seconds=0.2)
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "发票怎么开")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        botapi.press_button(shop.agent, card, f"c:{_card_id(card)}:s:1", chat=shop.forum["id"])
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        await asyncio.sleep(1.6)

    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    jobs = await shop.rows(
        "SELECT kind, status FROM scheduled_jobs WHERE kind IN ('ack', 'sla_target')"
    )
    assert {(j["kind"], j["status"]) for j in jobs} == {
        ("ack", "cancelled"),
        ("sla_target", "cancelled"),
    }


async def test_no_reply_needed_stops_the_clock(botapi: InProcessTelegram, tmp_path: Path) -> None:
    shop = make_shop(botapi, tmp_path, ack_after_seconds=1.0, scheduler_interval_seconds=0.2)
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "好的，谢谢")
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        botapi.press_button(shop.agent, card, f"c:{_card_id(card)}:n", chat=shop.forum["id"])
        await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: m["message_id"] == card["message_id"] and not is_card(m)
        )
        await asyncio.sleep(1.6)

    assert botapi.bot_messages(shop.buyer["id"]) == []
    [conversation] = await shop.rows("SELECT waiting_since FROM conversations")
    assert conversation["waiting_since"] is None


async def _promise_remedy(shop: Shop) -> dict:
    botapi = shop.botapi
    botapi.send_text(shop.buyer, "收到的杯子碎了")
    card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
    botapi.press_button(shop.agent, card, f"c:{_card_id(card)}:s:2", chat=shop.forum["id"])
    await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
    return await botapi.wait_for_bot_message_async(
        shop.forum["id"], lambda m: any(d.startswith("f:") for d in button_data(m)), timeout=10
    )


async def _due_now(shop: Shop) -> None:
    # The follow-up is a day away; move its time as a clock would (scheduled_jobs is not evidence).
    from sqlalchemy import text

    from bot.storage.engine import make_engine

    engine = make_engine(shop.settings.sqlalchemy_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE scheduled_jobs SET due_at = :now WHERE kind = 'follow_up'"),
            {"now": datetime(2000, 1, 1, tzinfo=UTC)},
        )
    await engine.dispose()


def _follow_ups(shop: Shop) -> list[dict]:
    return [
        m for m in shop.botapi.bot_messages(shop.forum["id"]) if "跟进提醒" in m.get("text", "")
    ]


async def _two_processes_fire_once(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        scheduled = await _promise_remedy(shop)
        assert "跟进" in scheduled["text"]
    await _due_now(shop)
    # Restart: one process polls Telegram, a second shares the database and runs only its jobs.
    async with running_kefu(shop, poll=False), running_kefu(shop):
        reminder = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: "跟进提醒" in m.get("text", ""), timeout=15
        )
        await asyncio.sleep(1.5)
        assert len(_follow_ups(shop)) == 1
        confirm = next(d for d in button_data(reminder) if d.startswith("p:") and d.endswith(":y"))
        botapi.press_button(shop.agent, reminder, confirm, chat=shop.forum["id"])
        follow_up = await botapi.wait_for_bot_message_async(
            shop.buyer["id"], lambda m: m["message_id"] > 2, timeout=10
        )
    assert follow_up["text"]
    [job] = await shop.rows("SELECT status FROM scheduled_jobs WHERE kind = 'follow_up'")
    assert job["status"] == "done"
    outcomes = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert outcomes.count("followup.due") == 1
    assert "suggestion.follow_up" in outcomes


async def test_a_follow_up_fires_after_a_restart_once_with_two_processes_on_sqlite(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    await _two_processes_fire_once(make_shop(botapi, tmp_path, scheduler_interval_seconds=0.2))


async def test_a_follow_up_fires_after_a_restart_once_with_two_processes_on_postgres(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=postgres_url, scheduler_interval_seconds=0.2)
    await prepare_database(shop)
    await _two_processes_fire_once(shop)


async def test_a_follow_up_can_be_moved_or_cancelled(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        scheduled = await _promise_remedy(shop)
        later = next(d for d in button_data(scheduled) if d.endswith(":d"))
        botapi.press_button(shop.agent, scheduled, later, chat=shop.forum["id"])
        moved = await botapi.wait_for_callback_answer_async(
            lambda a: "推迟" in (a.get("text") or "")
        )
        botapi.press_button(shop.agent, scheduled, later.replace(":d", ":x"), chat=shop.forum["id"])
        await botapi.wait_for_callback_answer_async(lambda a: "取消" in (a.get("text") or ""))

    [job] = await shop.rows("SELECT status FROM scheduled_jobs WHERE kind = 'follow_up'")
    assert job["status"] == "cancelled"
    assert "推迟" in moved["text"]


async def test_a_buyer_edit_is_a_new_row_pointing_at_the_original(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        sent = botapi.send_text(shop.buyer, "你好，在吗")
        first = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        botapi.edit_text(shop.buyer, sent, "收到的杯子碎了，怎么办")
        second = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: is_card(m) and "碎" in m["text"], after=first, timeout=10
        )

    rows = await shop.rows(
        "SELECT id, telegram_message_id, revision, edit_of_id, text, category FROM messages ORDER BY seq"
    )
    assert [(r["text"], r["category"]) for r in rows] == [
        ("你好，在吗", "inquiry"),
        ("收到的杯子碎了，怎么办", "damaged_missing"),
    ]
    assert rows[0]["telegram_message_id"] == rows[1]["telegram_message_id"]
    assert (rows[0]["revision"], rows[1]["revision"]) == (0, 1)
    assert rows[1]["edit_of_id"] == rows[0]["id"]
    assert second["message_id"] != first["message_id"]


async def _run_job_now(shop: Shop, kind: str) -> None:
    from sqlalchemy import text

    from bot.storage.engine import make_engine

    engine = make_engine(shop.settings.sqlalchemy_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE scheduled_jobs SET due_at = :past WHERE kind = :kind"),
            {"past": datetime(2000, 1, 1, tzinfo=UTC), "kind": kind},
        )
    await engine.dispose()


async def test_the_daily_witness_and_weekly_report_reach_the_supervisors_chat(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    supervisors = botapi.create_group("主管群", members=[])
    shop = make_shop(
        botapi, tmp_path, supervisor_chat_id=supervisors["id"], scheduler_interval_seconds=0.2
    )
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "发票怎么开")
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
        for _ in range(50):
            if (
                len(
                    await shop.rows(
                        "SELECT 1 FROM scheduled_jobs WHERE kind IN ('witness', 'weekly')"
                    )
                )
                == 2
            ):
                break
            await asyncio.sleep(0.1)
        await _run_job_now(shop, "witness")
        witness = await botapi.wait_for_bot_message_async(supervisors["id"], timeout=10)
        await _run_job_now(shop, "weekly")
        weekly = await botapi.wait_for_bot_message_async(
            supervisors["id"], after=witness, timeout=20
        )

    [published] = await shop.rows(
        "SELECT details FROM audit_log WHERE action = 'chain_head.published'"
    )
    head_hash = published["details"].split('"hash":"')[1][:64]
    assert head_hash in witness["text"]
    assert weekly["text"]
    kinds = await shop.rows(
        "SELECT kind, status FROM scheduled_jobs WHERE kind IN ('witness', 'weekly')"
    )
    assert sorted((k["kind"], k["status"]) for k in kinds) == [
        ("weekly", "done"),
        ("witness", "done"),
    ]


async def _wait_rows(shop: Shop, sql: str, count: int) -> None:
    for _ in range(300):
        if len(await shop.rows(sql)) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} rows: {sql}")


async def test_defect_10_a_ping_flood_is_one_digest_and_never_delays_a_buyers_ack(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    """Defect 10: 51 missed targets were pinged one by one into the supervisors' group, whose
    rate limit (20 a minute) held the scheduler, and a new buyer's ack came 80 s late. Now the
    targets are one digest message per chat per minute and jobs run concurrently."""
    supervisors = botapi.create_group("主管群", members=[])
    shop = make_shop(
        botapi,
        tmp_path,
        supervisor_chat_id=supervisors["id"],
        ack_after_seconds=3600,
        sla_target_seconds=7200,
        scheduler_interval_seconds=0.2,
        telegram_group_rate_limit=0,  # setting up 51 cards quickly; the flood runs with 20/min
    )
    buyers = [botapi.create_user(f"买家{n}", language_code="zh-hans") for n in range(51)]
    async with running_kefu(shop):
        botapi.send_texts([{"user": buyer, "text": "还没收到货，快递到哪了"} for buyer in buyers])
        await _wait_rows(shop, "SELECT 1 FROM scheduled_jobs WHERE kind = 'sla_target'", 51)
    await _set_jobs(shop, "UPDATE scheduled_jobs SET status = 'cancelled' WHERE kind = 'ack'")
    await _set_jobs(shop, "UPDATE scheduled_jobs SET due_at = :past WHERE kind = 'sla_target'")
    flood = replace(
        shop,
        settings=shop.settings.model_copy(
            update={"telegram_group_rate_limit": 20, "ack_after_seconds": 0.5}
        ),
    )
    newcomer = botapi.create_user("新买家", language_code="zh-hans")
    async with running_kefu(flood):
        botapi.send_text(newcomer, "还没收到货，快递到哪了")
        ack = await botapi.wait_for_bot_message_async(newcomer["id"], timeout=20)
        pings_at_ack = len(botapi.bot_messages(supervisors["id"]))
        digest = await botapi.wait_for_bot_message_async(supervisors["id"], timeout=20)
        await _wait_rows(shop, "SELECT 1 FROM audit_log WHERE action = 'sla.missed'", 51)
        await asyncio.sleep(1.0)  # five more scheduler ticks: no further pings
        group_pings = botapi.bot_messages(supervisors["id"])
        private_pings = botapi.bot_messages(shop.supervisor["id"])

    assert "查" in ack["text"]
    assert pings_at_ack <= 1
    assert (len(group_pings), len(private_pings)) == (1, 1)
    cases = sorted(int(n) for n in re.findall(r"#(\d+)", digest["text"]))
    assert cases == list(range(1, 52))
    assert private_pings[0]["text"] == digest["text"]
    assert digest["text"].startswith("🚨 响应超时：51个会话超过")
    digests = await shop.rows("SELECT status FROM scheduled_jobs WHERE kind = 'sla_digest'")
    assert digests == [{"status": "done"}]
    missed = await shop.rows("SELECT 1 FROM audit_log WHERE action = 'sla.missed'")
    assert len(missed) == 51


async def _set_jobs(shop: Shop, sql: str) -> None:
    from sqlalchemy import text

    from bot.storage.engine import make_engine

    engine = make_engine(shop.settings.sqlalchemy_url)
    async with engine.begin() as conn:
        await conn.execute(text(sql), {"past": datetime(2000, 1, 1, tzinfo=UTC)})
    await engine.dispose()
