"""Learned keyword weights: a linear model per language over words, character n-grams and rules.

Pure inference over weights that `kefu train` writes to `phrasebook/weights/` (scikit-learn
fits them; nothing here needs it). A message's features are sparse (name → value); a category's
score is its bias plus the sum of weight × value, and softmax over the scores divided by the
calibrated temperature gives the probabilities. Each flag has its own yes/no model (a sigmoid
over the same features) and threshold. Every decision can be explained: the features that
pushed the winning category up most are its keywords.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from math import exp
from operator import sub

from bot.core.types import Category, Flag, Language

# Feature name prefixes: the part before ":" says where a feature comes from.
WORD = "w"  # a jieba token (Chinese) or a word (English)
PAIR = "c"  # two adjacent Chinese characters
BIGRAM = "b"  # two adjacent English words
CHAR_GRAM = "g"  # three or four letters of an English word, its ends marked: <sole> → <so, sol…
RULE = "r"  # the hand rules' score for a category
RULE_TOP = "rtop"  # the hand rules' decision
RULE_FLAG = "rf"  # the hand rules' score for a flag
SIGNAL = "s"  # a structural signal: question, negation, condition, amount, length…
# A word cluster ("k:256/37": cluster 37 of 256), learned from unlabelled text: words used alike
# share it, so a word the labelled messages never had still counts as its neighbours do.
CLUSTER = "k"
# How the word features' names begin (`bot.core.features` builds them, `explain` reads them).
WORD_PREFIX, PAIR_PREFIX, BIGRAM_PREFIX = f"{WORD}:", f"{PAIR}:", f"{BIGRAM}:"

FEATURE_KINDS = frozenset(
    {WORD, PAIR, BIGRAM, CHAR_GRAM, RULE, RULE_TOP, RULE_FLAG, SIGNAL, CLUSTER}
)
BIAS = "@bias"
FLAG_MODES = frozenset({"learned", "union"})


class WeightsError(ValueError):
    """A weights file (or table) that cannot be used."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Softmax regression over sparse features: per feature, (target index, weight) pairs."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[tuple[int, float], ...]]
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if len(self.bias) != len(self.labels):
            raise WeightsError(f"{len(self.labels)} labels but {len(self.bias)} biases")
        if self.temperature <= 0:
            raise WeightsError(f"temperature must be positive, not {self.temperature}")


@dataclass(frozen=True, slots=True)
class FlagModel:
    """A yes/no logistic model for one flag, over the same features as the categories."""

    flag: Flag
    bias: float
    weights: Mapping[str, float]
    threshold: float = 0.5
    # "learned": the model alone decides; "union": the model or the hand rules (whichever
    # cross-validated better when the weights were trained).
    mode: str = "learned"

    def __post_init__(self) -> None:
        if self.mode not in FLAG_MODES:
            raise WeightsError(f"flag mode must be one of {sorted(FLAG_MODES)}, not {self.mode!r}")


