"""The features a learned model reads: words, character pairs, English bigrams and letter
n-grams, and the rules.

The same function builds them for training (`kefu train`) and at run time, so the two can
never drift apart. Values are 1.0 for presence, except the rules' scores, which are capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

from bot.core.learned import (
    BIGRAM_PREFIX,
    CHAR_GRAM,
    PAIR_PREFIX,
    RULE,
    RULE_FLAG,
    RULE_TOP,
    SIGNAL,
    WORD_PREFIX,
)
from bot.core.normalize import (
    AMOUNT_MARK,
    EMOTICON_MARK,
    LINK_MARK,
    NUMBER_MARK,
    ORDER_MARK,
    OTHER_MARK,
)
from bot.core.types import Category, Flag

RULE_SCORE_CAP = 4.0
_MARK_NAMES = {
    ORDER_MARK: "<order>",
    NUMBER_MARK: "<number>",
    AMOUNT_MARK: "<amount>",
    LINK_MARK: "<link>",
    EMOTICON_MARK: "<emoticon>",
    OTHER_MARK: "<masked>",
}
_EN_WORD_RE = re.compile(r"@\w+|https?://\S+|[a-z0-9]+(?:'[a-z]+)?")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")
# A token worth a feature has a letter or digit (str.isalnum's) or is a placeholder mark.
_WORDLIKE_RE = re.compile("[^\\W_]|[" + "".join(_MARK_NAMES) + "]")
_GRAM_SIZES = (3, 4)
_LENGTHS = ((4, "len<=4"), (12, "len<=12"), (40, "len<=40"), (120, "len<=120"))


@dataclass(frozen=True, slots=True)
class RuleView:
    """What the hand rules made of a message, as the learned model sees it."""

    scores: Mapping[Category, float]
    decision: Category
    flags: Mapping[Flag, float]
    question: bool = False
    negated: bool = False
    condition: bool = False
    extortion_roles: frozenset[str] = frozenset()
    extortion: bool = False
    amount: bool = False
    order: bool = False


def feature_words(tokens: Iterable[str]) -> list[str]:
    """The jieba tokens a Chinese message's word features are made of, in order."""
    return [
        _MARK_NAMES.get(word, word)
        for word in map(str.strip, tokens)
        if word and _WORDLIKE_RE.search(word)
    ]


def chinese_features(text: str, tokens: Iterable[str], rules: RuleView) -> dict[str, float]:
    """Features of a normalised Chinese message and its jieba tokens: words, adjacent word
    pairs (the message's ends marked), character pairs and the rules."""
    # List comprehensions and dict.fromkeys: this runs for every message (see the benchmark).
    words = feature_words(tokens)
    features = dict.fromkeys([WORD_PREFIX + word for word in words], 1.0)
    ends = ["<s>", *words, "</s>"]
    features.update(dict.fromkeys([f"{BIGRAM_PREFIX}{a}_{b}" for a, b in pairwise(ends)], 1.0))
    for run in _CJK_RUN_RE.findall(text):
        features.update(
            dict.fromkeys([PAIR_PREFIX + run[i : i + 2] for i in range(len(run) - 1)], 1.0)
        )
    _add_rules(features, rules, len(text))
    return features


def english_features(text: str, rules: RuleView) -> dict[str, float]:
    """Features of a normalised English message: words, word pairs and the words' letter
    n-grams (handles and links left out).

    The n-grams let a few hundred examples generalise across forms a word list would keep
    apart (broke / broken, refund / refunded, deliver / delivery / undelivered).
    """
    features: dict[str, float] = {}
    words = [
        word
        for word in _EN_WORD_RE.findall(text)
        if not word.startswith("@") and not word.startswith("http")
    ]
    previous = "<s>"
    for word in words:
        features[f"{WORD_PREFIX}{word}"] = 1.0
        features[f"{BIGRAM_PREFIX}{previous}_{word}"] = 1.0
        previous = word
        marked = f"<{word}>"
        for size in _GRAM_SIZES:
            for i in range(len(marked) - size + 1):
                features[f"{CHAR_GRAM}:{marked[i : i + size]}"] = 1.0
    _add_rules(features, rules, len(words) * 4)
    return features


def _add_rules(features: dict[str, float], rules: RuleView, length: int) -> None:
    for category, score in rules.scores.items():
        if score > 0:
            features[f"{RULE}:{category.value}"] = min(score, RULE_SCORE_CAP)
    features[f"{RULE_TOP}:{rules.decision.value}"] = 1.0
    for flag, score in rules.flags.items():
        if score > 0:
            features[f"{RULE_FLAG}:{flag.value}"] = min(score, RULE_SCORE_CAP)
    signals = {
        "question": rules.question,
        "negated": rules.negated,
        "condition": rules.condition,
        "extortion": rules.extortion,
        "amount": rules.amount,
        "order": rules.order,
    }
    for role in rules.extortion_roles:
        signals[f"extortion_{role}"] = True
    for name, present in signals.items():
        if present:
            features[f"{SIGNAL}:{name}"] = 1.0
    features[f"{SIGNAL}:{_length_bucket(length)}"] = 1.0


def _length_bucket(length: int) -> str:
    for limit, name in _LENGTHS:
        if length <= limit:
            return name
    return "len>120"
