"""Fitting the learned weights with scikit-learn (a dev extra; the bot never imports this).

Per language: softmax regression over the features `bot.core.features` builds (the same code
the bot runs), L2-regularised, seeded, blended with complement naive Bayes over the same
features. Both are linear in the features, so the blend is one linear model and the bot's
inference is unchanged; naive Bayes gives the rare words steadier weights than the regression
alone. Choices (regularisation, class weights, the naive Bayes share) are made by grouped
cross-validation on the training split; the out-of-fold scores then calibrate the temperature
and the needs-human threshold, and each flag's yes/no threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB

from bot.core.learned import BIGRAM, LearnedWeights, LinearModel, with_clusters
from bot.core.metrics import expected_calibration_error
from bot.training.common import (
    Fold,
    TrainConfig,
    fold_matrices,
    group_folds,
    logistic,
    matrix,
    without_rare,
)
from bot.training.confidence import (
    down_to_grid,
    needs_human_by_length,
    needs_human_by_source,
    source_kind,
    up_to_grid,
)
from bot.training.dataset import Example, is_copy
from bot.training.flags import flag_models

FeatureFn = Callable[[str], dict[str, float]]
DEFAULT_CONFIG = TrainConfig()


@dataclass(frozen=True, slots=True)
class CvResult:
    """Cross-validated figures of one setting."""

    c: float
    balanced: bool
    accuracy: float
    macro_f1: float
    nb_share: float = 0.0
    ece: float = 0.0  # expected calibration error out of fold, after the temperature


@dataclass
class Trained:
    """The fitted weights and what was measured on the way."""

    weights: LearnedWeights
    cv: list[CvResult] = field(default_factory=list)
    chosen: CvResult | None = None
    oof_ece: float = 0.0
    oof_coverage: float = 0.0
    oof_confident_accuracy: float = 0.0
    features: int = 0
    examples: int = 0


def _macro_f1(expected: Sequence[str], predicted: Sequence[str]) -> float:
    labels = sorted(set(expected))
    scores = []
    for label in labels:
        tp = sum(1 for e, p in zip(expected, predicted, strict=True) if e == label == p)
        fp = sum(1 for e, p in zip(expected, predicted, strict=True) if p == label != e)
        fn = sum(1 for e, p in zip(expected, predicted, strict=True) if e == label != p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def _features(examples: Sequence[Example], featurize: FeatureFn) -> list[dict[str, float]]:
    return [featurize(example.text) for example in examples]


def _oof(
    folds: Sequence[Fold],
    labels: Sequence[str],
    make: Callable[[], Any],
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold scores (rows × classes) of the models `make` builds, and the class order."""
    classes = sorted(set(labels))
    scores = np.zeros((len(labels), len(classes)))
    for fold in folds:
        model = make()
        model.fit(fold.x_train, [labels[i] for i in fold.train])
        raw = _scores(model, fold.x_test)
        for j, label in enumerate(model.classes_):
            scores[fold.test, classes.index(label)] = raw[:, j]
        missing = [k for k, label in enumerate(classes) if label not in set(model.classes_)]
        for k in missing:
            scores[fold.test, k] = -1e9
    return scores, classes


def _naive_bayes(config: TrainConfig) -> ComplementNB:
    return ComplementNB(alpha=config.nb_alpha)


def _spread(scores: np.ndarray) -> float:
    """How widely a model's scores vary across categories (to put two models on one scale)."""
    finite = np.where(scores > -1e8, scores, np.nan)
    centred = finite - np.nanmean(finite, axis=1, keepdims=True)
    spread = float(np.nanstd(centred))
    return spread if spread > 0 else 1.0


@dataclass(frozen=True, slots=True)
class _Blend:
    """Naive Bayes share and the two models' score spreads: scores = a·regression + b·NB."""

    share: float
    lr_spread: float = 1.0
    nb_spread: float = 1.0

    @property
    def lr_scale(self) -> float:
        return (1 - self.share) / self.lr_spread

    @property
    def nb_scale(self) -> float:
        return self.share / self.nb_spread

    def scores(self, lr: np.ndarray, nb: np.ndarray) -> np.ndarray:
        if self.share == 0:
            return lr
        return self.lr_scale * lr + self.nb_scale * nb


def _scores(model: Any, x: object) -> np.ndarray:
    """Decision scores, one column per class (scikit-learn gives one column for two classes)."""
    if isinstance(model, ComplementNB):
        nb: np.ndarray = model.predict_joint_log_proba(x)
        return nb
    raw: np.ndarray = model.decision_function(x)
    if raw.ndim == 1:
        raw = np.column_stack([-raw / 2, raw / 2])
    return raw


