"""What fitting needs in common: the settings, grouped folds and feature matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What `kefu train` may vary; the defaults are what the shipped weights used.

    Its repr is part of the weights' version (`kefu train`): a new way of fitting belongs here as
    a field, so weights fitted the old way keep their old version."""

    seed: int = 1
    folds: int = 5
    c_grid: tuple[float, ...] = (1.0, 4.0)
    balanced_grid: tuple[bool, ...] = (False, True)
    # How much of each category's score comes from naive Bayes (0: the regression alone).
    nb_share_grid: tuple[float, ...] = (0.0, 0.15, 0.3, 0.5)
    nb_alpha: float = 0.3  # naive Bayes smoothing
    # A setting is chosen only if its confidences stay calibrated out of fold (naive Bayes
    # sharpens them); when none does, the best of all is taken.
    max_ece: float = 0.05
    min_count: int = 2  # a feature must occur in this many training texts
    # ... and a Chinese word pair (`b:`) in this many (a Traditional copy counts too): rarer
    # pairs tripled the file and its load time for 0.2 points (English pairs: `min_count`)
    pair_min_count: int = 10
    precision_target: float = 0.95  # the confident part must be at least this accurate
    # ... within each kind of source (chats, reviews, tweets, written rows) this large
    min_source_rows: int = 300
    # Length bands (characters, spaces not counted) with a needs-human threshold of their own,
    # per language: a chat turn is not held to what a long review needs (and the reverse).
    # Chosen on the train split's out-of-fold confidences (fitted on one half of the groups,
    # every kind still 95 % right on the other); English has too few texts for bands.
    needs_human_lengths: tuple[tuple[str, tuple[int, ...]], ...] = (("zh", (6, 12, 24, 48, 96)),)
    # The thresholds are chosen on confidences rounded down to the file's four decimals, so
    # each keeps at run time exactly the rows it kept when chosen.
    threshold_grid: str = "confidences down to 4 decimals, thresholds up"
    # Weights that move a calibrated logit (weight / temperature) by less than this are left
    # out of the file; flag weights (no temperature) by their own size.
    prune_below: float = 0.02
    min_flag_positives: int = 30  # fewer positives: the hand rules keep the flag
    # Each flag model's regularisation, class weighting and threshold, chosen per flag out of
    # fold (the categories' C suits the common flags, not the rare threats).
    flag_c_grid: tuple[float, ...] = (1.0, 4.0)
    flag_balanced_grid: tuple[bool, ...] = (False, True)
    flag_thresholds: tuple[float, ...] = tuple(round(0.01 * k, 2) for k in range(1, 96))
    # Word clusters (Chinese): k-means sizes over PPMI-SVD vectors of words seen this often
    # in the training-side texts, neighbours within this window (`bot/training/clusters.py`).
    cluster_sizes: tuple[int, ...] = (256, 1024)
    cluster_min_count: int = 5
    cluster_dimensions: int = 128
    cluster_window: int = 2
    rule_flag_threshold: float = 1.0  # the rules' flag_threshold (an `rf:` score this high)


def vocabulary(rows: Sequence[Mapping[str, float]], min_count: int) -> set[str]:
    counts: dict[str, int] = {}
    for row in rows:
        for name in row:
            counts[name] = counts.get(name, 0) + 1
    return {name for name, count in counts.items() if count >= min_count}


def without_rare(
    rows: Sequence[Mapping[str, float]], kind: str, min_count: int
) -> list[dict[str, float]]:
    """The rows without the features of `kind` (a name prefix) found in fewer than `min_count`."""
    prefix = f"{kind}:"
    common = vocabulary(rows, min_count)
    return [
        {k: v for k, v in row.items() if not k.startswith(prefix) or k in common} for row in rows
    ]


def restrict(rows: Sequence[Mapping[str, float]], keep: set[str]) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k in keep} for row in rows]


def logistic(c: float, balanced: bool, seed: int) -> LogisticRegression:
    return LogisticRegression(
        C=c,
        max_iter=3000,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )


def group_folds(groups: Sequence[str], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = GroupKFold(n_splits=n)
    dummy = np.zeros(len(groups))
    return list(splitter.split(dummy, groups=list(groups)))


@dataclass(frozen=True, slots=True)
class Fold:
    """One cross-validation fold, vectorised once and reused for every setting and flag."""

    train: np.ndarray
    test: np.ndarray
    x_train: Any
    x_test: Any


def fold_matrices(
    rows: Sequence[Mapping[str, float]],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    min_count: int,
) -> list[Fold]:
    """Each fold's train and test matrices, over the features its own train part has."""
    built = []
    for train_index, test_index in folds:
        train_rows = [rows[i] for i in train_index]
        keep = vocabulary(train_rows, min_count)
        vectorizer = DictVectorizer()
        x_train = vectorizer.fit_transform(restrict(train_rows, keep))
        x_test = vectorizer.transform(restrict([rows[i] for i in test_index], keep))
        built.append(Fold(train_index, test_index, x_train, x_test))
    return built


def matrix(rows: Sequence[Mapping[str, float]], min_count: int) -> tuple[Any, list[str]]:
    """All rows as one matrix over the features in at least `min_count` of them, and their names."""
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(restrict(rows, vocabulary(rows, min_count)))
    return x, [str(name) for name in vectorizer.get_feature_names_out()]
