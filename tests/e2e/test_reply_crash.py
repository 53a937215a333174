"""Defect 13.2: the bot is killed after Telegram took a reply and before the reply was recorded.

The bot runs as its own process against the emulator, which carries out the reply's sendMessage
but holds the answer back (`inject_hang`); the test SIGKILLs the bot as soon as the buyer has the
message. After a restart the log must hold that reply exactly once, as "sent, id unknown", the
buyer must have it exactly once, and the chain must verify.

The bot process is `kefu run` with a one-second send lease (`tests/e2e/kefu.py`'s `start_kefu`).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.core.types import Language
from bot.export.transcript import TranscriptCase, build_case
from bot.export.view import make_view
from bot.storage import cards as card_store
from bot.storage import outbox
from bot.storage.database import Database
from bot.storage.exports.case_file import load_case
from bot.tg.context import SERVICES_KEY
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import (
    Shop,
    button_data,
    is_card,
    kefu_environment,
    make_shop,
    prepare_database,
    running_kefu,
    start_kefu,
)

pytestmark = pytest.mark.e2e

QUESTION = "发票怎么开？"


def _start_worker(shop: Shop, log_path: Path) -> subprocess.Popen[bytes]:
    """`kefu run` with a one-second send lease."""
    return start_kefu(kefu_environment(shop), log_path, "run", patches={"send_lease": 1})


async def _wait_rows(shop: Shop, sql: str, *, seconds: float = 20.0) -> list[dict[str, Any]]:
    for _ in range(int(seconds / 0.1)):
        rows = await shop.rows(sql)
        if rows:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"no rows for {sql!r} after {seconds} s")


async def test_defect_13_2_a_reply_sent_before_a_crash_is_logged_once_as_sent_id_unknown(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    await prepare_database(shop)
    log_path = tmp_path / "worker.log"
    worker = _start_worker(shop, log_path)
    try:
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=60)
        card_id = int(button_data(card)[0].split(":")[1])
        botapi.inject_hang("sendMessage", 60)  # the reply is taken, its answer never comes
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:1", chat=shop.forum["id"])
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=20)
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 30)
    finally:
        if worker.poll() is None:
            worker.kill()
    context = log_path.read_text(errors="replace")[-3000:]
    before = await shop.rows("SELECT status FROM reply_outbox")
    out_before = await shop.rows("SELECT id FROM messages WHERE direction = 'out'")
    assert (before, out_before) == ([{"status": "sending"}], []), context

    async with running_kefu(shop) as app:  # the restart reconciles the reply left open
        await _wait_rows(shop, "SELECT id FROM audit_log WHERE action = 'reply.unconfirmed'")
        marked = await botapi.wait_for_bot_message_async(
            shop.forum["id"],
            lambda m: m["message_id"] == card["message_id"] and "消息编号" in m["text"],
            timeout=10,
        )
        botapi.send_text(shop.agent, "/case 1")
        case_text = await botapi.wait_for_bot_message_async(
            shop.agent["id"], lambda m: "#1" in m["text"], timeout=10
        )
        transcript = await _transcript(app, shop)
        await asyncio.sleep(0.5)

    assert "店铺（已发出，消息编号未知）" in case_text["text"]  # /case says how sure it is
    assert [m.tags.split(" · ")[-1] for m in transcript.messages if m.direction == "out"] == [
        "已发出，消息编号未知"
    ]
    assert "未收到 Telegram 的消息编号" in " ".join(e.action for e in transcript.history)
    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    out = await shop.rows(
        "SELECT chat_id, telegram_message_id, text, suggestion_index FROM messages "
        "WHERE direction = 'out'"
    )
    suggestions = await shop.card_suggestions(card_id)
    assert out == [
        {
            "chat_id": shop.buyer["id"],
            "telegram_message_id": None,
            "text": suggestions[0],
            "suggestion_index": 1,
        }
    ]
    actions = [r["action"] for r in await shop.rows("SELECT action FROM audit_log ORDER BY seq")]
    assert [a for a in actions if a.startswith(("reply.", "suggestion."))] == [
        "reply.intent",
        "reply.unconfirmed",
        "suggestion.sent",
    ]
    assert await shop.rows("SELECT status FROM reply_outbox") == [{"status": "unknown"}]
    assert not is_card(marked)
    report = await shop.verify()
    assert report.ok, report.breaks


async def test_defect_13_2_a_reply_whose_send_never_started_is_sent_at_start_up_once(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
    card_id = int(button_data(card)[0].split(":")[1])
    # As a process that died right after chaining the intent: card claimed, chunk still pending.
    db = Database.open(shop.settings.sqlalchemy_url)
    async with db.transaction() as session:
        found = await card_store.card_context(session=session, card_id=card_id)
        assert found is not None
        await card_store.claim_card(session=session, card_id=card_id, status="own", agent_id=None)
        await outbox.write_intents(
            session=session,
            plan=outbox.ReplyPlan(
                conversation_id=found.conversation.id,
                buyer_id=found.buyer.id,
                chat_id=shop.buyer["id"],
                card_id=card_id,
                card_claimed=True,
                agent_id=None,
                actor_telegram_id=shop.agent["id"],
                suggestion_index=None,
                suggestion_edited=None,
                outcome="own",
                checked=True,
                category=found.message.category,
            ),
            chunks=["亲，发票稍后发您"],
        )
        await session.execute(  # its sender's lease ran out, as a clock would have it
            text("UPDATE reply_outbox SET lease_until = :past"),
            {"past": datetime(2000, 1, 1, tzinfo=UTC)},
        )
    await db.close()

    async with running_kefu(shop):
        reply = await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        await _wait_rows(shop, "SELECT id FROM audit_log WHERE action = 'suggestion.own'")
        await asyncio.sleep(0.5)

    assert [m["text"] for m in botapi.bot_messages(shop.buyer["id"])] == ["亲，发票稍后发您"]
    out = await shop.rows("SELECT telegram_message_id FROM messages WHERE direction = 'out'")
    assert out == [{"telegram_message_id": reply["message_id"]}]
    assert await shop.rows("SELECT status FROM reply_outbox") == [{"status": "sent"}]


async def _transcript(app: Any, shop: Shop) -> TranscriptCase:
    """Case 1 as the HTML/PDF transcripts present it."""
    services = app.bot_data[SERVICES_KEY]
    view = make_view(shop.settings, services.wording, Language.ZH_HANS, redact=False)
    async with services.db.session() as session:
        case = await load_case(session=session, conversation_id=1)
    assert case is not None
    return build_case(case, view, attachment_path=services.attachments.path_for)
