"""The shop's own weights: the shipped model nudged toward what the shop's agents taught it.

Pure Python, no scikit-learn, so a running bot can retrain (`/retrain`): starting from the
shipped weights, a few hundred small gradient steps of the same softmax regression on the
shop's labelled messages (each weighted by its strength: a correction counts more than a
confirmation). Only word features (jieba words, character pairs, English word pairs) move;
the rules' and signals' weights stay as shipped, so the model's behaviour on messages without
the shop's words barely changes. A word the shipped model knows is pulled back hard toward its
shipped weight, a word it never saw only softly: the shop's own product words carry what the
shop taught, common words stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.learned import (
    BIGRAM,
    PAIR,
    WORD,
    LearnedWeights,
    LinearModel,
    softmax,
    with_clusters,
)
from bot.core.types import Category


@dataclass(frozen=True, slots=True)
class ShopFitConfig:
    """How the shop's weights are fitted (the defaults were chosen on the shipped test split)."""

    epochs: int = 200
    learning_rate: float = 1.0
    shipped_prior: float = 0.5  # L2 pull back to the shipped weight of a feature it knows
    new_prior: float = 0.01  # … and toward zero for a feature the shipped model never saw
    learnable: frozenset[str] = frozenset({WORD, PAIR, BIGRAM})
    prune_below: float = 0.02  # as the shipped weights: closer to zero is left out


@dataclass(frozen=True, slots=True)
class LabelledFeatures:
    """One labelled message as the model reads it: features, the category, its weight."""

    features: Mapping[str, float]
    category: Category
    weight: float = 1.0


def fit_shop_weights(
    base: LearnedWeights,
    examples: Sequence[LabelledFeatures],
    *,
    version: str,
    config: ShopFitConfig = ShopFitConfig(),
) -> LearnedWeights:
    """`base` with its word weights refitted on `examples`; flags and calibration as shipped."""
    model = base.categories
    index = {label: i for i, label in enumerate(model.labels)}
    usable = _usable(examples, index, base.clusters)
    if not usable:
        return base
    width = len(model.labels)
    names = sorted(
        {n for e in usable for n in e.features if n.partition(":")[0] in config.learnable}
    )
    shipped = {name: _dense(model, name, width) for name in names}
    current = {name: list(row) for name, row in shipped.items()}
    prior = {
        name: config.shipped_prior if name in model.weights else config.new_prior for name in names
    }
    fixed = [_fixed_scores(model, e.features, current) for e in usable]
    total = sum(e.weight for e in usable)
    for _epoch in range(config.epochs):
        gradients = {name: [0.0] * width for name in names}
        for example, scores in zip(usable, fixed, strict=True):
            learnable = [(n, v) for n, v in example.features.items() if n in current]
            totals = list(scores)
            for name, value in learnable:
                for k, weight in enumerate(current[name]):
                    totals[k] += weight * value
            probabilities = softmax(totals, model.temperature)
            probabilities[index[example.category.value]] -= 1.0
            scale = example.weight / total / model.temperature
            for name, value in learnable:
                gradient = gradients[name]
                for k, error in enumerate(probabilities):
                    gradient[k] += scale * value * error
        for name in names:
            row, start, pull = current[name], shipped[name], prior[name]
            gradient = gradients[name]
            for k in range(width):
                row[k] -= config.learning_rate * (gradient[k] + pull * (row[k] - start[k]))
    weights = _refitted(model.weights, current, config.prune_below)
    return LearnedWeights(
        language=base.language,
        categories=LinearModel(model.labels, model.bias, weights, model.temperature),
        flags=base.flags,
        needs_human_below=base.needs_human_below,
        needs_human_upto=base.needs_human_upto,
        version=version,
        clusters=base.clusters,
        base_version=base.version,
    )


def _refitted(
    shipped: Mapping[str, tuple[tuple[int, float], ...]],
    rows: Mapping[str, Sequence[float]],
    prune_below: float,
) -> dict[str, tuple[tuple[int, float], ...]]:
    """The shipped weights with the refitted rows in their place (near-zero weights left out)."""
    weights = dict(shipped)
    for name, row in rows.items():
        pairs = tuple((k, round(w, 4)) for k, w in enumerate(row) if abs(w) >= prune_below)
        if pairs:
            weights[name] = pairs
        else:
            weights.pop(name, None)
    return weights


def _usable(
    examples: Sequence[LabelledFeatures],
    index: Mapping[str, int],
    clusters: Mapping[str, tuple[str, ...]],
) -> list[LabelledFeatures]:
    """The examples the model can learn from, their words' clusters as features (whose
    weights stay as shipped, like the rules')."""
    return [
        LabelledFeatures(with_clusters(e.features, clusters), e.category, e.weight)
        for e in examples
        if e.category.value in index and e.weight > 0
    ]


def learned_words(
    base: LearnedWeights, fitted: LearnedWeights, *, count: int = 5
) -> dict[Category, list[tuple[str, float]]]:
    """Per category, the word features whose weight the shop's labels raised most."""
    model = fitted.categories
    width = len(model.labels)
    raised: dict[Category, list[tuple[str, float]]] = {}
    for name in model.weights:
        if name.partition(":")[0] not in (WORD, BIGRAM):
            continue
        if base.categories.weights.get(name) == model.weights[name]:
            continue
        before = _dense(base.categories, name, width)
        after = _dense(model, name, width)
        for k, label in enumerate(model.labels):
            gain = after[k] - before[k]
            if gain >= 0.1:
                raised.setdefault(Category(label), []).append((name.partition(":")[2], gain))
    return {
        category: sorted(items, key=lambda item: (-item[1], item[0]))[:count]
        for category, items in raised.items()
    }


def _dense(model: LinearModel, name: str, width: int) -> list[float]:
    row = [0.0] * width
    for k, weight in model.weights.get(name, ()):
        row[k] = weight
    return row


def _fixed_scores(
    model: LinearModel, features: Mapping[str, float], learnable: Mapping[str, object]
) -> list[float]:
    """The bias plus every feature that does not move (the rules, signals, other words)."""
    scores = list(model.bias)
    for name, value in features.items():
        if name in learnable:
            continue
        for k, weight in model.weights.get(name, ()):
            scores[k] += weight * value
    return scores
