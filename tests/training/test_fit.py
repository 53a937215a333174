"""`kefu train`'s fitting on a small corpus written for this test: deterministic and usable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from bot.core.classify import Classifier
from bot.core.learned import message_length
from bot.core.types import Category
from bot.nlp.pipeline import build_classifier
from bot.phrasebook.weights import read_weights, write_weights
from bot.training.common import TrainConfig
from bot.training.dataset import Example
from bot.training.fit import train_language

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"

TEXTS = {
    "quality": [
        "鞋底开胶了",
        "用了两天就坏了",
        "拉链坏了拉不上",
        "屏幕有坏点",
        "电池鼓包了",
        "开机就死机",
    ],
    "not_received": [
        "快递还没到",
        "物流三天没动",
        "显示签收了但我没拿到",
        "包裹到哪了",
        "什么时候能送到",
        "快递员不送货",
    ],
    "invoice": [
        "发票怎么开",
        "能开专票吗",
        "发票抬头写错了",
        "税号要改一下",
        "发票还没收到",
        "我要开增值税发票",
    ],
}


def corpus() -> list[Example]:
    return [
        Example(f"{cat}{i}", text, cat, frozenset(), "zh", f"{cat}{i}", "train", "written")
        for cat, texts in TEXTS.items()
        for i, text in enumerate(texts)
    ]


@pytest.fixture(scope="module")
def rules_only() -> Classifier:
    return build_classifier(PHRASEBOOK, learned=False)


CONFIG = TrainConfig(folds=2, c_grid=(1.0,), balanced_grid=(False,), min_count=1)


def test_training_is_deterministic_and_learns_the_corpus(
    rules_only: Classifier, tmp_path: Path
) -> None:
    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    first = train_language(
        corpus(), featurize, language="zh", version="t", config=CONFIG, measure=len
    )
    second = train_language(
        corpus(), featurize, language="zh", version="t", config=CONFIG, measure=len
    )
    assert first.weights == second.weights
    assert first.chosen is not None
    assert first.chosen.accuracy > 0.5
    assert set(first.weights.categories.labels) == set(TEXTS)
    write_weights(tmp_path / "zh.tsv", first.weights)
    loaded = read_weights(tmp_path / "zh.tsv")
    classifier = Classifier(
        rules_only.rules, rules_only.segmenter, rules_only.converter, {"zh": loaded}
    )
    # invoice is the first label, so it would also win a tie of an all-zero model; the others
    # must be learned.
    assert classifier.classify("发票抬头怎么改").category is Category.INVOICE
    assert classifier.classify("鞋子穿了一天就坏了").category is Category.QUALITY
    assert classifier.classify("快递到哪了，三天没动").category is Category.NOT_RECEIVED


def test_two_categories_train_too(rules_only: Classifier) -> None:
    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    two = [e for e in corpus() if e.category != "invoice"]
    trained = train_language(two, featurize, language="zh", version="t", config=CONFIG, measure=len)
    assert trained.weights.categories.labels == ("not_received", "quality")
    assert trained.weights.predict(featurize("鞋底开胶了")).category is Category.QUALITY


def test_the_naive_bayes_blend_is_one_linear_model(rules_only: Classifier) -> None:
    """The written weights score every text as the blend of the two fitted models would."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB

    from bot.training.common import matrix as _matrix
    from bot.training.fit import CvResult, _Blend, _final_model

    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    examples = corpus()
    rows = [featurize(e.text) for e in examples]
    labels = [e.category for e in examples]
    config = TrainConfig(min_count=1, prune_below=0.0)
    blend = _Blend(0.4, lr_spread=2.0, nb_spread=3.0)
    chosen = CvResult(1.0, False, 1.0, 1.0, 0.4)
    order, coef, intercept, names = _final_model(rows, labels, chosen, blend, config)
    x, same_names = _matrix(rows, 1)
    assert same_names == names
    regression = LogisticRegression(C=1.0, max_iter=3000, random_state=config.seed).fit(x, labels)
    bayes = ComplementNB(alpha=config.nb_alpha).fit(x, labels)
    expected = 0.3 * regression.decision_function(x) + (0.4 / 3.0) * bayes.predict_joint_log_proba(
        x
    )
    ours = np.asarray(x @ coef.T) + intercept
    # Equal up to one constant per text (each feature's weights were centred across categories),
    # so every softmax and every decision is the same.
    difference = ours - expected
    assert order == list(regression.classes_)
    assert np.allclose(difference, difference[:, :1], atol=1e-9)
    assert blend.lr_scale == pytest.approx(0.3)


def test_cross_validation_chooses_the_naive_bayes_share(rules_only: Classifier) -> None:
    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    config = TrainConfig(
        folds=2,
        c_grid=(1.0,),
        balanced_grid=(False,),
        min_count=1,
        nb_share_grid=(0.0, 0.5),
        max_ece=1.0,
    )
    trained = train_language(
        corpus(), featurize, language="zh", version="t", config=config, measure=len
    )
    assert [r.nb_share for r in trained.cv] == [0.0, 0.5]
    assert trained.chosen in trained.cv


