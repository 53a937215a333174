"""Issue 15 end to end through the emulator: agents correct 20 cards whose messages use a word
the shipped model does not know, a supervisor sends /retrain, and new, unseen messages with that
word are carded under the corrected category by the running bot (no restart)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.core.labels import CATEGORY_ORDER
from bot.core.types import Category
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu
from tests.service.monitor_shop import SHORT, TAUGHT, UNSEEN

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]
QUALITY = CATEGORY_ORDER.index(Category.QUALITY)
# More than the 20 labels retraining needs: a card Kefu already files as quality is no correction.
MESSAGES = (
    *TAUGHT,
    *SHORT,
    "显示器一开大型游戏就鬼影",
    "鬼影问题一直没解决",
    "到手第一天就发现鬼影",
)


async def _until(check: Any, what: str) -> Any:
    for _ in range(300):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _cards(botapi: InProcessTelegram, chat: int) -> list[JSON]:
    return [m for m in botapi.bot_messages(chat) if is_card(m)]


async def _correct(shop: Shop, chat: int, card: JSON) -> None:
    """Wrong category, then 质量问题: as an agent does it."""
    botapi = shop.botapi
    card_id = int(button_data(card)[0].split(":")[1])
    botapi.press_button(shop.agent, card, f"w:{card_id}", chat=chat)
    picker = await _until(
        lambda: (
            (m := botapi.get_message(chat, card["message_id"]))
            and any(":c:" in d for d in button_data(m))
            and m
        ),
        "the category picker",
    )
    choice = next(d for d in button_data(picker) if d.startswith(f"w:{card_id}:c:0:{QUALITY}:"))
    botapi.press_button(shop.agent, picker, choice, chat=chat)
    await _until(
        lambda: "质量问题" in (botapi.get_message(chat, card["message_id"]) or {}).get("text", ""),
        "the card redrawn as quality",
    )


async def test_issue_15_corrected_cards_teach_the_running_bot_a_shop_word(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path, telegram_group_rate_limit=0)  # 20 cards at once
    chat = shop.forum["id"]
    buyers = [botapi.create_user(f"买家{i}", language_code="zh-hans") for i in range(len(MESSAGES))]
    async with running_kefu(shop):
        for buyer, text in zip(buyers, MESSAGES, strict=True):
            botapi.send_text(buyer, text)
        cards = await _until(
            lambda: len(found := _cards(botapi, chat)) >= len(MESSAGES) and found, "the cards"
        )
        wrong = [card for card in cards if "质量问题" not in card["text"]]
        for card in wrong:
            await _correct(shop, chat, card)
        asked = botapi.send_text(shop.supervisor, "/retrain")
        await botapi.wait_for_bot_message_async(
            shop.supervisor["id"], lambda m: "已启用店铺模型" in m["text"], after=asked, timeout=30
        )
        await asyncio.sleep(1.5)  # every process polls the active version twice a second
        newcomer = botapi.create_user("新买家", language_code="zh-hans")
        for text in UNSEEN:
            botapi.send_text(newcomer, text)
        await _until(lambda: len(_cards(botapi, chat)) >= len(MESSAGES) + len(UNSEEN), "new cards")
        rows = await shop.rows(
            "SELECT m.text, m.category, mm.model_version_id FROM messages m "
            "LEFT JOIN message_models mm ON mm.message_id = m.id "
            "WHERE m.direction = 'in' ORDER BY m.id"
        )
    taught = [row for row in rows if row["text"] in MESSAGES]
    unseen = [row for row in rows if row["text"] in UNSEEN]
    assert len(wrong) >= 20  # the shipped model does not know the word
    assert [(row["category"], row["model_version_id"]) for row in unseen] == [
        (Category.QUALITY.value, 1)
    ] * len(UNSEEN)
    assert all(row["model_version_id"] is None for row in taught)