def _coefficients(model: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """Per-class weights and biases (two classes: ± half the single row, the same softmax)."""
    coef: np.ndarray = model.coef_
    intercept: np.ndarray = model.intercept_
    if coef.shape[0] == 1 and len(model.classes_) == 2:
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


def _temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    def nll(log_t: float) -> float:
        p = _softmax(scores, math.exp(log_t))
        return float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, 1)).mean())

    found = minimize_scalar(nll, bounds=(-3, 3), method="bounded")
    return float(math.exp(found.x))


def _choose(
    folds: Sequence[Fold], labels: Sequence[str], config: TrainConfig, log: Callable[[str], None]
) -> tuple[CvResult, np.ndarray, list[str], _Blend, list[CvResult]]:
    """Every setting's cross-validated figures; the best one, its OOF scores and blend."""
    nb_scores, classes = _oof(folds, labels, lambda: _naive_bayes(config))
    truth = np.array([classes.index(label) for label in labels])
    results: list[tuple[CvResult, np.ndarray, _Blend]] = []
    for balanced in config.balanced_grid:
        for c in config.c_grid:
            lr_scores, _ = _oof(folds, labels, partial(logistic, c, balanced, config.seed))
            for share in config.nb_share_grid:
                blend = _Blend(share, _spread(lr_scores), _spread(nb_scores))
                scores = blend.scores(lr_scores, nb_scores)
                result = _cv_result(scores, truth, classes, c, balanced, share)
                log(
                    f"  cv C={c:g} balanced={balanced} nb={share:g}: accuracy"
                    f" {result.accuracy:.3f} macro-F1 {result.macro_f1:.3f} ECE {result.ece:.3f}"
                )
                results.append((result, scores, blend))
    figures = [r[0] for r in results]
    chosen, scores, blend = results[pick_setting(figures, config.max_ece)]
    return chosen, scores, classes, blend, figures


def pick_setting(results: Sequence[CvResult], max_ece: float) -> int:
    """The index of the best setting (macro-F1 + accuracy) among the calibrated ones.

    Ties go to the smaller C and the smaller naive Bayes share; when no setting is calibrated
    to `max_ece`, the best of all is taken.
    """
    candidates = [i for i, r in enumerate(results) if r.ece <= max_ece] or range(len(results))
    return max(
        candidates,
        key=lambda i: (
            round(results[i].macro_f1 + results[i].accuracy, 4),
            -results[i].c,
            -results[i].nb_share,
        ),
    )


def _cv_result(
    scores: np.ndarray,
    truth: np.ndarray,
    classes: Sequence[str],
    c: float,
    balanced: bool,
    share: float,
) -> CvResult:
    """The figures of one setting's out-of-fold scores."""
    labels = [classes[i] for i in truth]
    predicted = [classes[i] for i in scores.argmax(axis=1)]
    probabilities = _softmax(scores, _temperature(scores, truth))
    ece = expected_calibration_error(
        probabilities.max(axis=1).tolist(), (probabilities.argmax(axis=1) == truth).tolist()
    )
    accuracy = float((scores.argmax(axis=1) == truth).mean())
    return CvResult(c, balanced, accuracy, _macro_f1(labels, predicted), share, ece)


def _final_model(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[str],
    chosen: CvResult,
    blend: _Blend,
    config: TrainConfig,
) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """The chosen blend fitted on every row: class order, weights, biases, feature names."""
    x_all, names = matrix(rows, config.min_count)
    final = logistic(chosen.c, chosen.balanced, config.seed).fit(x_all, labels)
    coef, intercept = _coefficients(final)
    if blend.share > 0:
        nb = _naive_bayes(config).fit(x_all, labels)
        if list(nb.classes_) != list(final.classes_):
            raise ValueError("the two models order the categories differently")
        # A weight added to every category alike changes no decision: centre each feature's.
        nb_coef = nb.feature_log_prob_ - nb.feature_log_prob_.mean(axis=0, keepdims=True)
        coef = blend.lr_scale * coef + blend.nb_scale * nb_coef
        intercept = blend.lr_scale * intercept
    return [str(label) for label in final.classes_], coef, intercept, names


