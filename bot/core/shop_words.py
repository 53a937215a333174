"""Shop words: phrases a supervisor teaches in chat (`/word 漏液 damaged_missing`).

A shop word is an override: when it matches (not negated, not inside a condition) it decides
the category whatever the learned weights say, exactly like a phrase in a rules file's
`overrides:` section. Here: reading the command, checking a word (length, punctuation, known
category, conflicts with the phrasebook and the other shop words) and merging the words into
the classifier's Rules. Pure: the normaliser is passed in.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from bot.core.keyword_rules import PhraseRule, Rules
from bot.core.types import Category, Flag

MIN_LENGTH = 1
MAX_LENGTH = 20
DEFAULT_WEIGHT = 3.0
MAX_WEIGHT = 10.0
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True, slots=True)
class ShopWord:
    """One shop word: the phrase as the matcher reads it, as written, its category and weight."""

    phrase: str
    word: str
    category: Category
    weight: float = DEFAULT_WEIGHT


@dataclass(frozen=True, slots=True)
class WordRequest:
    """What `/word` asked for, before it is checked."""

    word: str
    category: str
    weight: float = DEFAULT_WEIGHT


class WordProblem(ValueError):
    """Why a shop word is refused: `key` names the reason, `variables` fill its wording."""

    def __init__(self, key: str, **variables: object) -> None:
        super().__init__(key)
        self.key = key
        self.variables = variables


@dataclass(frozen=True, slots=True)
class WordNote:
    """Something the supervisor should know about an accepted word (a conflict explained)."""

    key: str
    variables: Mapping[str, object]


def parse_word_command(text: str) -> WordRequest:
    """`漏液 damaged_missing`, `"fits small" not_as_described`, `起球 quality --weight 2`."""
    try:
        parts = shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise WordProblem("usage") from None
    weight = DEFAULT_WEIGHT
    if "--weight" in parts:
        at = parts.index("--weight")
        if at + 1 >= len(parts):
            raise WordProblem("usage")
        weight = parse_weight(parts[at + 1])
        del parts[at : at + 2]
    if len(parts) != 2:
        raise WordProblem("usage")
    return WordRequest(word=parts[0], category=parts[1], weight=weight)


def parse_weight(raw: str) -> float:
    """A word's weight: a number above 0 and at most MAX_WEIGHT."""
    try:
        weight = float(raw)
    except ValueError:
        raise WordProblem("bad_weight", weight=raw, most=MAX_WEIGHT) from None
    if not math.isfinite(weight) or not 0 < weight <= MAX_WEIGHT:
        raise WordProblem("bad_weight", weight=raw, most=MAX_WEIGHT)
    return weight


def parse_category(raw: str) -> Category:
    """A category id (`damaged_missing`); unknown ones are refused with the list."""
    try:
        return Category(raw.strip().lower())
    except ValueError:
        known = ", ".join(category.value for category in Category)
        raise WordProblem("unknown_category", category=raw, known=known) from None


def check_word(
    request: WordRequest,
    *,
    normalize: Callable[[str], str],
    rules: Rules,
    words: Sequence[ShopWord],
) -> tuple[ShopWord, list[WordNote]]:
    """The checked shop word and notes explaining what it overrides; WordProblem if refused.

    `normalize` gives a text as the classifier matches it (width, script, case), `rules` are
    the phrasebook's rules (without shop words) and `words` the shop's current words.
    """
    written = " ".join(request.word.split())
    if not MIN_LENGTH <= len(written) <= MAX_LENGTH:
        raise WordProblem("bad_length", word=written, least=MIN_LENGTH, most=MAX_LENGTH)
    if not any(char.isalnum() for char in written):
        raise WordProblem("only_punctuation", word=written)
    category = parse_category(request.category)
    phrase = " ".join(normalize(written).split())
    if not phrase or any("\ue000" <= char <= "\uf8ff" for char in phrase):
        raise WordProblem("masked", word=written)
    word = ShopWord(phrase=phrase, word=written, category=category, weight=request.weight)
    return word, _conflicts(word, rules, words)


def _conflicts(word: ShopWord, rules: Rules, words: Sequence[ShopWord]) -> list[WordNote]:
    """Refuse what cannot stand together; explain what the word overrides."""
    phrase = word.phrase
    for other in words:
        if other.phrase == phrase and other.category is not word.category:
            raise WordProblem("taken", word=word.word, category=other.category.value)
    rule = rules.phrases.get(phrase)
    notes: list[WordNote] = []
    if rule is not None:
        if rule.negation or rule.hypothetical:
            raise WordProblem("function_word", word=word.word)
        others = [c.value for c, _ in rule.override if c is not word.category]
        if others:
            raise WordProblem("phrasebook_override", word=word.word, category=others[0])
        if rule.override:
            raise WordProblem("in_phrasebook", word=word.word, category=word.category.value)
        if rule.extortion and word.category is not Category.EXTORTION:
            raise WordProblem("extortion_word", word=word.word)
        scored = [c.value for c, weight in rule.categories if weight > 0 and c is not word.category]
        if scored:
            notes.append(
                WordNote("was_evidence", {"word": word.word, "categories": ", ".join(scored)})
            )
    for other in words:
        if other.phrase == phrase or other.category is word.category:
            continue
        if phrase in other.phrase or other.phrase in phrase:
            longer, shorter = (other, word) if phrase in other.phrase else (word, other)
            notes.append(
                WordNote(
                    "overlaps",
                    {
                        "longer": longer.word,
                        "shorter": shorter.word,
                        "category": longer.category.value,
                    },
                )
            )
    if any(other.phrase == phrase for other in words):
        notes.append(WordNote("replaced", {"word": word.word}))
    return notes


def with_shop_words(rules: Rules, words: Sequence[ShopWord]) -> Rules:
    """The rules with each shop word as an override phrase (what the loader would build had
    the word been written in a rules file's `overrides:` section)."""
    if not words:
        return rules
    phrases: dict[str, PhraseRule] = dict(rules.phrases)
    for word in words:
        existing = phrases.get(word.phrase)
        if existing is None:
            categories, flags = _inherited(word.phrase, rules.phrases)
            existing = PhraseRule(categories=categories, flags=flags)
        override = dict(existing.override)
        override[word.category] = max(override.get(word.category, 0.0), word.weight)
        phrases[word.phrase] = replace(existing, override=tuple(sorted(override.items())))
    return replace(rules, phrases=phrases)


def _inherited(
    phrase: str, phrases: Mapping[str, PhraseRule]
) -> tuple[tuple[tuple[Category, float], ...], tuple[tuple[Flag, float], ...]]:
    """What the shorter phrases inside a new phrase mean (a longer phrase swallows them)."""
    categories: dict[Category, float] = {}
    flags: dict[Flag, float] = {}
    for size in range(len(phrase) - 1, 0, -1):
        for start in range(len(phrase) - size + 1):
            part = phrases.get(phrase[start : start + size])
            if part is None:
                continue
            for category, weight in part.categories:
                categories[category] = max(categories.get(category, 0.0), weight)
            for flag, weight in part.flags:
                flags[flag] = max(flags.get(flag, 0.0), weight)
    return tuple(sorted(categories.items())), tuple(sorted(flags.items()))
