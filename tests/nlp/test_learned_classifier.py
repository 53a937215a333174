"""The shipped classifier: learned weights, shop overrides that always win, Cantonese folding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core.classify import Classifier
from bot.core.types import Category
from bot.nlp.pipeline import build_classifier

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier(PHRASEBOOK)


def test_the_shipped_classifier_uses_learned_weights(classifier: Classifier) -> None:
    assert set(classifier.learned) == {"zh", "en"}
    rules_only = build_classifier(PHRASEBOOK, learned=False)
    assert rules_only.learned == {}


@pytest.mark.parametrize(
    "text",
    [
        "衣服洗了一次就起球了",
        "快递三天没动了",
        "the sole came off after one walk",
        "發票抬頭開錯了",
    ],
)
def test_keywords_explain_and_confidence_is_a_probability(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text)
    assert 0.0 < result.confidence <= 1.0
    assert result.keywords, text
    model = classifier.learned["en" if text.isascii() else "zh"]
    assert result.needs_human == (result.confidence < model.needs_human_below)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("我嘅貨仲未到", "我的货还没到"),
        ("點解寄錯咗顏色俾我", "为什么寄错了颜色给我"),
        ("件衫唔係我揀嗰款", "件衫不是我拣那款"),
        ("呢個系統幾好", "呢个系统几好"),  # no Cantonese-only form: 系 stays
    ],
)
def test_written_cantonese_is_read_as_mandarin(
    classifier: Classifier, text: str, folded: str
) -> None:
    assert classifier.normalize(text).text == folded


def _with_override(tmp_path: Path) -> Path:
    copy = tmp_path / "phrasebook"
    shutil.copytree(PHRASEBOOK, copy)
    (copy / "rules" / "90-shop.yaml").write_text(
        "overrides:\n  damaged_missing:\n    起球: 3\n", encoding="utf-8"
    )
    return copy


def test_a_shop_override_wins_over_learned_weights(classifier: Classifier, tmp_path: Path) -> None:
    text = "毛衣穿了一次就起球了"
    assert classifier.classify(text).category is not Category.DAMAGED_MISSING
    shop = build_classifier(_with_override(tmp_path))
    result = shop.classify(text)
    assert result.category is Category.DAMAGED_MISSING
    assert "起球" in result.keywords
    assert shop.classify("毛衣没有起球，就是有点小").category is not Category.DAMAGED_MISSING
