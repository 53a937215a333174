"""The learned model's pure inference: scores, calibrated probabilities, flags, explanations."""

from __future__ import annotations

import math

import pytest

from bot.core.learned import (
    FlagModel,
    LearnedWeights,
    LinearModel,
    WeightsError,
    cluster_feature,
    display_name,
    language_key,
    message_length,
    sigmoid,
    softmax,
    with_clusters,
)
from bot.core.types import Category, Flag, Language

LABELS = ("quality", "inquiry", "not_received")
MODEL = LinearModel(
    labels=LABELS,
    bias=(0.0, 0.5, 0.0),
    weights={
        "w:坏了": ((0, 2.0), (1, -1.0)),
        "w:没到": ((2, 2.5),),
        "r:quality": ((0, 0.5),),
    },
)


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({}, [0.0, 0.5, 0.0]),
        ({"w:坏了": 1.0}, [2.0, -0.5, 0.0]),
        ({"w:坏了": 1.0, "r:quality": 2.0}, [3.0, -0.5, 0.0]),
        ({"w:没到": 1.0, "w:unknown": 1.0}, [0.0, 0.5, 2.5]),
    ],
)
def test_scores_sum_weight_times_value(features: dict[str, float], expected: list[float]) -> None:
    prediction = LearnedWeights("zh", MODEL).predict(features)
    assert prediction.probabilities == pytest.approx(softmax(expected))


def test_probabilities_sum_to_one_and_temperature_flattens() -> None:
    sharp = list(LearnedWeights("zh", MODEL).predict({"w:坏了": 1.0}).probabilities)
    warm = LinearModel(LABELS, MODEL.bias, MODEL.weights, temperature=3.0)
    flat = list(LearnedWeights("zh", warm).predict({"w:坏了": 1.0}).probabilities)
    assert sum(sharp) == pytest.approx(1.0)
    assert sum(flat) == pytest.approx(1.0)
    assert max(flat) < max(sharp)
    assert sharp.index(max(sharp)) == flat.index(max(flat)) == 0


def test_pushes_explain_the_winner_against_the_runner_up() -> None:
    weights = LearnedWeights("zh", MODEL)
    # quality (2.0 + 0.5 x 2) beats not_received (2.5): 坏了 and the rule score push for it,
    # 没到 pulls the other way and is not listed.
    prediction = weights.predict({"w:坏了": 1.0, "r:quality": 2.0, "w:没到": 1.0})
    assert prediction.category is Category.QUALITY
    assert LABELS[prediction.runner_up or 0] == "not_received"
    assert prediction.pushes == (("w:坏了", 2.0), ("r:quality", 1.0))


@pytest.mark.parametrize(
    ("bias", "excluded", "best", "runner_up"),
    [
        ((1.0, 1.0, 1.0), None, 0, 1),  # a tie goes to the first label, then the next
        ((0.0, 1.0, 1.0), None, 1, 2),
        ((2.0, 0.0, 1.0), None, 0, 2),
        ((2.0, 0.0, 1.0), 0, 2, 1),  # ruled out, the runner-up wins
        ((1.0, 1.0, 1.0), 0, 1, 2),
    ],
)
def test_ties_go_to_the_earlier_label(
    bias: tuple[float, ...], excluded: int | None, best: int, runner_up: int
) -> None:
    weights = LearnedWeights("zh", LinearModel(LABELS, bias, {}))
    prediction = weights.predict({}, exclude=excluded)
    assert (prediction.index, prediction.runner_up) == (best, runner_up)


@pytest.mark.parametrize(
    ("bias", "temperature", "message"),
    [((0.0,), 1.0, "3 labels but 1 biases"), ((0.0, 0.0, 0.0), 0.0, "temperature")],
)
def test_bad_models_are_refused(bias: tuple[float, ...], temperature: float, message: str) -> None:
    with pytest.raises(WeightsError, match=message):
        LinearModel(LABELS, bias, {}, temperature)