def _pruned(
    names: Sequence[str], coef: np.ndarray, below: float
) -> dict[str, tuple[tuple[int, float], ...]]:
    """Per feature, its (category index, weight) pairs whose size is at least `below`."""
    weights: dict[str, tuple[tuple[int, float], ...]] = {}
    for j, name in enumerate(names):
        row = tuple(
            (i, float(coef[i, j])) for i in range(coef.shape[0]) if abs(coef[i, j]) >= below
        )
        if row:
            weights[name] = row
    return weights


def _needs_human(
    confidences: np.ndarray,
    correct: np.ndarray,
    examples: Sequence[Example],
    lengths: Sequence[int],
    language: str,
    config: TrainConfig,
    log: Callable[[str], None],
) -> tuple[tuple[tuple[int, float], ...], float]:
    """The needs-human thresholds by length band, each kind's logged.

    Chosen on the confidences rounded down to the four decimals the file holds, so each
    threshold is on that grid (or just past a confidence: then written as the next grid value)
    and keeps at run time exactly the rows it kept when chosen: for T on the grid, p >= T
    exactly when down_to_grid(p) >= T."""
    on_grid = [down_to_grid(float(c)) for c in confidences]
    kinds = [source_kind(e.group) for e in examples]
    counted = [not is_copy(e) for e in examples]
    _, by_source = needs_human_by_source(
        on_grid,
        correct.tolist(),
        kinds,
        target=config.precision_target,
        min_rows=config.min_source_rows,
        counted=counted,
    )
    upto, threshold = needs_human_by_length(
        on_grid,
        correct.tolist(),
        kinds,
        lengths,
        edges=dict(config.needs_human_lengths).get(language, ()),
        target=config.precision_target,
        min_rows=config.min_source_rows,
        counted=counted,
    )
    bands = tuple((length, up_to_grid(t)) for length, t in upto)
    below = up_to_grid(threshold)
    log(
        "  needs_human by source, all lengths (each kind's own; None: never reached, left out): "
        + ", ".join(f"{k} {'None' if t is None else f'{t:.4f}'}" for k, t in by_source.items())
    )
    log(
        "  needs_human by length: "
        + ", ".join(f"up to {n} {t:.4f}" for n, t in bands)
        + f"{', longer ' if bands else 'all '}{below:.4f}"
    )
    return bands, below


def train_language(
    examples: Sequence[Example],
    featurize: FeatureFn,
    *,
    language: str,
    version: str,
    config: TrainConfig = DEFAULT_CONFIG,
    log: Callable[[str], None] = lambda _line: None,
    clusters: Mapping[str, tuple[str, ...]] | None = None,
    measure: Callable[[str], int],
) -> Trained:
    """Fit one language's weights on `examples`, each word's `clusters` features too;
    `measure` gives a text's length as the bot counts it (for the needs-human thresholds)."""
    expanded = [with_clusters(row, clusters or {}) for row in _features(examples, featurize)]
    rows = without_rare(expanded, BIGRAM, config.pair_min_count if language == "zh" else 1)
    labels = [e.category for e in examples]
    folds = fold_matrices(
        rows, group_folds([e.group for e in examples], config.folds), config.min_count
    )
    chosen, scores, classes, blend, results = _choose(folds, labels, config, log)
    truth = np.array([classes.index(label) for label in labels])
    temperature = _temperature(scores, truth)
    probabilities = _softmax(scores, temperature)
    confidences = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    lengths = [measure(e.text) for e in examples]
    upto, threshold = _needs_human(confidences, correct, examples, lengths, language, config, log)
    order, coef, intercept, names = _final_model(rows, labels, chosen, blend, config)
    # Pruned by what a weight does to the calibrated probabilities (weight / temperature):
    # the naive Bayes share makes many small weights that a low temperature multiplies.
    weights = _pruned(names, coef, config.prune_below * temperature)
    model = LinearModel(tuple(order), tuple(float(b) for b in intercept), weights, temperature)
    learned = LearnedWeights(
        language=language,
        categories=model,
        flags=tuple(flag_models(rows, examples, config)),
        needs_human_below=threshold,
        needs_human_upto=upto,
        version=version,
        clusters=clusters or {},
    )
    confident = confidences >= np.array([learned.needs_human_at(n) for n in lengths])
    return Trained(
        weights=learned,
        cv=results,
        chosen=chosen,
        oof_ece=expected_calibration_error(confidences.tolist(), correct.tolist()),
        oof_coverage=float(confident.mean()),
        oof_confident_accuracy=float(correct[confident].mean()) if confident.any() else 0.0,
        features=len(weights),
        examples=len(examples),
    )
