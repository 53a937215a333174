"""Handlers driven offline: PTB's own Update objects in, a recording fake of the Bot API out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from telegram import Update

from bot.app import build_application, build_services
from bot.config import Settings, load_settings
from bot.storage import migrate
from bot.tg.context import KefuApplication
from tests.tg.recording import RecordingRequest, blocked_by, retry_after_once

TOKEN = "123456789:offline-handler-tests-token"
AGENT, BUYER, FORUM = 11, 22, -100500


@pytest.fixture
async def offline(
    tmp_path: Path,
) -> AsyncIterator[tuple[KefuApplication, RecordingRequest, Settings]]:
    settings = load_settings(
        bot_token=TOKEN,
        data_dir=tmp_path,
        agent_ids=[AGENT],
        routing="topics",
        agent_chat_id=FORUM,
    )
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    request = RecordingRequest()
    application = build_application(settings, build_services(settings), request=request)
    await application.initialize()
    yield application, request, settings
    await application.shutdown()


_update_ids = iter(range(1, 10_000))


def _user(user_id: int, name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "zh-hans"}


def buyer_message(text_: str, message_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": BUYER, "type": "private", "first_name": "小王"},
            "from": _user(BUYER, "小王"),
            "text": text_,
        },
    }


def button(data: str, card_message_id: int) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"q{card_message_id}{data}",
            "from": _user(AGENT, "Ada"),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": card_message_id,
                "date": int(time.time()),
                "chat": {"id": FORUM, "type": "supergroup", "title": "客服组"},
                "text": "card",
            },
        },
    }


async def _process(application: KefuApplication, payload: dict[str, Any]) -> None:
    await application.process_update(Update.de_json(payload, application.bot))


async def _card(
    application: KefuApplication, request: RecordingRequest, text_: str
) -> tuple[int, int]:
    await _process(application, buyer_message(text_))
    [card] = [p for p in request.sent("sendMessage") if int(p["chat_id"]) == FORUM]
    data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return int(str(data).split(":")[1]), request._next_message_id


async def _scalar(settings: Settings, sql: str) -> Any:
    from bot.storage.engine import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    async with engine.connect() as conn:
        value = (await conn.execute(text(sql))).scalar()
    await engine.dispose()
    return value


async def test_retry_after_waits_and_sends_the_reply_once(offline: Any) -> None:
    application, request, settings = offline
    card_id, card_message_id = await _card(application, request, "还没收到货，快递到哪了")
    request.responders.append(retry_after_once("sendMessage", seconds=1))
    started = time.monotonic()
    await _process(application, button(f"c:{card_id}:s:1", card_message_id))
    waited = time.monotonic() - started
    to_buyer = [
        p for name, p in request.calls if name == "sendMessage" and int(p["chat_id"]) == BUYER
    ]
    assert len(to_buyer) == 2  # the refused attempt and the retry
    assert to_buyer[0] == to_buyer[1]
    assert waited >= 1.0
    assert await _scalar(settings, "SELECT count(*) FROM messages WHERE direction = 'out'") == 1


async def test_a_buyer_who_blocked_the_bot_is_recorded_and_shown(offline: Any) -> None:
    application, request, settings = offline
    card_id, card_message_id = await _card(application, request, "收到的东西是坏的")
    request.responders.append(blocked_by(BUYER))
    await _process(application, button(f"c:{card_id}:s:2", card_message_id))
    assert await _scalar(settings, "SELECT blocked_bot_at IS NOT NULL FROM buyers") == 1
    assert await _scalar(settings, "SELECT count(*) FROM messages WHERE direction = 'out'") == 0
    assert (
        await _scalar(settings, "SELECT action FROM audit_log WHERE action LIKE 'buyer.%'")
        == "buyer.blocked_bot"
    )
    [edit] = request.sent("editMessageText")
    assert "⛔" in edit["text"]


async def test_a_press_on_an_unknown_card_is_answered(offline: Any) -> None:
    application, request, _settings = offline
    await _process(application, button("c:999999:s:1", 5))
    [answer] = request.sent("answerCallbackQuery")
    assert answer["text"]


async def test_buyer_commands_get_buyer_wording_only(offline: Any) -> None:
    application, request, settings = offline
    payload = buyer_message("/start")
    payload["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    await _process(application, payload)
    grant = buyer_message("/grant 22 supervisor", message_id=2)
    grant["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    await _process(application, grant)
    replies = [p["text"] for p in request.sent("sendMessage") if int(p["chat_id"]) == BUYER]
    assert len(replies) == 2
    assert "/grant" not in replies[0]
    assert (
        await _scalar(settings, "SELECT action FROM audit_log WHERE action = 'role.denied'")
        == "role.denied"
    )


async def test_a_handler_error_is_logged_and_answered(
    offline: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    application, request, _settings = offline

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("bot.tg.handlers.agent.act_on_card", broken)
    await _process(application, button("c:1:s:1", 5))
    [answer] = request.sent("answerCallbackQuery")
    assert answer["show_alert"] is True
    assert "database on fire" not in answer["text"]
    assert any("database on fire" in str(r.exc_info) for r in caplog.records if r.exc_info)
