"""The yes/no flag models `kefu train` fits beside the categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.learned import FlagModel
from bot.core.types import Category, Flag
from bot.training.common import Fold, TrainConfig, fold_matrices, group_folds, logistic, matrix
from bot.training.dataset import Example


@dataclass(frozen=True, slots=True)
class _Choice:
    """A flag model's setting and the out-of-fold F1 it scored."""

    f1: float
    mode: str  # "learned" or "union" (the model or the hand rules)
    c: float
    balanced: bool
    threshold: float


def flag_models(
    rows: Sequence[Mapping[str, float]],
    examples: Sequence[Example],
    config: TrainConfig,
) -> list[FlagModel]:
    """One yes/no model per flag with enough examples: its regularisation, class weighting,
    threshold and mode chosen per flag by out-of-fold F1.

    A flag's mode is "learned" or "union" (the model or the hand rules); a flag whose model
    beats neither the rules alone gets no model, so the rules keep it. Rare flags differ from
    common ones: a threat to complain (a few hundred examples) scored 5 points of F1 more with
    class weights balanced than without, anger (thousands) the same either way.
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
        by_rules = np.array(
            [row.get(f"rf:{flag.value}", 0.0) >= config.rule_flag_threshold for row in rows]
        )
        choice = _choose(folds, target, by_rules, config)
        if choice is None:
            continue
        final = logistic(choice.c, choice.balanced, config.seed).fit(x_all, target)
        weights = {
            name: float(w)
            for name, w in zip(names, final.coef_[0], strict=True)
            if abs(w) >= config.prune_below
        }
        bias = float(final.intercept_[0])
        models.append(FlagModel(flag, bias, weights, choice.threshold, choice.mode))
    return models


def _choose(
    folds: Sequence[Fold], target: Sequence[bool], by_rules: np.ndarray, config: TrainConfig
) -> _Choice | None:
    """The best setting, threshold and mode out of fold; None when the rules alone do as well."""
    truth = np.array(target)
    best: _Choice | None = None
    for c in config.flag_c_grid:
        for balanced in config.flag_balanced_grid:
            oof = _out_of_fold(folds, target, c, balanced, config.seed)
            for threshold in config.flag_thresholds:
                learned = oof >= threshold
                for mode, predicted in (("learned", learned), ("union", learned | by_rules)):
                    f1 = _f1(predicted, truth)
                    if best is None or f1 > best.f1 + 1e-9:
                        best = _Choice(f1, mode, c, balanced, threshold)
    if best is None or _f1(by_rules, truth) >= best.f1:
        return None
    return best


def _out_of_fold(
    folds: Sequence[Fold], target: Sequence[bool], c: float, balanced: bool, seed: int
) -> np.ndarray:
    """Each row's probability of the flag from the model fitted without its fold."""
    oof = np.zeros(len(target))
    for fold in folds:
        y_train = [target[i] for i in fold.train]
        if len(set(y_train)) < 2:
            continue
        model = logistic(c, balanced, seed).fit(fold.x_train, y_train)
        oof[fold.test] = model.predict_proba(fold.x_test)[:, 1]
    return oof


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
