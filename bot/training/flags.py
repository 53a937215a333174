"""The yes/no flag models `kefu train` fits beside the categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bot.core.learned import FlagModel
from bot.core.types import Category, Flag
from bot.training.common import TrainConfig, fold_matrices, group_folds, logistic, matrix
from bot.training.dataset import Example


def flag_models(
    rows: Sequence[Mapping[str, float]],
    examples: Sequence[Example],
    config: TrainConfig,
    c: float,
) -> list[FlagModel]:
    """One yes/no model per flag with enough examples, its threshold and mode (by OOF F1).

    A flag's mode is "learned" or "union" (the model or the hand rules), whichever scores the
    better F1 out of fold; a flag whose model beats neither the rules alone gets no model, so
    the rules keep it.
    """
    # Extortion implies its flags (the classifier adds them), so the flag models learn from the
    # other messages only: otherwise every review word would suggest wants_compensation.
    kept = [i for i, e in enumerate(examples) if e.category != Category.EXTORTION.value]
    rows = [rows[i] for i in kept]
    examples = [examples[i] for i in kept]
    folds = fold_matrices(
        rows, group_folds([e.group for e in examples], config.folds), config.min_count
    )
    x_all, names = matrix(rows, config.min_count)
    models: list[FlagModel] = []
    for flag in Flag:
        target = [flag.value in e.flags for e in examples]
        if sum(target) < config.min_flag_positives:
            continue
        oof = np.zeros(len(rows))
        for fold in folds:
            y_train = [target[i] for i in fold.train]
            if len(set(y_train)) < 2:
                continue
            model = logistic(c, False, config.seed).fit(fold.x_train, y_train)
            oof[fold.test] = model.predict_proba(fold.x_test)[:, 1]
        threshold = _best_threshold(oof, target)
        truth = np.array(target)
        learned = oof >= threshold
        by_rules = np.array(
            [row.get(f"rf:{flag.value}", 0.0) >= config.rule_flag_threshold for row in rows]
        )
        scores = {
            "learned": _f1(learned, truth),
            "union": _f1(learned | by_rules, truth),
            "rules": _f1(by_rules, truth),
        }
        mode = max(scores, key=lambda name: (scores[name], name == "rules"))
        if mode == "rules":
            continue
        final = logistic(c, False, config.seed).fit(x_all, target)
        weights = {
            name: float(w)
            for name, w in zip(names, final.coef_[0], strict=True)
            if abs(w) >= config.prune_below
        }
        models.append(FlagModel(flag, float(final.intercept_[0]), weights, threshold, mode))
    return models


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _best_threshold(probabilities: np.ndarray, target: Sequence[bool]) -> float:
    truth = np.array(target)
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.05, 0.86, 0.05):
        f1 = _f1(probabilities >= threshold, truth)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(round(threshold, 2)), f1
    return best
