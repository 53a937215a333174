"""Fitting the learned weights with scikit-learn (a dev extra; the bot never imports this).

Per language: softmax regression over the features `bot.core.features` builds (the same code
the bot runs), L2-regularised, seeded. Choices (regularisation, class weights) are made by
grouped cross-validation on the training split; the out-of-fold probabilities then calibrate
the temperature and the needs-human threshold, and each flag's yes/no threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from bot.core.learned import FlagModel, LearnedWeights, LinearModel
from bot.core.metrics import expected_calibration_error
from bot.core.types import Category, Flag
from bot.training.dataset import Example

FeatureFn = Callable[[str], dict[str, float]]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What `kefu train` may vary; the defaults are what the shipped weights used."""

    seed: int = 1
    folds: int = 5
    c_grid: tuple[float, ...] = (1.0, 4.0)
    balanced_grid: tuple[bool, ...] = (False, True)
    min_count: int = 2  # a feature must occur in this many training texts
    precision_target: float = 0.95  # the confident part must be at least this accurate
    # Weights closer to zero are left out of the file: at 0.02 the predictions on the training
    # texts are unchanged and the file (and its loading time) halves.
    prune_below: float = 0.02
    min_flag_positives: int = 30  # fewer positives: the hand rules keep the flag
    rule_flag_threshold: float = 1.0  # the rules' flag_threshold (an `rf:` score this high)


@dataclass(frozen=True, slots=True)
class CvResult:
    """Cross-validated figures of one setting."""

    c: float
    balanced: bool
    accuracy: float
    macro_f1: float


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


def _vocabulary(rows: Sequence[Mapping[str, float]], min_count: int) -> set[str]:
    counts: dict[str, int] = {}
    for row in rows:
        for name in row:
            counts[name] = counts.get(name, 0) + 1
    return {name for name, count in counts.items() if count >= min_count}


def _restrict(rows: Sequence[Mapping[str, float]], keep: set[str]) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k in keep} for row in rows]


def _model(c: float, balanced: bool, seed: int) -> LogisticRegression:
    return LogisticRegression(
        C=c,
        max_iter=3000,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )


