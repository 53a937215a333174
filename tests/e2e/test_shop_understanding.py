"""Issue 15 parts 3 and 4 end to end: shop words from chat and the shop's model, across processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.core.labels import LabelStrength, ShopLabel
from bot.core.types import Category, Language
from bot.service import shop_model
from bot.storage.database import Database
from bot.tg.context import SERVICES_KEY, Services
from bot.understanding import load_understanding
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, is_card, make_shop, running_kefu, take_updates
from tests.service.monitor_shop import START, TAUGHT, UNSEEN, WORD

pytestmark = pytest.mark.e2e


async def _deliver(app: Any, botapi: InProcessTelegram) -> None:
    [update] = await take_updates(botapi, 1)
    await app.update_queue.put(Update.de_json(update, app.bot))


def _services(app: Any) -> Services:
    services: Services = app.bot_data[SERVICES_KEY]
    return services


async def _says(shop: Shop, user: dict[str, Any], text: str) -> dict[str, Any]:
    before = len(shop.botapi.bot_messages(user["id"]))
    shop.botapi.send_text(user, text)
    for _ in range(200):
        messages = shop.botapi.bot_messages(user["id"])
        if len(messages) > before:
            return messages[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text!r}")


async def test_a_word_added_in_chat_changes_the_next_message_within_a_second_in_another_process(
    botapi: InProcessTelegram, tmp_path: Path, db_url: str
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=db_url)
    async with running_kefu(shop, poll=False) as one, running_kefu(shop, poll=False) as two:
        other = _services(two).understanding
        assert other.classifier.classify(UNSEEN[0]).category is not Category.QUALITY
        botapi.send_text(shop.supervisor, f"/word {WORD} quality")
        await _deliver(one, botapi)
        answer = await botapi.wait_for_bot_message_async(shop.supervisor["id"], timeout=10)
        started = time.monotonic()
        while other.classifier.classify(UNSEEN[0]).category is not Category.QUALITY:
            assert time.monotonic() - started < 1.0, "the other process did not see the word"
            await asyncio.sleep(0.02)
        botapi.send_text(shop.buyer, UNSEEN[0])
        await _deliver(two, botapi)
        await botapi.wait_for_bot_message_async(shop.forum["id"], is_card, timeout=10)

    words = _services(one).wording
    assert answer["text"] == words.text(
        Language.ZH_HANS, "shop.word_added", word=WORD, category="质量问题 (quality)", weight="3"
    )
    rows = await shop.rows(
        "SELECT m.category, mm.model_version_id, mm.words_revision FROM messages AS m"
        " JOIN message_models AS mm ON mm.message_id = m.id WHERE m.direction = 'in'"
    )
    assert rows == [{"category": "quality", "model_version_id": None, "words_revision": 1}]
    [audit] = await shop.rows("SELECT action, actor_telegram_id FROM audit_log")
    assert audit == {"action": "word.added", "actor_telegram_id": shop.supervisor["id"]}


async def test_words_in_chat_list_remove_and_refuse_bad_input(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop) as app:
        words = _services(app).wording
        unknown = await _says(shop, shop.supervisor, "/word 漏液 leaky")
        refused = await _says(shop, shop.agent, f"/word {WORD} quality")
        await _says(shop, shop.supervisor, '/word "fits small" not_as_described --weight 2')
        listed = await _says(shop, shop.supervisor, "/words")
        removed = await _says(shop, shop.supervisor, "/unword fits small")
        missing = await _says(shop, shop.supervisor, "/unword fits small")
        empty = await _says(shop, shop.supervisor, "/words")

    zh = Language.ZH_HANS
    known = ", ".join(category.value for category in Category)
    assert unknown["text"] == words.text(
        zh, "shop.word_unknown_category", category="leaky", known=known
    )
    assert refused["text"] == words.text(zh, "card.not_allowed")
    title, line = listed["text"].split("\n")
    assert title == words.text(zh, "shop.words_title", count=1)
    assert line.startswith("「fits small」→ 描述不符 (not_as_described)，权重 2 · Sam 于 ")
    assert removed["text"] == words.text(
        zh, "shop.unword_done", word="fits small", category="描述不符 (not_as_described)"
    )
    assert missing["text"] == words.text(zh, "shop.unword_missing", word="fits small")
    assert empty["text"] == words.text(zh, "shop.words_none")
    actions = [
        row["action"] for row in await shop.rows("SELECT action FROM audit_log ORDER BY seq")
    ]
    assert actions == ["word.denied", "word.added", "word.removed"]


async def test_the_shops_model_learns_a_product_word_and_running_bots_reload_it(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    async with running_kefu(shop) as app:
        for message in TAUGHT:
            botapi.send_text(shop.buyer, message)
        for _ in range(200):
            if len([m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]) >= 20:
                break
            await asyncio.sleep(0.05)
        stored = await shop.rows(
            "SELECT id, text, category FROM messages WHERE direction = 'in' ORDER BY id"
        )
        live = _services(app).understanding
        assert Category.QUALITY not in {live.classifier.classify(m).category for m in UNSEEN}
        labels = [
            ShopLabel(
                message_id=row["id"],
                text=row["text"],
                category=Category.QUALITY,
                flags=frozenset(),
                strength=LabelStrength.CORRECTION,
                at=START,
            )
            for row in stored
        ]
        # What `kefu train --shop` does, in a process of its own (its own database handle).
        trainer = Database.open(shop.settings.sqlalchemy_url)
        try:
            result = await shop_model.train_and_activate(
                db=trainer,
                understanding=load_understanding(shop.settings.phrasebook_dir),
                created_by=None,
                labels=labels,
            )
        finally:
            await trainer.close()
        for _ in range(100):  # the running bot polls and loads the new version by itself
            if live.classifier.model_version == result.version_id:
                break
            await asyncio.sleep(0.1)
        for message in UNSEEN:
            botapi.send_text(shop.buyer, message)
        for _ in range(200):
            if len([m for m in botapi.bot_messages(shop.forum["id"]) if is_card(m)]) >= 24:
                break
            await asyncio.sleep(0.05)

    rows = await shop.rows(
        "SELECT m.text, m.category, mm.model_version_id FROM messages AS m"
        " JOIN message_models AS mm ON mm.message_id = m.id"
        " WHERE m.direction = 'in' ORDER BY m.id"
    )
    assert [(r["text"], r["category"], r["model_version_id"]) for r in rows[20:]] == [
        (message, "quality", result.version_id) for message in UNSEEN
    ]
    assert {r["model_version_id"] for r in rows[:20]} == {None}