@dataclass(frozen=True, slots=True)
class LearnedWeights:
    """Everything learned for one language: categories, flags, and the needs-human threshold."""

    language: str  # "zh" (both scripts, read as Simplified) or "en"
    categories: LinearModel
    flags: tuple[FlagModel, ...] = ()
    needs_human_below: float = 0.0
    version: str = ""
    # Per word, the clusters it belongs to, as features ("w:坏掉" → ("k:256/3", "k:1024/77")).
    # A word's row holds its clusters' weights too, so a message is scored as if every
    # cluster of its words were a feature (counted once per word: `with_clusters`), at the
    # cost of one row per word.
    clusters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A shop's model: the version of the shipped weights it was refitted from (its features
    # and clusters are theirs; shipped weights of another version make it stale).
    base_version: str = ""
    # Shorter messages' own thresholds: (up to this many characters, threshold), lengths
    # rising; a message longer than every one takes `needs_human_below` (`needs_human_at`).
    needs_human_upto: tuple[tuple[int, float], ...] = ()
    # Per feature, one dense row of weights — the categories, then (from index len(labels) on)
    # the flags — so scoring a feature is one C-level map. Built on a feature's first use:
    # most of a language's features never occur in one process's messages, and building them
    # all would cost a third of a second at start-up.
    rows: dict[str, tuple[float, ...]] = field(init=False, repr=False, compare=False)
    known: frozenset[str] = field(init=False, repr=False, compare=False)
    biases: tuple[float, ...] = field(init=False, repr=False, compare=False)
    modelled: frozenset[Flag] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = {category.value for category in Category}
        unknown = [label for label in self.categories.labels if label not in known]
        if unknown:
            raise WeightsError(f"unknown categories {unknown}")
        names = set(self.categories.weights)
        for model in self.flags:
            names.update(model.weights)
        names.update(self.clusters)
        object.__setattr__(self, "known", frozenset(names))
        object.__setattr__(self, "rows", {})
        biases = (*self.categories.bias, *(model.bias for model in self.flags))
        object.__setattr__(self, "biases", biases)
        object.__setattr__(self, "modelled", frozenset(model.flag for model in self.flags))
        lengths = [0, *(length for length, _ in self.needs_human_upto)]
        if any(b <= a for a, b in pairwise(lengths)):
            raise WeightsError(f"needs-human lengths must rise from 1: {lengths}")
        for threshold in (self.needs_human_below, *(t for _, t in self.needs_human_upto)):
            if not 0.0 <= threshold <= 1.0:
                raise WeightsError(f"a needs-human threshold must be 0-1, not {threshold}")

    def needs_human_at(self, length: int) -> float:
        """The confidence below which a message of `length` characters needs a person."""
        for up_to, threshold in self.needs_human_upto:
            if length <= up_to:
                return threshold
        return self.needs_human_below

    def row(self, name: str) -> tuple[float, ...] | None:
        """The feature's dense row of weights (None when no weight reads it)."""
        found = self.rows.get(name)
        if found is not None or name not in self.known:
            return found
        width = len(self.categories.labels)
        values = [0.0] * (width + len(self.flags))
        for source in (name, *self.clusters.get(name, ())):
            for index, weight in self.categories.weights.get(source, ()):
                values[index] += weight
            for offset, model in enumerate(self.flags):
                values[width + offset] += model.weights.get(source, 0.0)
        row = self.rows[name] = tuple(values)
        return row

    def without_category(
        self, prediction: Prediction, features: Mapping[str, float], rule_flags: frozenset[Flag]
    ) -> Prediction:
        """The prediction again with its category ruled out (the runner-up wins)."""
        return self.predict(features, rule_flags, exclude=prediction.index)

    def predict(
        self,
        features: Mapping[str, float],
        rule_flags: frozenset[Flag] = frozenset(),
        *,
        exclude: int | None = None,
    ) -> Prediction:
        """The most probable category, its calibrated probability, the flags that apply.

        A flag without a model here is the hand rules' (`rule_flags`); a "union" flag is set
        by either. `pushes` are the features that made the winner win over the runner-up.
        """
        model = self.categories
        width = len(model.labels)
        names: list[str] = []
        present: list[tuple[float, ...]] = []
        rows, known = self.rows, self.known
        for name, value in features.items():
            row = rows.get(name)
            if row is None:
                if name not in known:
                    continue
                row = self.row(name)
                assert row is not None
            names.append(name)
            present.append(row if value == 1.0 else tuple([weight * value for weight in row]))
        # Column sums over the present rows (zip(*rows) works in C, row by row would not).
        columns = list(zip(*present, strict=True)) if present else [()] * len(self.biases)
        totals = [bias + sum(column) for bias, column in zip(self.biases, columns, strict=True)]
        probabilities = softmax(totals[:width], model.temperature)
        if exclude is not None:
            probabilities[exclude] = 0.0
            kept = sum(probabilities)
            probabilities = [p / kept for p in probabilities] if kept > 0 else probabilities
        best, runner_up = _top_two(probabilities)
        flags = {flag for flag in rule_flags if flag not in self.modelled}
        for offset, flag_model in enumerate(self.flags):
            if sigmoid(totals[width + offset]) >= flag_model.threshold or (
                flag_model.mode == "union" and flag_model.flag in rule_flags
            ):
                flags.add(flag_model.flag)
        pushes: list[tuple[str, float]] = []
        if present:
            other = runner_up if runner_up is not None else best
            diffs = list(map(sub, columns[best], columns[other]))
            pushes = [(name, diff) for name, diff in zip(names, diffs, strict=True) if diff > 0]
            pushes.sort(key=lambda item: (-item[1], item[0]))
        return Prediction(
            category=Category(model.labels[best]),
            index=best,
            probability=probabilities[best],
            flags=frozenset(flags),
            runner_up=runner_up,
            pushes=tuple(pushes),
            probabilities=tuple(probabilities),
        )


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a learned model says about one message."""

    category: Category
    index: int
    probability: float
    flags: frozenset[Flag]
    runner_up: int | None = None
    pushes: tuple[tuple[str, float], ...] = ()
    probabilities: tuple[float, ...] = ()  # every category's, in the order of the labels


def with_clusters(
    features: Mapping[str, float], clusters: Mapping[str, tuple[str, ...]]
) -> dict[str, float]:
    """`features` plus, for each word among them, its clusters (each with the word's value,
    summed over the words in it): what the weights of a model with clusters were fitted on.
    At run time the word rows carry their clusters' weights instead (`LearnedWeights.row`),
    to the same scores."""
    expanded = dict(features)
    for name, value in features.items():
        for cluster in clusters.get(name, ()):
            expanded[cluster] = expanded.get(cluster, 0.0) + value
    return expanded


def message_length(text: str) -> int:
    """A message's length as the needs-human thresholds count it: characters, spaces not."""
    return len(text) - sum(1 for char in text if char.isspace())


def cluster_feature(size: int, cluster: int) -> str:
    """The feature name of cluster `cluster` of a clustering into `size`."""
    return f"{CLUSTER}:{size}/{cluster}"


