"""The shop's weights: the shipped model refitted on the shop's labels, in pure Python."""

from __future__ import annotations

from bot.core.learned import LearnedWeights, LinearModel
from bot.core.shop_training import LabelledFeatures, fit_shop_weights, learned_words
from bot.core.types import Category

LABELS = ("quality", "inquiry", "damaged_missing")
BASE = LearnedWeights(
    language="zh",
    categories=LinearModel(
        labels=LABELS,
        bias=(0.0, 0.5, 0.0),
        weights={
            "w:坏了": ((0, 2.0), (1, -1.0)),
            "w:怎么": ((1, 1.0),),
            "r:quality": ((0, 0.5),),
        },
    ),
    version="shipped",
)


def _examples(count: int) -> list[LabelledFeatures]:
    return [
        LabelledFeatures({"w:掉帧": 1.0, "w:怎么": 1.0, "r:quality": 1.0}, Category.QUALITY, 3.0)
        for _ in range(count)
    ]


def test_a_word_the_shipped_model_never_saw_learns_the_shops_category() -> None:
    fitted = fit_shop_weights(BASE, _examples(20), version="shop-1")

    assert BASE.predict({"w:掉帧": 1.0, "w:怎么": 1.0}).category == Category.INQUIRY
    assert fitted.predict({"w:掉帧": 1.0, "w:怎么": 1.0}).category == Category.QUALITY
    assert fitted.version == "shop-1"


def test_known_words_rules_and_the_bias_barely_move() -> None:
    fitted = fit_shop_weights(BASE, _examples(20), version="shop-1")
    weights = fitted.categories.weights

    assert weights["r:quality"] == BASE.categories.weights["r:quality"]  # rules never move
    assert weights["w:坏了"] == BASE.categories.weights["w:坏了"]  # not in any label
    assert fitted.categories.bias == BASE.categories.bias
    moved = dict(weights["w:怎么"])[1] - 1.0
    learned = dict(weights["w:掉帧"])[0]
    assert (abs(moved) < 0.5, learned > 1.0) == (True, True), (moved, learned)
    assert BASE.predict({"w:怎么": 1.0}).category == fitted.predict({"w:怎么": 1.0}).category


def test_no_usable_examples_leave_the_shipped_weights() -> None:
    assert fit_shop_weights(BASE, [], version="x") is BASE
    unknown = [LabelledFeatures({"w:掉帧": 1.0}, Category.INVOICE, 3.0)]  # not in LABELS
    assert fit_shop_weights(BASE, unknown, version="x") is BASE


def test_learned_words_name_what_the_labels_taught() -> None:
    fitted = fit_shop_weights(BASE, _examples(20), version="shop-1")
    taught = learned_words(BASE, fitted)

    assert [word for word, _gain in taught[Category.QUALITY]][:1] == ["掉帧"]


def test_the_shipped_clusters_stay_and_are_fitted_around() -> None:
    """A shop fit keeps the shipped clusters: their weights stay as shipped (like the rules'),
    and the shop's words are fitted with them in the score, as the bot then reads them."""
    clustered = LearnedWeights(
        language="zh",
        categories=LinearModel(
            labels=LABELS,
            bias=(0.0, 0.5, 0.0),
            weights={**BASE.categories.weights, "k:4/1": ((1, 1.0),)},  # 掉帧's cluster: inquiry
        ),
        version="shipped",
        clusters={"w:掉帧": ("k:4/1",), "w:卡顿": ("k:4/1",)},
    )
    fitted = fit_shop_weights(clustered, _examples(20), version="shop-1")
    assert fitted.clusters == clustered.clusters
    assert fitted.categories.weights["k:4/1"] == ((1, 1.0),)
    assert fitted.predict({"w:掉帧": 1.0, "w:怎么": 1.0}).category == Category.QUALITY
    # 掉帧 had to outweigh its cluster's pull to inquiry: more than without clusters.
    plain = fit_shop_weights(BASE, _examples(20), version="shop-1")
    with_cluster = dict(fitted.categories.weights["w:掉帧"])
    without = dict(plain.categories.weights["w:掉帧"])
    assert with_cluster[0] - with_cluster.get(1, 0.0) > without[0] - without.get(1, 0.0)