def test_unknown_category_is_refused() -> None:
    with pytest.raises(WeightsError, match="unknown categories"):
        LearnedWeights("zh", LinearModel(("quality", "nonsense"), (0.0, 0.0), {}))


BANDED = LearnedWeights("zh", MODEL, needs_human_below=0.98, needs_human_upto=((6, 0.6), (24, 0.9)))


@pytest.mark.parametrize(
    ("length", "threshold"),
    [(0, 0.6), (1, 0.6), (6, 0.6), (7, 0.9), (24, 0.9), (25, 0.98), (5000, 0.98)],
)
def test_a_message_takes_the_threshold_of_its_length_band(length: int, threshold: float) -> None:
    assert BANDED.needs_human_at(length) == threshold


def test_without_bands_every_length_takes_needs_human_below() -> None:
    weights = LearnedWeights("zh", MODEL, needs_human_below=0.7)
    assert {weights.needs_human_at(n) for n in (0, 5, 50, 500)} == {0.7}


@pytest.mark.parametrize(
    ("upto", "below", "message"),
    [
        (((12, 0.5), (6, 0.4)), 0.9, "must rise"),
        (((6, 0.5), (6, 0.4)), 0.9, "must rise"),
        (((0, 0.5),), 0.9, "must rise"),
        (((6, 1.5),), 0.9, "0-1"),
        ((), -0.1, "0-1"),
    ],
)
def test_bad_needs_human_bands_are_refused(
    upto: tuple[tuple[int, float], ...], below: float, message: str
) -> None:
    with pytest.raises(WeightsError, match=message):
        LearnedWeights("zh", MODEL, needs_human_below=below, needs_human_upto=upto)


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("没到", 2), ("没 到 啊", 3), (" \n\t", 0), ("it broke!", 8), ("😡😡", 2)],
)
def test_message_length_counts_characters_but_not_spaces(text: str, length: int) -> None:
    assert message_length(text) == length


def test_predict_picks_the_best_category_and_thresholded_flags() -> None:
    angry = FlagModel(Flag.ANGRY, bias=-2.0, weights={"w:坏了": 3.0}, threshold=0.6)
    weights = LearnedWeights("zh", MODEL, flags=(angry,), needs_human_below=0.5)
    broken = weights.predict({"w:坏了": 1.0})
    assert broken.category is Category.QUALITY
    assert broken.flags == {Flag.ANGRY}  # sigmoid(1.0) = 0.73 >= 0.6
    calm = weights.predict({"w:没到": 1.0})
    assert calm.category is Category.NOT_RECEIVED
    assert calm.flags == frozenset()


@pytest.mark.parametrize(
    ("feature", "row"),
    [
        ("w:坏了", (2.0, -1.0, 0.0, 3.0)),  # categories, then the flag
        ("w:没到", (0.0, 0.0, 2.5, 0.0)),
        ("s:question", (0.0, 0.0, 0.0, -1.5)),  # only the flag model reads it
        ("w:unknown", None),
    ],
)
def test_a_features_dense_row_is_built_on_first_use(
    feature: str, row: tuple[float, ...] | None
) -> None:
    angry = FlagModel(Flag.ANGRY, bias=0.0, weights={"w:坏了": 3.0, "s:question": -1.5})
    weights = LearnedWeights("zh", MODEL, flags=(angry,))
    assert weights.rows == {}
    assert weights.row(feature) == row
    assert weights.rows == ({} if row is None else {feature: row})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 0.5), (1000.0, 1.0), (-1000.0, 0.0), (2.0, 1 / (1 + math.exp(-2)))],
)
def test_sigmoid_is_safe_for_large_values(value: float, expected: float) -> None:
    assert sigmoid(value) == pytest.approx(expected)