def _top_two(probabilities: Sequence[float]) -> tuple[int, int | None]:
    """The most probable index and the runner-up (the lower index first on a tie)."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    runner_up: int | None = None
    for index, probability in enumerate(probabilities):
        if index != best and (runner_up is None or probability > probabilities[runner_up]):
            runner_up = index
    return best, runner_up


def language_key(language: Language) -> str:
    """The weights a language reads with: both Chinese scripts share "zh" (matched Simplified)."""
    return "en" if language is Language.EN else "zh"


def softmax(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Probabilities from scores, numerically stable."""
    top = max(scores)
    exps = [exp((score - top) / temperature) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def sigmoid(value: float) -> float:
    """The logistic function, safe for large magnitudes."""
    if value >= 0:
        return 1.0 / (1.0 + exp(-value))
    z = exp(value)
    return z / (1.0 + z)


def display_name(feature: str) -> str:
    """How a feature reads as a keyword on a card: the word itself, rules by their decision."""
    if feature.startswith(_WORD_PREFIXES):
        return _joined(_parts(feature))
    return feature


def _joined(parts: Sequence[str]) -> str:
    """A word feature's words as one keyword (Chinese needs no space between them)."""
    return ("" if any(_is_cjk(word) for word in parts) else " ").join(parts)


_MARKER = re.compile(r"</?[a-z]+>")  # the message's ends and placeholders (<s>, <order>)


def _is_cjk(word: str) -> bool:
    return any("\u3400" <= char <= "\u9fff" for char in word)


def explain(
    pushes: Sequence[tuple[str, float]],
    rule_words: Sequence[str],
    quiet: frozenset[str] = frozenset(),
    tokens: Collection[str] | None = None,
) -> tuple[str, ...]:
    """Up to six words for the features that decided, strongest first (a rule feature shows
    the rule's phrases as written).

    A learned word that says nothing on a card is left out: a `quiet` word (的, 了, the, i),
    a Chinese word of quiet characters only, a word pair with a quiet word. Given the
    message's `tokens`, a character pair shows only where it is a word of its own ("碎了",
    never "票什" out of "发票什么"). No word is said twice: one inside a word shown is left
    out, a word holding a shown one takes its place ("赠品" for "赠"), and a word pair sharing
    a word with one shown is left out ("发票什么" after "发票", "上京东" after "京东太").
    """
    words: list[str] = []
    own_words = None if tokens is None else frozenset(tokens)
    rules_read = False
    for name, _push in pushes:  # letter n-grams and signals decide but read as no word
        if name.startswith(_RULE_PREFIXES):
            if not rules_read:  # every rule feature shows the same phrases
                rules_read = True
                for phrase in rule_words:
                    _show(words, phrase)
        elif name.startswith(_WORD_PREFIXES):
            if own_words is not None and name.startswith(PAIR_PREFIX) and name[2:] not in own_words:
                continue
            parts = _parts(name)
            if parts and not any(_quiet_word(part, quiet) for part in parts):
                _show(words, _joined(parts), parts if len(parts) > 1 else None)
        if len(words) >= 6:
            break
    return tuple(words[:6])


def distinct_words(phrases: Sequence[str]) -> tuple[str, ...]:
    """`phrases` in order, each said once: one inside another left out, the longer kept."""
    words: list[str] = []
    for phrase in phrases:
        _show(words, phrase)
    return tuple(words)


_RULE_PREFIXES = (f"{RULE}:", f"{RULE_TOP}:")
_WORD_PREFIXES = (WORD_PREFIX, PAIR_PREFIX, BIGRAM_PREFIX)


def _parts(feature: str) -> list[str]:
    """The words of a word feature (a pair's two, the message's ends (<s>, </s>) and
    placeholders left out)."""
    if not feature.startswith(BIGRAM_PREFIX):
        return [feature[2:]]
    return [p for p in feature[2:].split("_") if not (p.startswith("<") and _MARKER.fullmatch(p))]


def _show(words: list[str], word: str, parts: Sequence[str] | None = None) -> None:
    """Add `word` (a word pair: with its `parts`) to the words shown unless one of them says
    it already (see `explain`)."""
    if not word or word[0] == "<" or word in words:
        return
    held = []
    for index, shown in enumerate(words):
        if _holds(shown, word) or (parts and any(_holds(shown, part) for part in parts)):
            return
        if _holds(word, shown):
            held.append(index)
    if not held:
        words.append(word)
    elif parts is None:
        words[held[0]] = word
        for index in reversed(held[1:]):
            del words[index]


def _holds(word: str, part: str) -> bool:
    """Whether `part` is `word` or inside it (whole words, in English)."""
    if part not in word:
        return False
    return not (word.isascii() and part.isascii()) or f" {part} " in f" {word} "


def _quiet_word(word: str, quiet: frozenset[str]) -> bool:
    return word in quiet or (not word.isascii() and quiet.issuperset(word))
