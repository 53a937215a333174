"""Issue 14: intake classifies each buyer message exactly once, on the batch path (a burst of
texts) and the one-by-one path (a photo, an edit), counted through a real Classifier subclass."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.app import build_application, build_services
from bot.core.classify import Classifier, Rules
from bot.core.learned import LearnedWeights
from bot.core.types import Classification
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, make_shop, prepare_database, started

pytestmark = pytest.mark.e2e


class CountingClassifier(Classifier):
    """The shipped classifier, noting every text it classifies; the classifiers rebuilt from it
    (when the shop's words or model change) note into the same list."""

    def __init__(self, live: Classifier, texts: list[str] | None = None) -> None:
        super().__init__(
            live.rules,
            live.segmenter,
            live.converter,
            live.learned,
            model_version=live.model_version,
            shop_revision=live.shop_revision,
        )
        self.texts: list[str] = [] if texts is None else texts

    def classify(self, text: str) -> Classification:
        self.texts.append(text)
        return super().classify(text)

    def rebuilt(
        self,
        rules: Rules,
        learned: Mapping[str, LearnedWeights],
        *,
        model_version: int | None,
        shop_revision: int,
    ) -> Classifier:
        plain = super().rebuilt(
            rules, learned, model_version=model_version, shop_revision=shop_revision
        )
        return CountingClassifier(plain, self.texts)


async def _until(shop: Shop, sql: str, expected: int) -> None:
    async with asyncio.timeout(15):
        while (await shop.rows(sql))[0]["n"] != expected:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)


POSTED = "SELECT count(*) AS n FROM cards WHERE card_message_id IS NOT NULL"


async def test_issue_14_each_buyer_message_is_classified_exactly_once(
    botapi: InProcessTelegram, tmp_path: Path, db_url: str
) -> None:
    shop = make_shop(botapi, tmp_path, database_url=db_url)
    li = botapi.create_user("李", language_code="zh-hans")
    burst = [
        (shop.buyer, "我要退款，尺码不对"),
        (li, "快递五天了还没到"),
        (shop.buyer, "还是退款吧，什么时候能退"),
    ]
    sent = [botapi.send_text(user, text) for user, text in burst]  # one getUpdates: a batch
    await prepare_database(shop)
    services = build_services(shop.settings)
    counting = CountingClassifier(services.understanding.classifier)
    services.understanding.classifier = services.understanding.shop.shipped = counting
    async with started(build_application(shop.settings, services), poll=True):
        await _until(shop, POSTED, 3)
        botapi.send_photo(shop.buyer, b"\xff\xd8 jpeg", caption="包裹破了，看图")  # one by one
        await _until(shop, POSTED, 4)
        botapi.edit_text(li, sent[1], "快递六天了还没到，怎么回事")  # one by one
        await _until(shop, POSTED, 5)
        await _until(shop, "SELECT count(*) AS n FROM processed_updates", 5)

    texts = [text for _, text in burst] + ["包裹破了，看图", "快递六天了还没到，怎么回事"]
    messages = await shop.rows("SELECT text, category FROM messages ORDER BY seq")
    assert sorted(counting.texts) == sorted(texts)
    assert sorted(m["text"] for m in messages) == sorted(texts)
    assert all(m["category"] is not None for m in messages)  # the verdict stored with each