def test_softmax_is_stable() -> None:
    assert softmax([1000.0, 1000.0]) == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize(
    ("feature", "shown"),
    [
        ("w:退货", "退货"),
        ("c:坏了", "坏了"),
        ("b:sole_came", "sole came"),
        ("b:<s>_the", "the"),
        ("b:没_收到", "没收到"),
        ("b:坏了_</s>", "坏了"),
        ("b:没_<order>", "没"),
        ("b:iphone_坏了", "iphone坏了"),
        ("s:question", "s:question"),
    ],
)
def test_display_name(feature: str, shown: str) -> None:
    assert display_name(feature) == shown


@pytest.mark.parametrize(
    ("language", "key"), [(Language.ZH_HANS, "zh"), (Language.ZH_HANT, "zh"), (Language.EN, "en")]
)
def test_both_chinese_scripts_share_weights(language: Language, key: str) -> None:
    assert language_key(language) == key


CLUSTERED = LinearModel(
    labels=LABELS,
    bias=(0.0, 0.5, 0.0),
    weights={
        "w:坏了": ((0, 2.0), (1, -1.0)),
        "w:没到": ((2, 2.5),),
        "k:4/1": ((0, 1.5), (2, -0.5)),  # the cluster of 坏了, 坏掉 and 裂了
        "k:4/2": ((2, 1.0),),
        "k:8/5": ((1, 0.25),),
        "r:quality": ((0, 0.5),),
    },
)
CLUSTERS = {
    "w:坏了": ("k:4/1", "k:8/5"),
    "w:坏掉": ("k:4/1", "k:8/5"),  # no weight of its own: its clusters speak for it
    "w:裂了": ("k:4/1", "k:8/6"),
    "w:没到": ("k:4/2", "k:8/7"),
}
CLUSTER_FLAG = FlagModel(Flag.ANGRY, bias=-1.0, weights={"k:4/1": 0.8, "w:坏了": 0.5})


@pytest.mark.parametrize(
    "features",
    [
        {},
        {"w:坏了": 1.0},
        {"w:坏掉": 1.0},
        {"w:坏了": 1.0, "w:坏掉": 1.0, "w:裂了": 1.0},  # one cluster, counted per word
        {"w:坏掉": 1.0, "w:没到": 1.0, "r:quality": 2.0},
        {"w:unknown": 1.0, "w:裂了": 1.0},
        {"w:坏了": 2.0, "w:没到": 0.5},  # words are 1.0 today; other values scale alike
    ],
)
def test_word_rows_carry_their_clusters_as_the_expanded_features_would(
    features: dict[str, float],
) -> None:
    """At run time a word's row holds its clusters' weights; fitted, the clusters were
    features of their own (`with_clusters`). Both must score a message alike."""
    merged = LearnedWeights("zh", CLUSTERED, flags=(CLUSTER_FLAG,), clusters=CLUSTERS)
    plain = LearnedWeights("zh", CLUSTERED, flags=(CLUSTER_FLAG,))
    expanded = with_clusters(features, CLUSTERS)
    a, b = merged.predict(features), plain.predict(expanded)
    assert a.probabilities == pytest.approx(b.probabilities)
    assert a.flags == b.flags
    assert a.category == b.category


def test_clusters_expand_once_per_word_and_only_for_words() -> None:
    expanded = with_clusters({"w:坏了": 1.0, "w:坏掉": 1.0, "r:quality": 2.0}, CLUSTERS)
    assert expanded == {
        "w:坏了": 1.0,
        "w:坏掉": 1.0,
        "r:quality": 2.0,
        "k:4/1": 2.0,
        "k:8/5": 2.0,
    }
    assert cluster_feature(1024, 7) == "k:1024/7"


def test_a_word_known_only_by_its_clusters_explains_the_decision() -> None:
    weights = LearnedWeights("zh", CLUSTERED, clusters=CLUSTERS)
    prediction = weights.predict({"w:坏掉": 1.0})
    assert prediction.category is Category.QUALITY
    assert [name for name, _push in prediction.pushes] == ["w:坏掉"]
