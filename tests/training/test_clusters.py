"""Word clusters from unlabelled text: words used alike share a cluster; test groups stay out."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from bot.corpus.pool import split_of, text_key
from bot.corpus.sources import SourceText
from bot.training.clusters import train_side, word_clusters
from bot.training.common import TrainConfig

BROKEN = ["坏了", "坏掉", "裂了"]
LATE = ["还没到", "没送到", "在路上"]
SENTENCES = [
    *([thing, word, "怎么办"] for thing in ("鞋子", "杯子", "屏幕", "手机") for word in BROKEN),
    *([carrier, word, "什么时候"] for carrier in ("快递", "物流", "包裹") for word in LATE),
]
CONFIG = TrainConfig(cluster_sizes=(2,), cluster_min_count=1, cluster_dimensions=4)


def test_words_used_alike_share_a_cluster() -> None:
    clusters = word_clusters(SENTENCES * 3, CONFIG)
    broken = {clusters[f"w:{word}"] for word in BROKEN}
    late = {clusters[f"w:{word}"] for word in LATE}
    assert len(broken) == len(late) == 1
    assert broken != late
    assert all(names[0].startswith("k:2/") for names in clusters.values())


def test_the_clusters_are_seeded() -> None:
    assert word_clusters(SENTENCES * 3, CONFIG) == word_clusters(SENTENCES * 3, CONFIG)


def test_too_few_words_or_no_sizes_make_no_clusters() -> None:
    assert word_clusters([["坏了", "怎么办"]], CONFIG) == {}
    assert word_clusters(SENTENCES * 3, TrainConfig(cluster_sizes=(), cluster_min_count=1)) == {}


def test_only_training_side_texts_that_are_not_held_out() -> None:
    groups = [f"seq:data/train.enc:{n}" for n in range(40)]
    train = next(g for g in groups if split_of(g) == "train")
    test = next(g for g in groups if split_of(g) == "test")
    texts = [
        SourceText("a", "训练这边", train, "zh"),
        SourceText("b", "测试那边", test, "zh"),
        SourceText("c", "留出的", train, "zh"),
    ]
    assert train_side(texts, {text_key("留出的")}) == ["训练这边"]
