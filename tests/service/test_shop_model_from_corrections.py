"""The shop's model trained from corrections as agents write them (issue 15 parts 1-3 together).

Buyer messages are stored, corrected with `claim_correction` (the path the Wrong category button
and the console's /wrong take), read back by `shop_labels`, and `train_and_activate` — given no
labels — fits the shop's model from them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.labels import CardLabel, LabelStrength
from bot.core.types import Category
from bot.service import shop_model
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.storage.labels import claim_correction, message_target, shop_labels
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.understanding import Understanding, load_understanding
from tests.service.monitor_shop import START, TAUGHT, UNSEEN

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"


@pytest.fixture(scope="module")
def shipped() -> Understanding:
    return load_understanding(PHRASEBOOK)


async def _corrected_messages(db: Database, texts: tuple[str, ...]) -> None:
    """Each text a buyer message Kefu filed as an inquiry, corrected to quality by an agent."""
    for index, text in enumerate(texts):
        async with db.transaction() as session:
            buyer = await get_or_create_buyer(
                session=session, telegram_user_id=8000 + index, display_name="买家"
            )
            conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
            message = await append_message(
                session=session,
                conversation_id=conversation.id,
                buyer_id=buyer.id,
                direction="in",
                text=text,
                sent_at=START + timedelta(minutes=index),
                category=Category.INQUIRY.value,
            )
            outcome = await claim_correction(
                session=session,
                target=message_target(message.id),
                message_id=message.id,
                original=CardLabel(Category.INQUIRY, frozenset()),
                expected_revision=0,
                category=Category.QUALITY,
                flags=frozenset(),
                actor_telegram_id=9001,
            )
            assert outcome is not None


async def test_corrections_in_the_log_teach_the_shops_model(
    db: Database, shipped: Understanding
) -> None:
    understanding = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
    before = [understanding.classifier.classify(text).category for text in UNSEEN]
    await _corrected_messages(db, TAUGHT)
    async with db.session() as session:
        labels = await shop_labels(session=session)

    result = await shop_model.train_and_activate(db=db, understanding=understanding, created_by=1)

    after = [understanding.classifier.classify(text).category for text in UNSEEN]
    assert set(before) != {Category.QUALITY}  # the shipped model does not know the word
    assert [(label.category, label.strength) for label in labels] == [
        (Category.QUALITY, LabelStrength.CORRECTION)
    ] * len(TAUGHT)
    assert result.fit.label_counts()["corrections"] == len(TAUGHT)
    assert after == [Category.QUALITY] * len(UNSEEN)
