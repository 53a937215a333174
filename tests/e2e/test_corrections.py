"""Issue 15, parts 1 and 2 end to end: `分类不对` on a card, in both routings and in copilot mode.

An agent presses Wrong category, picks another; the card is drawn again at once with the new
category's suggestions, the case is filed under it, and a chained `card.corrected` record says
who changed what. One correction however many presses; strangers and forged data are refused.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.labels import CATEGORY_ORDER, CardLabel, corrected
from bot.core.types import Category, Language
from bot.storage import labels as label_store
from bot.storage.database import Database
from bot.understanding import load_understanding
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu, take_updates

pytestmark = pytest.mark.e2e

QUESTION = "发票怎么开？"  # Kefu files it under invoice
QUALITY = CATEGORY_ORDER.index(Category.QUALITY)
CORRECTIONS = (
    "SELECT actor_telegram_id, target, details FROM audit_log WHERE action = 'card.corrected'"
)

JSON = dict[str, Any]


def _card_id(card: JSON) -> int:
    return int(button_data(card)[0].split(":")[1])


def _picker(message: JSON) -> bool:
    return any(":c:" in data for data in button_data(message))


async def _answers(botapi: InProcessTelegram, count: int) -> list[JSON]:
    for _ in range(200):
        if len(botapi.callback_answers) >= count:
            break
        await asyncio.sleep(0.05)
    return botapi.callback_answers


async def _now(botapi: InProcessTelegram, chat: int, message_id: int, predicate: Any) -> JSON:
    """The message once it satisfies `predicate` (it is edited in place)."""
    for _ in range(200):
        found = botapi.get_message(chat, message_id)
        if found is not None and predicate(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"message {message_id} never matched: {botapi.get_message(chat, message_id)}"
    )


def _expected_quality_suggestions(shop: Shop, text: str, seed: int) -> list[str]:
    understanding = load_understanding(DEFAULT_PHRASEBOOK_DIR)
    verdict = corrected(
        understanding.classifier.classify(text), CardLabel(Category.QUALITY, frozenset())
    )
    composition = understanding.phrasebook.composer.compose(
        verdict,
        variables={"buyer_name": "小王", "shop_name": shop.settings.shop_name},
        language=Language.ZH_HANS,
        seed=seed,
    )
    return [s.text for s in composition.suggestions]


async def _correct_to_quality(shop: Shop, chat: int, card: JSON) -> JSON:
    """The agent presses Wrong category, then 质量问题; returns the card as redrawn."""
    botapi = shop.botapi
    card_id = _card_id(card)
    botapi.press_button(shop.agent, card, f"w:{card_id}", chat=chat)
    picker = await _now(botapi, chat, card["message_id"], _picker)
    choice = next(d for d in button_data(picker) if d.startswith(f"w:{card_id}:c:0:{QUALITY}:"))
    botapi.press_button(shop.agent, picker, choice, chat=chat)
    return await _now(botapi, chat, card["message_id"], lambda m: "质量问题" in m["text"])


@pytest.mark.parametrize("routing", ["topics", "agents"])
async def test_issue_15_an_agent_corrects_a_card_and_it_is_redrawn_at_once(
    botapi: InProcessTelegram, tmp_path: Path, routing: str
) -> None:
    overrides: dict[str, Any] = (
        {"routing": "agents", "agent_chat_id": None} if routing == "agents" else {}
    )
    shop = make_shop(botapi, tmp_path, **overrides)
    chat = shop.agent["id"] if routing == "agents" else shop.forum["id"]
    async with running_kefu(shop):
        if routing == "agents":
            on = botapi.send_text(shop.agent, "/available")
            await botapi.wait_for_bot_message_async(shop.agent["id"], after=on)
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(chat, is_card, timeout=10)
        card_id = _card_id(card)
        before = await shop.card_suggestions(card_id)
        redrawn = await _correct_to_quality(shop, chat, card)
        answers = await _answers(botapi, 2)

    [message] = await shop.rows("SELECT id, text FROM messages WHERE direction = 'in'")
    expected = _expected_quality_suggestions(shop, QUESTION, message["id"])
    assert "发票" in card["text"]
    assert await shop.card_suggestions(card_id) == expected
    assert expected != before
    assert all(text in redrawn["text"] for text in expected)
    assert "Ada 更正了分类：发票 → 质量问题" in redrawn["text"]
    assert any(d.startswith(f"c:{card_id}:s:") for d in button_data(redrawn))  # still open
    assert [a["text"] for a in answers] == [
        "请选择正确的分类（如需修改标记，先勾选）",
        "已更正为 质量问题",
    ]
    [case] = await shop.rows("SELECT category FROM conversations")
    assert case["category"] == "quality"
    [record] = await shop.rows(CORRECTIONS)
    assert (record["actor_telegram_id"], record["target"]) == (shop.agent["id"], f"card:{card_id}")
    assert json.loads(record["details"]) == {
        "message_id": message["id"],
        "old_category": "invoice",
        "new_category": "quality",
        "old_flags": [],
        "new_flags": [],
    }


async def test_issue_15_a_sent_card_can_be_corrected_without_offering_to_send_again(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    chat = shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(chat, is_card, timeout=10)
        card_id = _card_id(card)
        botapi.press_button(shop.agent, card, f"c:{card_id}:s:1", chat=chat)
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        answered = await _now(botapi, chat, card["message_id"], lambda m: "✅" in m["text"])
        redrawn = await _correct_to_quality(shop, chat, answered)

    assert button_data(answered) == [f"w:{card_id}"]  # only "wrong category" is left
    assert button_data(redrawn) == [f"w:{card_id}"]
    assert "✅" in redrawn["text"]  # who sent what stays on the card
    assert len(botapi.bot_messages(shop.buyer["id"])) == 1
    assert len(await shop.rows(CORRECTIONS)) == 1


async def test_issue_15_a_strangers_press_is_refused_and_audited(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    chat = shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(chat, is_card, timeout=10)
        card_id = _card_id(card)
        data = f"w:{card_id}:c:0:{QUALITY}:0"
        botapi.press_button(shop.buyer, card, data, chat=chat, check=False)
        [answer] = await _answers(botapi, 1)

    assert answer["text"] == "您没有权限操作此卡片"
    assert await shop.rows(CORRECTIONS) == []
    denied = await shop.rows(
        "SELECT actor_telegram_id, target FROM audit_log WHERE action = 'card.denied'"
    )
    assert denied == [{"actor_telegram_id": shop.buyer["id"], "target": data}]
    [case] = await shop.rows("SELECT category FROM conversations")
    assert case["category"] == "invoice"


@pytest.mark.parametrize(
    ("forged", "audited"),
    [
        ("w:{card}:c:0:12:0", "button.unknown"),  # no 13th category
        ("w:{card}:c:0:1:32", "button.unknown"),  # no sixth flag
        ("w:{card}:c:0:x:0", "button.unknown"),
        ("w:2147483647:c:0:1:0", None),  # no such card
    ],
)
async def test_issue_15_forged_correction_data_is_refused_and_changes_nothing(
    botapi: InProcessTelegram, tmp_path: Path, forged: str, audited: str | None
) -> None:
    shop = make_shop(botapi, tmp_path)
    chat = shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(chat, is_card, timeout=10)
        card_id = _card_id(card)
        before = await shop.card_suggestions(card_id)
        botapi.press_button(shop.agent, card, forged.format(card=card_id), chat=chat, check=False)
        [answer] = await _answers(botapi, 1)

    assert answer["text"] in ("您没有权限操作此卡片", "这张卡片已处理或已失效")
    assert await shop.rows(CORRECTIONS) == []
    assert await shop.card_suggestions(card_id) == before
    unknown = await shop.rows("SELECT action FROM audit_log WHERE action = 'button.unknown'")
    assert [row["action"] for row in unknown] == ([audited] if audited else [])


async def test_issue_15_a_double_press_leaves_one_correction(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    chat = shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(chat, is_card, timeout=10)
        card_id = _card_id(card)
        for data in (f"w:{card_id}:c:0:{QUALITY}:0", f"w:{card_id}:c:0:{QUALITY}:0"):
            botapi.press_button(shop.agent, card, data, chat=chat, check=False)
        answers = await _answers(botapi, 2)

    assert len(await shop.rows(CORRECTIONS)) == 1
    texts = [a["text"] for a in answers]
    assert texts[0] == "已更正为 质量问题"
    assert texts[1].startswith("已由 Ada 于 ")
    assert texts[1].endswith("更正为 质量问题，未再次更正")


async def _two_agents_correct_at_once(shop: Shop) -> None:
    botapi = shop.botapi
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, QUESTION)
        card = await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)
    card_id = _card_id(card)
    wrong_item = CATEGORY_ORDER.index(Category.WRONG_ITEM)
    # Two bot processes on one database, one press each (different categories).
    async with running_kefu(shop, poll=False) as one, running_kefu(shop, poll=False) as two:
        botapi.press_button(
            shop.agent, card, f"w:{card_id}:c:0:{QUALITY}:0", chat=shop.forum["id"], check=False
        )
        botapi.press_button(
            shop.supervisor,
            card,
            f"w:{card_id}:c:0:{wrong_item}:0",
            chat=shop.forum["id"],
            check=False,
        )
        first, second = await take_updates(botapi, 2)
        await asyncio.gather(
            one.update_queue.put(Update.de_json(first, one.bot)),
            two.update_queue.put(Update.de_json(second, two.bot)),
        )
        answers = await _answers(botapi, 2)

    records = await shop.rows(CORRECTIONS)
    assert len(records) == 1
    winner = json.loads(records[0]["details"])["new_category"]
    [case] = await shop.rows("SELECT category FROM conversations")
    assert case["category"] == winner
    texts = [a["text"] or "" for a in answers]
    won = [t for t in texts if t.startswith("已更正为 ")]
    lost = [t for t in texts if t.startswith("已由 ") and t.endswith("，未再次更正")]
    assert (len(won), len(lost)) == (1, 1), texts
    report = await shop.verify()
    assert report.ok


async def test_issue_15_two_agents_correct_at_once_on_sqlite(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    await _two_agents_correct_at_once(make_shop(botapi, tmp_path))


async def test_issue_15_two_agents_correct_at_once_on_postgres(
    botapi: InProcessTelegram, tmp_path: Path, postgres_url: str
) -> None:
    await _two_agents_correct_at_once(make_shop(botapi, tmp_path, database_url=postgres_url))


async def test_issue_15_a_copilot_paste_is_corrected_and_logged_under_the_right_category(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    agent = shop.agent
    async with running_kefu(shop):
        pasted = botapi.send_text(agent, "发票怎么开？")
        answer = await botapi.wait_for_bot_message_async(
            agent["id"], lambda m: any(d.startswith("wp:") for d in button_data(m)), after=pasted
        )
        [wrong] = [d for d in button_data(answer) if d.startswith("wp:")]
        botapi.press_button(agent, answer, wrong)
        picker = await _now(botapi, agent["id"], answer["message_id"], _picker)
        choice = next(d for d in button_data(picker) if d.startswith(f"{wrong}:c:0:{QUALITY}:"))
        botapi.press_button(agent, picker, choice)
        redrawn = await _now(
            botapi, agent["id"], answer["message_id"], lambda m: m["text"].startswith("质量问题")
        )
        taobao = next(d for d in button_data(redrawn) if d.endswith(":t"))
        botapi.press_button(agent, redrawn, taobao)
        await botapi.wait_for_bot_message_async(
            agent["id"], lambda m: any(d.startswith("u:") for d in button_data(m)), timeout=10
        )

    assert answer["text"].startswith("发票")
    [record] = await shop.rows(CORRECTIONS)
    paste_id = int(wrong.split(":")[1])
    assert record["target"] == f"paste:{paste_id}"
    [case] = await shop.rows("SELECT category FROM conversations")
    assert case["category"] == "quality"
    [message] = await shop.rows("SELECT id, category FROM messages WHERE direction = 'in'")
    assert message["category"] == "invoice"  # the evidence keeps what Kefu said
    db = Database.open(shop.settings.sqlalchemy_url)
    try:
        async with db.session() as session:
            labels = await label_store.shop_labels(session=session)
    finally:
        await db.close()
    assert [(x.message_id, x.category, x.strength.value) for x in labels] == [
        (message["id"], Category.QUALITY, "correction")
    ]
