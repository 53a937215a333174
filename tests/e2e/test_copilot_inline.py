"""Copilot and inline modes end to end: pasted and forwarded buyer messages, inline suggestions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, make_shop, running_kefu

pytestmark = pytest.mark.e2e


def _has(prefix: str):  # type: ignore[no-untyped-def]
    return lambda m: any(d.startswith(prefix) for d in button_data(m))


async def test_copilot_paste_and_forward_are_logged_under_one_case(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    agent = shop.agent
    async with running_kefu(shop):
        pasted = botapi.send_text(agent, "订单号 123456789012 的杯子收到就碎了，怎么处理？")
        answer = await botapi.wait_for_bot_message_async(
            agent["id"], _has("k:"), after=pasted, timeout=10
        )
        taobao = next(d for d in button_data(answer) if d.endswith(":t"))
        botapi.press_button(agent, answer, taobao)
        logged = await botapi.wait_for_bot_message_async(agent["id"], _has("u:"), timeout=10)
        botapi.press_button(agent, logged, next(d for d in button_data(logged) if d.endswith(":2")))
        await botapi.wait_for_callback_answer_async(lambda a: "2" in (a.get("text") or ""))

        forwarded = botapi.send_text(agent, "还有赠品也没给我", forward_from="淘宝买家小李")
        second = await botapi.wait_for_bot_message_async(
            agent["id"], _has("k:"), after=forwarded, timeout=10
        )
        join = next(d for d in button_data(second) if ":j:" in d)
        botapi.press_button(agent, second, join)
        await botapi.wait_for_bot_message_async(
            agent["id"], lambda m: "#1" in m["text"], after=second, timeout=10
        )

    assert (
        "<code>" in str(botapi.calls("sendMessage")[-1])
        or "破损" in answer["text"]
        or "碎" in answer["text"]
    )
    assert "淘宝买家小李" in second["text"]
    assert "123456789012" in logged["text"]
    [case] = await shop.rows("SELECT id, platform, order_id, category FROM conversations")
    assert (case["platform"], case["order_id"], case["category"]) == (
        "taobao",
        "123456789012",
        "damaged_missing",
    )
    messages = await shop.rows(
        "SELECT direction, content_type, suggestion_index, conversation_id FROM messages ORDER BY seq"
    )
    assert [(m["direction"], m["content_type"], m["suggestion_index"]) for m in messages] == [
        ("in", "pasted", None),
        ("out", "copilot", 2),
        ("in", "pasted", None),
    ]
    assert {m["conversation_id"] for m in messages} == {case["id"]}
    buyers = await shop.rows("SELECT telegram_user_id FROM buyers")
    assert buyers == [{"telegram_user_id": None}]  # the agent is never taken for a buyer


async def test_inline_query_offers_suggestions_and_logs_the_chosen_one(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        botapi.inline_query(shop.agent, "还没收到货")
        answer = await _inline_answer(botapi)
        results = answer["results"]
        botapi.choose_inline_result(shop.agent, results[1]["id"], "还没收到货")
        english_query = "where is my order? it hasn't arrived"
        botapi.inline_query(shop.agent, english_query)
        english = await _inline_answer(botapi, count=2)
        botapi.inline_query(shop.buyer, "还没收到货")
        refused = await _inline_answer(botapi, count=3)
        await _wait_rows(shop, "SELECT 1 FROM audit_log WHERE action = 'inline.chosen'")

    assert 2 <= len(results) <= 3
    assert all(r["input_message_content"]["message_text"] for r in results)
    assert any(c in results[0]["input_message_content"]["message_text"] for c in "查物流快递")
    assert all(r["input_message_content"]["message_text"].isascii() for r in english["results"])
    assert refused["results"] == []
    [chosen] = await shop.rows(
        "SELECT actor_telegram_id, details FROM audit_log WHERE action = 'inline.chosen'"
    )
    assert chosen["actor_telegram_id"] == shop.agent["id"]
    assert '"suggestion_index":2' in chosen["details"]
    assert "not_received" in chosen["details"]


async def _inline_answer(botapi: InProcessTelegram, count: int = 1) -> dict:
    for _ in range(200):
        answers = botapi.inline_answers
        if len(answers) >= count:
            return answers[count - 1]
        await asyncio.sleep(0.05)
    raise AssertionError("no inline answer")


async def _wait_rows(shop: Shop, sql: str) -> None:
    for _ in range(100):
        if await shop.rows(sql):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing for {sql}")
