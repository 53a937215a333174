"""/export, /stats, /case N bundle and their buttons, driven offline: supervisors get files,
anyone else gets a refusal, an audit record, and nothing else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.app import build_application, build_services
from bot.config import Settings, load_settings
from bot.core.types import Language
from bot.storage import migrate
from bot.storage.engine import make_engine
from bot.tg.context import KefuApplication
from bot.tg.handlers import supervisor
from tests.storage.test_verify import _drop_triggers
from tests.tg.recording import BOT_USER, RecordingRequest

TOKEN = "123456789:offline-supervisor-tests-token"
AGENT, SUPERVISOR, BUYER = 11, 33, 22
FILE_METHODS = ("sendDocument", "sendPhoto")
_ids = iter(range(1, 10_000))


def _message_result(name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    if name not in FILE_METHODS:
        return None
    return 200, {
        "ok": True,
        "result": {
            "message_id": next(_ids) + 5000,
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
        },
    }


@pytest.fixture
async def offline(
    tmp_path: Path,
) -> AsyncIterator[tuple[KefuApplication, RecordingRequest, Settings]]:
    settings = load_settings(
        bot_token=TOKEN,
        data_dir=tmp_path,
        agent_ids=[AGENT],
        supervisor_ids=[SUPERVISOR],
        routing="agents",
    )
    await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
    request = RecordingRequest()
    request.responders.append(_message_result)
    application = build_application(settings, build_services(settings), request=request)
    # As the lead registers them: before agent.button, which takes every other callback.
    for handler in (
        CommandHandler("export", supervisor.export_command),
        CommandHandler("stats", supervisor.stats_command),
        CommandHandler("case", supervisor.case_command),
        CallbackQueryHandler(supervisor.export_button, pattern=r"^x:"),
    ):
        application.handlers[0].insert(0, handler)
    await application.initialize()
    yield application, request, settings
    await application.shutdown()


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"u{user_id}", "language_code": "zh-hans"}


def command(user_id: int, line: str) -> dict[str, Any]:
    name = line.split()[0]
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "x"},
            "from": _user(user_id),
            "text": line,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(name)}],
        },
    }


def press(user_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": f"q{next(_ids)}",
            "from": _user(user_id),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 77,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "text": "menu",
            },
        },
    }


def buyer_says(words: str) -> dict[str, Any]:
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": {"id": BUYER, "type": "private", "first_name": "小王"},
            "from": {"id": BUYER, "is_bot": False, "first_name": "小王"},
            "text": words,
        },
    }


async def _process(application: KefuApplication, payload: dict[str, Any]) -> None:
    await application.process_update(Update.de_json(payload, application.bot))


async def _rows(settings: Settings, sql: str) -> list[Any]:
    engine = make_engine(settings.sqlalchemy_url)
    async with engine.connect() as conn:
        rows = list((await conn.execute(text(sql))).all())
    await engine.dispose()
    return rows


@pytest.mark.parametrize(
    "payload",
    [
        command(AGENT, "/export csv all"),
        command(AGENT, "/export"),
        command(AGENT, "/stats 7d"),
        command(AGENT, "/case 1 bundle"),
        command(BUYER, "/export jsonl all"),
        press(AGENT, "x:csv:all"),
        press(AGENT, "x:stats:7d"),
    ],
)
async def test_non_supervisors_are_refused_and_nothing_leaks(
    offline: Any, payload: dict[str, Any]
) -> None:
    application, request, settings = offline
    await _process(application, buyer_says("还没收到货，电话13812345678"))
    request.calls.clear()
    await _process(application, payload)
    assert [name for name, _ in request.calls if name in FILE_METHODS] == []
    replies = request.sent("sendMessage") + request.sent("answerCallbackQuery")
    assert len(replies) == 1
    refusal = application.bot_data["kefu"].text(Language.ZH_HANS, "card.not_allowed")
    assert replies[0]["text"] == refusal
    assert "13812345678" not in json.dumps(request.calls, ensure_ascii=False, default=str)
    denied = await _rows(
        settings, "SELECT action FROM audit_log WHERE action IN ('export.denied', 'stats.denied')"
    )
    assert len(denied) == 1
    assert await _rows(settings, "SELECT id FROM audit_log WHERE action = 'export.created'") == []


async def test_supervisor_gets_buttons_then_a_document(offline: Any) -> None:
    application, request, settings = offline
    await _process(application, buyer_says("还没收到货"))
    request.calls.clear()
    await _process(application, command(SUPERVISOR, "/export"))
    [menu] = request.sent("sendMessage")
    buttons = [b for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert len(buttons) == 20
    assert all(b["callback_data"].startswith("x:") for b in buttons)
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    request.calls.clear()
    await _process(application, press(SUPERVISOR, "x:csv:all"))
    [document] = request.sent("sendDocument")
    assert int(document["chat_id"]) == SUPERVISOR
    [created] = await _rows(
        settings,
        "SELECT actor_telegram_id, target, details FROM audit_log WHERE action = 'export.created'",
    )
    assert (created.actor_telegram_id, created.target) == (SUPERVISOR, "export:csv")
    assert json.loads(created.details)["rows"] == 1
    assert list((settings.data_dir / "exports").iterdir()) == []  # nothing left on disk


async def test_supervisor_case_bundle_and_stats(offline: Any) -> None:
    application, request, settings = offline
    await _process(application, buyer_says("快递破损了"))
    [(case_id,)] = await _rows(settings, "SELECT id FROM conversations")
    request.calls.clear()
    await _process(application, command(SUPERVISOR, f"/case {case_id} bundle"))
    [document] = request.sent("sendDocument")
    assert int(document["chat_id"]) == SUPERVISOR
    [(target,)] = await _rows(
        settings, "SELECT target FROM audit_log WHERE action = 'export.created'"
    )
    assert target == f"bundle:case:{case_id}"
    request.calls.clear()
    await _process(application, command(SUPERVISOR, "/case 999 bundle"))
    assert [p["text"] for p in request.sent("sendMessage")][-1] == "没有案件 #999"
    request.calls.clear()
    await _process(application, command(SUPERVISOR, "/stats 7d"))
    assert len(request.sent("sendPhoto")) == 2  # the team report, then category accuracy (#15)
    assert "买家消息 1 条" in request.sent("sendMessage")[0]["text"]
    assert "近 30 天坐席判定的分类准确度" in request.sent("sendMessage")[0]["text"]


async def test_defect_12_supervisor_export_from_a_broken_chain_is_refused(offline: Any) -> None:
    application, request, settings = offline
    await _process(application, buyer_says("还没收到货"))
    [(case_id,)] = await _rows(settings, "SELECT id FROM conversations")
    engine = make_engine(settings.sqlalchemy_url)
    await _drop_triggers(engine)
    async with engine.begin() as conn:
        seq = (await conn.execute(text("SELECT seq FROM messages"))).scalar_one()
        await conn.execute(
            text("UPDATE messages SET text = '已收到，谢谢' WHERE seq = :s"), {"s": seq}
        )
    await engine.dispose()
    services = application.bot_data["kefu"]
    for line in ("/export csv all", f"/case {case_id} bundle"):
        request.calls.clear()
        await _process(application, command(SUPERVISOR, line))
        assert request.sent("sendDocument") == []
        answer = request.sent("sendMessage")[-1]["text"]
        expected = services.text(
            Language.ZH_HANS, "export.tg.chain_broken", seq=seq, detail="DETAIL"
        )
        before, _, after = expected.partition("DETAIL")
        assert (answer.startswith(before), answer.endswith(after)) == (True, True)
        assert f"messages id=1 seq={seq}: changed" in answer
    refused = await _rows(settings, "SELECT target FROM audit_log WHERE action = 'export.refused'")
    assert [r.target for r in refused] == ["export:csv", f"bundle:case:{case_id}"]
    assert await _rows(settings, "SELECT id FROM audit_log WHERE action = 'export.created'") == []
    assert list((settings.data_dir / "exports").iterdir()) == []