def _folds(groups: Sequence[str], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = GroupKFold(n_splits=n)
    dummy = np.zeros(len(groups))
    return list(splitter.split(dummy, groups=list(groups)))


@dataclass(frozen=True, slots=True)
class _Fold:
    """One cross-validation fold, vectorised once and reused for every setting and flag."""

    train: np.ndarray
    test: np.ndarray
    x_train: Any
    x_test: Any


def _fold_matrices(
    rows: Sequence[Mapping[str, float]],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    min_count: int,
) -> list[_Fold]:
    """Each fold's train and test matrices, over the features its own train part has."""
    built = []
    for train_index, test_index in folds:
        train_rows = [rows[i] for i in train_index]
        keep = _vocabulary(train_rows, min_count)
        vectorizer = DictVectorizer()
        x_train = vectorizer.fit_transform(_restrict(train_rows, keep))
        x_test = vectorizer.transform(_restrict([rows[i] for i in test_index], keep))
        built.append(_Fold(train_index, test_index, x_train, x_test))
    return built


def _matrix(rows: Sequence[Mapping[str, float]], min_count: int) -> tuple[Any, list[str]]:
    """All rows as one matrix over the features in at least `min_count` of them, and their names."""
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(_restrict(rows, _vocabulary(rows, min_count)))
    return x, [str(name) for name in vectorizer.get_feature_names_out()]


def _oof(
    folds: Sequence[_Fold],
    labels: Sequence[str],
    config: TrainConfig,
    c: float,
    balanced: bool,
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold decision scores (rows × classes) and the class order."""
    classes = sorted(set(labels))
    scores = np.zeros((len(labels), len(classes)))
    for fold in folds:
        model = _model(c, balanced, config.seed)
        model.fit(fold.x_train, [labels[i] for i in fold.train])
        raw = _scores(model, fold.x_test)
        for j, label in enumerate(model.classes_):
            scores[fold.test, classes.index(label)] = raw[:, j]
        missing = [k for k, label in enumerate(classes) if label not in set(model.classes_)]
        for k in missing:
            scores[fold.test, k] = -1e9
    return scores, classes


def _scores(model: LogisticRegression, x: object) -> np.ndarray:
    """Decision scores, one column per class (scikit-learn gives one column for two classes)."""
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


def needs_human_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float:
    """The lowest confidence whose confident part (≥ it) is at least `target` accurate.

    Equal confidences are taken together: a threshold cannot split them.
    """
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
    best = 1.0
    hits = 0
    for count, (confidence, right) in enumerate(pairs, start=1):
        hits += right
        last_of_tie = count == len(pairs) or pairs[count][0] != confidence
        if last_of_tie and hits / count >= target:
            best = confidence
    return best


def _flag_models(
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
    folds = _fold_matrices(
        rows, _folds([e.group for e in examples], config.folds), config.min_count
    )
    x_all, names = _matrix(rows, config.min_count)
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
            model = _model(c, False, config.seed).fit(fold.x_train, y_train)
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
        final = _model(c, False, config.seed).fit(x_all, target)
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


def train_language(
    examples: Sequence[Example],
    featurize: FeatureFn,
    *,
    language: str,
    version: str,
    config: TrainConfig = TrainConfig(),
    log: Callable[[str], None] = lambda _line: None,
) -> Trained:
    """Fit one language's weights on `examples` (all of them training data)."""
    rows = _features(examples, featurize)
    labels = [e.category for e in examples]
    folds = _fold_matrices(
        rows, _folds([e.group for e in examples], config.folds), config.min_count
    )
    results = []
    oof: dict[tuple[float, bool], tuple[np.ndarray, list[str]]] = {}
    for balanced in config.balanced_grid:
        for c in config.c_grid:
            scores, classes = oof[c, balanced] = _oof(folds, labels, config, c, balanced)
            predicted = [classes[i] for i in scores.argmax(axis=1)]
            accuracy = sum(p == e for p, e in zip(predicted, labels, strict=True)) / len(labels)
            result = CvResult(c, balanced, accuracy, _macro_f1(labels, predicted))
            log(
                f"  cv C={c:g} balanced={balanced}: accuracy {result.accuracy:.3f}"
                f" macro-F1 {result.macro_f1:.3f}"
            )
            results.append(result)
    chosen = max(results, key=lambda r: (round(r.macro_f1 + r.accuracy, 4), -r.c))
    scores, classes = oof[chosen.c, chosen.balanced]
    truth = np.array([classes.index(label) for label in labels])
    temperature = _temperature(scores, truth)
    probabilities = _softmax(scores, temperature)
    confidences = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    ece = expected_calibration_error(confidences.tolist(), correct.tolist())
    threshold = needs_human_threshold(
        confidences.tolist(), correct.tolist(), config.precision_target
    )
    confident = confidences >= threshold
    x_all, names = _matrix(rows, config.min_count)
    final = _model(chosen.c, chosen.balanced, config.seed).fit(x_all, labels)
    order = [str(label) for label in final.classes_]
    coef, intercept = _coefficients(final)
    weights: dict[str, tuple[tuple[int, float], ...]] = {}
    for j, name in enumerate(names):
        row = tuple(
            (i, float(coef[i, j]))
            for i in range(len(order))
            if abs(coef[i, j]) >= config.prune_below
        )
        if row:
            weights[name] = row
    flags = _flag_models(rows, examples, config, chosen.c)
    model = LinearModel(tuple(order), tuple(float(b) for b in intercept), weights, temperature)
    learned = LearnedWeights(
        language=language,
        categories=model,
        flags=tuple(flags),
        needs_human_below=round(float(threshold), 4),
        version=version,
    )
    return Trained(
        weights=learned,
        cv=results,
        chosen=chosen,
        oof_ece=ece,
        oof_coverage=float(confident.mean()),
        oof_confident_accuracy=float(correct[confident].mean()) if confident.any() else 0.0,
        features=len(weights),
        examples=len(examples),
    )
