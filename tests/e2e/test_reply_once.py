"""Defect 13.1 end to end: every card button acts once, however fast or by however many agents."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu, take_updates

pytestmark = pytest.mark.e2e

QUESTION = "发票怎么开？"


async def _card(shop: Shop) -> dict[str, Any]:
    shop.botapi.send_text(shop.buyer, QUESTION)
    return await shop.botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)


def _card_id(card: dict[str, Any]) -> int:
    return int(button_data(card)[0].split(":")[1])


async def _answers(botapi: InProcessTelegram, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        if len(botapi.callback_answers) >= count:
            break
        await asyncio.sleep(0.05)
    return botapi.callback_answers


@pytest.mark.parametrize(
    ("first", "second", "buyer_gets", "answer_says"),
    [
        ("s:1", "s:1", 1, "发送"),  # a double tap
        ("s:1", "s:2", 1, "发送"),  # send 2 after send 1
        ("k", "s:1", 0, "跳过"),  # send after skip
        ("s:1", "k", 1, "发送"),  # skip after send
        ("s:1", "x", 1, "发送"),  # escalate after send
        ("n", "e:1", 0, "无需回复"),  # edit after no reply
    ],
)
async def test_defect_13_1_a_second_press_sends_nothing_and_says_who_did_what(
    botapi: InProcessTelegram,
    tmp_path: Path,
    first: str,
    second: str,
    buyer_gets: int,
    answer_says: str,
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        card = await _card(shop)
        card_id = _card_id(card)
        for action in (first, second):  # both at once, before the first is handled
            botapi.press_button(
                shop.agent, card, f"c:{card_id}:{action}", chat=shop.forum["id"], check=False
            )
        answers = await _answers(botapi, 2)
        await asyncio.sleep(0.5)  # time for a wrong second send to arrive

    assert len(botapi.bot_messages(shop.buyer["id"])) == buyer_gets
    assert len(answers) == 2
    taken = answers[1]["text"] or ""
    assert (taken.startswith("已由 Ada 于 "), answer_says in taken) == (True, True), taken
    out = await shop.rows("SELECT telegram_message_id FROM messages WHERE direction = 'out'")
    assert len(out) == buyer_gets
    prompts = [m for m in botapi.bot_messages(shop.forum["id"]) if "请复制第" in m["text"]]
    assert prompts == []


async def _two_agents_press_at_once(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        card = await _card(shop)
    card_id = _card_id(card)
    # Two bot processes on one database (two applications, two engines), one press each.
    async with running_kefu(shop, poll=False) as one, running_kefu(shop, poll=False) as two:
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:1", chat=shop.forum["id"])
        botapi.press_button(shop.supervisor, card, f"c:{card_id}:s:2", chat=shop.forum["id"])
        first, second = await take_updates(botapi, 2)
        await asyncio.gather(
            one.update_queue.put(Update.de_json(first, one.bot)),
            two.update_queue.put(Update.de_json(second, two.bot)),
        )
        answers = await _answers(botapi, 2)
        await asyncio.sleep(0.5)

    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    texts = sorted(a["text"] or "" for a in answers)
    assert len(texts) == 2
    assert texts[0] == ""  # the winner's press: sent, nothing to say
    assert texts[1].startswith(("已由 Ada 于 ", "已由 Sam 于 ")), texts
    assert "发送" in texts[1]
    [card_row] = await shop.rows("SELECT status FROM cards")
    assert card_row["status"] == "sent"
    out = await shop.rows("SELECT telegram_message_id FROM messages WHERE direction = 'out'")
    assert len(out) == 1


async def test_defect_13_1_two_agents_press_at_once_on_sqlite(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    await _two_agents_press_at_once(make_shop(botapi, tmp_path))


async def test_defect_13_1_two_agents_press_at_once_on_postgres(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str
) -> None:
    await _two_agents_press_at_once(make_shop(botapi, tmp_path, database_url=postgres_url))


async def test_defect_13_1_confirming_a_checked_reply_twice_sends_it_once(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop):
        card = await _card(shop)
        botapi.send_text(
            shop.agent,
            "不行，加我微信说",
            chat=shop.forum["id"],
            thread_id=card["message_thread_id"],
            reply_to=card,
        )
        warning = await botapi.wait_for_bot_message_async(
            shop.forum["id"], lambda m: any(d.startswith("p:") for d in button_data(m))
        )
        confirm = next(d for d in button_data(warning) if d.endswith(":y"))
        cancel = next(d for d in button_data(warning) if d.endswith(":n"))
        for data in (confirm, confirm, cancel):
            botapi.press_button(shop.agent, warning, data, chat=shop.forum["id"])
        answers = await _answers(botapi, 3)
        await asyncio.sleep(0.5)

    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    assert [a["text"] for a in answers[1:]] == ["这张卡片已处理或已失效"] * 2
