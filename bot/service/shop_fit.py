"""Refitting the shipped weights on the shop's labels, one language at a time, and measuring the
refit on the newest labels held out (the computation behind `bot.service.shop_model`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.classify import Classifier
from bot.core.labels import LabelStrength, ShopLabel
from bot.core.learned import LearnedWeights, language_key
from bot.core.shop_training import (
    LabelledFeatures,
    ShopFitConfig,
    fit_shop_weights,
    learned_words,
)
from bot.core.types import Category

DEFAULT_FIT = ShopFitConfig()
HELD_OUT_SHARE = 0.2  # the newest fifth of the labels measures before and after


@dataclass
class LanguageFit:
    """One language's refit: counts and the held-out figures."""

    language: str
    labels: int
    corrections: int
    confirmations: int
    held_out: int
    right_before: int
    right_after: int
    learned: dict[Category, list[tuple[str, float]]] = field(default_factory=dict)


@dataclass
class ShopFit:
    """The refitted weights of every language with enough labels, and what was measured."""

    weights: dict[str, LearnedWeights]
    languages: list[LanguageFit]
    skipped: dict[str, int]  # languages with too few labels: their count

    @property
    def held_out(self) -> int:
        """How many labels were held out to measure."""
        return sum(fit.held_out for fit in self.languages)

    @property
    def accuracy_before(self) -> float:
        """Accuracy of the model in use on the held-out labels."""
        return _share(sum(f.right_before for f in self.languages), self.held_out)

    @property
    def accuracy_after(self) -> float:
        """Accuracy of the refitted model (trained without them) on the held-out labels."""
        return _share(sum(f.right_after for f in self.languages), self.held_out)

    def label_counts(self) -> dict[str, int]:
        """The counts stored with the version."""
        counts: dict[str, int] = {
            "labels": sum(f.labels for f in self.languages),
            "corrections": sum(f.corrections for f in self.languages),
            "confirmations": sum(f.confirmations for f in self.languages),
            "held_out": self.held_out,
            "right_before": sum(f.right_before for f in self.languages),
            "right_after": sum(f.right_after for f in self.languages),
        }
        for fit in self.languages:
            counts[f"labels_{fit.language}"] = fit.labels
        return counts


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def split_held_out(
    labels: Sequence[ShopLabel], share: float = HELD_OUT_SHARE
) -> tuple[list[ShopLabel], list[ShopLabel]]:
    """(older labels to train on, the newest `share` held out to measure), by time."""
    ordered = sorted(labels, key=lambda label: (label.at, label.message_id))
    held = max(1, math.ceil(len(ordered) * share)) if len(ordered) > 1 else 0
    return ordered[: len(ordered) - held], ordered[len(ordered) - held :]


def labels_by_language(labels: Sequence[ShopLabel], live: Classifier) -> dict[str, list[ShopLabel]]:
    """The labels grouped by the weights' language key of their text ("zh", "en")."""
    by_language: dict[str, list[ShopLabel]] = {}
    for label in labels:
        key = language_key(live.normalize(label.text).language)
        by_language.setdefault(key, []).append(label)
    return by_language


def fit_language(
    language: str,
    subset: Sequence[ShopLabel],
    *,
    live: Classifier,
    base: LearnedWeights,
    config: ShopFitConfig,
    version: str,
) -> tuple[LearnedWeights, LanguageFit]:
    """One language's final weights (fitted on all its labels) and its figures: the held-out
    labels judged by `live` and by a trial fitted without them."""
    train, held_out = split_held_out(subset)
    trial = fit_shop_weights(
        base, _labelled(live, train), version=f"{version}-trial", config=config
    )
    trial_classifier = live.rebuilt(
        live.rules,
        {**live.learned, language: trial},
        model_version=live.model_version,
        shop_revision=live.shop_revision,
    )
    final = fit_shop_weights(
        base, _labelled(live, subset), version=f"{version}-{language}", config=config
    )
    figures = LanguageFit(
        language=language,
        labels=len(subset),
        corrections=sum(1 for x in subset if x.strength is LabelStrength.CORRECTION),
        confirmations=sum(1 for x in subset if x.strength is LabelStrength.CONFIRMATION),
        held_out=len(held_out),
        right_before=_right(live, held_out),
        right_after=_right(trial_classifier, held_out),
        learned=learned_words(base, final),
    )
    return final, figures


def _labelled(classifier: Classifier, labels: Sequence[ShopLabel]) -> list[LabelledFeatures]:
    return [
        LabelledFeatures(
            features=classifier.features(classifier.normalize(label.text)),
            category=label.category,
            weight=label.weight,
        )
        for label in labels
    ]


def _right(classifier: Classifier, labels: Sequence[ShopLabel]) -> int:
    return sum(1 for label in labels if classifier.classify(label.text).category is label.category)