@pytest.mark.parametrize(
    ("figures", "max_ece", "expected"),
    [
        # the sharper blend scores better but is not calibrated: the calibrated one is chosen
        ([(1.0, 0.0, 0.80, 0.78, 0.03), (1.0, 0.5, 0.83, 0.81, 0.07)], 0.05, 0),
        ([(1.0, 0.0, 0.80, 0.78, 0.03), (1.0, 0.3, 0.82, 0.80, 0.045)], 0.05, 1),
        # none calibrated: the best of all
        ([(1.0, 0.0, 0.80, 0.78, 0.06), (1.0, 0.3, 0.82, 0.80, 0.07)], 0.05, 1),
        # a tie goes to the smaller C, then to the smaller naive Bayes share
        ([(4.0, 0.0, 0.80, 0.80, 0.01), (1.0, 0.3, 0.80, 0.80, 0.01)], 0.05, 1),
        ([(1.0, 0.3, 0.80, 0.80, 0.01), (1.0, 0.0, 0.80, 0.80, 0.01)], 0.05, 1),
    ],
)
def test_pick_setting(
    figures: list[tuple[float, float, float, float, float]], max_ece: float, expected: int
) -> None:
    from bot.training.fit import CvResult, pick_setting

    results = [CvResult(c, True, acc, f1, share, ece) for c, share, acc, f1, ece in figures]
    assert pick_setting(results, max_ece) == expected


def test_a_word_no_label_had_counts_through_its_cluster(rules_only: Classifier) -> None:
    """ "裂开" is in no labelled text, but shares a cluster with the broken words: the fitted
    weights file carries the cluster, and the word reads as quality through it."""

    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    from bot.core.learned import LearnedWeights, with_clusters
    from bot.phrasebook.weights import format_weights, parse_weights

    broken = ("k:4/1",)
    words = {"w:坏了", "w:开胶", "w:坏点", "w:鼓包", "w:死机", "w:裂开"}
    clusters = {word: broken for word in words}
    trained = train_language(
        corpus(),
        featurize,
        language="zh",
        version="t",
        config=CONFIG,
        clusters=clusters,
        measure=len,
    )
    weights = parse_weights(format_weights(trained.weights).encode(), name="zh.tsv")
    assert weights.clusters == clusters
    assert "w:裂开" not in weights.categories.weights  # it has no weight of its own
    message = {"w:裂开": 1.0}
    assert weights.predict(message).category is Category.QUALITY
    # the score the fit saw: the cluster as a feature of its own
    as_fitted = LearnedWeights("zh", weights.categories, weights.flags)
    assert weights.predict(message).probabilities == pytest.approx(
        as_fitted.predict(with_clusters(message, clusters)).probabilities
    )
    plain = train_language(
        corpus(), featurize, language="zh", version="t", config=CONFIG, measure=len
    )
    assert plain.weights.predict(message).category is not Category.QUALITY


def test_rare_word_pairs_are_left_out_and_nothing_else() -> None:
    from bot.training.common import without_rare

    rows = [
        {"b:没_收到": 1.0, "w:没": 1.0, "b:<s>_没": 1.0},
        {"b:没_收到": 1.0, "w:稀有": 1.0},
        {"b:没_收到": 1.0, "b:<s>_没": 1.0},
    ]
    assert without_rare(rows, "b", 3) == [
        {"b:没_收到": 1.0, "w:没": 1.0},
        {"b:没_收到": 1.0, "w:稀有": 1.0},
        {"b:没_收到": 1.0},
    ]


def test_needs_human_thresholds_by_length_band(rules_only: Classifier) -> None:
    def featurize(text: str) -> dict[str, float]:
        return rules_only.features(rules_only.normalize(text))

    def measure(text: str) -> int:  # as `kefu train` and the bot count: the normalised text
        return message_length(rules_only.normalize(text).text)

    config = replace(CONFIG, needs_human_lengths=(("zh", (5,)),), min_source_rows=3)
    chinese = train_language(
        corpus(), featurize, language="zh", version="t", config=config, measure=measure
    )
    [(edge, short)] = chinese.weights.needs_human_upto
    assert edge == 5
    for threshold in (short, chinese.weights.needs_human_below):
        assert 0.0 < threshold <= 1.0
        assert threshold == round(threshold, 4)  # written as it is used
    english = train_language(
        corpus(), featurize, language="en", version="t", config=config, measure=measure
    )
    assert english.weights.needs_human_upto == ()  # no bands configured for it
    # The bot reads a message's band from its length: short ones trusted, long ones not.
    banded = replace(chinese.weights, needs_human_below=1.0, needs_human_upto=((5, 0.0),))
    classifier = Classifier(
        rules_only.rules, rules_only.segmenter, rules_only.converter, {"zh": banded}
    )
    assert not classifier.classify("天气 怎么样").needs_human  # 5 characters, spaces not counted
    assert classifier.classify("天气怎么样呢").needs_human  # 6: below 1.0, as any unsure verdict
