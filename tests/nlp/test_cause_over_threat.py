"""A review or complaint threat made to get a problem fixed is about the problem (the taxonomy's
"the cause beats the remedy"): `_threatened_over` names the cause only when a condition phrase
ties the threat to it and the rules find the cause on its own. Sentences written for this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.classify import Classifier, _threatened_over
from bot.core.types import Category, Flag
from bot.nlp.pipeline import build_classifier

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"
B, C = Category.BAD_REVIEW, Category.COMPLAINT


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier(PHRASEBOOK)


@pytest.mark.parametrize(
    ("text", "model_says", "cause"),
    [
        (
            "The mug arrived smashed, fix it or I'll leave a 1 star review",
            B,
            Category.DAMAGED_MISSING,
        ),
        ("Item arrived smashed, fix it or I leave a bad review", B, Category.DAMAGED_MISSING),
        ("收到就碎了，赶紧补发，不然差评", B, Category.DAMAGED_MISSING),
        ("收到就碎了，趕緊補發，否則差評", B, Category.DAMAGED_MISSING),
        # no condition: a story, not a threat made to get something fixed
        ("The item was broken then I left a bad review", B, None),
        ("It broke after 2 days and I will leave a 1 star review", B, None),
        # no cause of its own, or only an imagined one
        ("Answer me or I'll leave a bad review", B, None),
        ("If it arrives broken I will leave a bad review", B, None),
        # the model did not say a threat category: nothing to move
        ("The mug arrived smashed, fix it or I'll leave a 1 star review", Category.QUALITY, None),
        # a complaint threat the same way
        ("包裹一直没到，今天不给我处理的话我就投诉到平台", C, Category.NOT_RECEIVED),
    ],
)
def test_threatened_over(
    classifier: Classifier, text: str, model_says: Category, cause: Category | None
) -> None:
    reading = classifier.read(classifier.normalize(text))
    assert _threatened_over(model_says, reading, classifier.rules) is cause


def test_the_cause_keeps_the_threat_flag_and_a_real_confidence(classifier: Classifier) -> None:
    verdict = classifier.classify("The mug arrived smashed, fix it or I'll leave a 1 star review")
    assert verdict.category is Category.DAMAGED_MISSING
    assert Flag.THREATENS_REVIEW in verdict.flags
    assert verdict.confidence >= 0.5  # the problem or the threat about it, not the cause alone
    assert verdict.keywords  # the rules' words for the cause
