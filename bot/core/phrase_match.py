"""Finding the rules' phrases in a normalised message: leftmost-longest matching with negation,
conditions and token boundaries (steps 2 and 3 of `bot.core.classify`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.keyword_rules import PhraseRule, Rules

_WITHHOLDING = frozenset({"不", "没", "not", "don't", "won't", "didn't"})
PUNCTUATION = frozenset(",.!?;:~\n\t()[]\"'")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")


class Segmenter(Protocol):
    """Splits text into words (the real one is a private jieba Tokenizer)."""

    def cut(self, text: str) -> Sequence[str]:
        """Tokens that, joined, give back `text`."""
        ...


@dataclass(frozen=True, slots=True)
class Match:
    """One phrase found in the normalised text, at [start, end)."""

    phrase: str
    start: int
    end: int
    negated: bool = False
    negated_any: bool = False
    hypothetical: bool = False
    withheld: bool = False  # negated by a plain "not" (不赔, not paying), not by "别" or "never"


def is_latin(phrase: str) -> bool:
    """True for a Latin-script phrase (matched on word boundaries, not token boundaries)."""
    return phrase.isascii()


class TokenBounds:
    """Token boundary offsets of a text, segmented only when first asked for.

    Only keywords of up to `token_boundary_max_len` characters need boundaries, so most
    messages are never segmented at all.
    """

    __slots__ = ("_bounds", "_segmenter", "_text", "_tokens")

    def __init__(self, segmenter: Segmenter, text: str) -> None:
        self._segmenter = segmenter
        self._text = text
        self._bounds: set[int] | None = None
        self._tokens: Sequence[str] | None = None

    def tokens(self) -> Sequence[str]:
        """The text's tokens (segmented once, shared with the boundary test)."""
        if self._tokens is None:
            self._tokens = self._segmenter.cut(self._text)
        return self._tokens

    def __contains__(self, offset: object) -> bool:
        if self._bounds is None:
            bounds = {0}
            position = 0
            for token in self.tokens():
                position += len(token)
                bounds.add(position)
            self._bounds = bounds
        return offset in self._bounds


def find_phrases(
    text: str, rules: Rules, bounds: TokenBounds | set[int] | None = None
) -> list[Match]:
    """Leftmost-longest, non-overlapping phrase matches with negation resolved.

    Latin phrases must sit on word boundaries (checked on characters, not with regexes);
    Chinese phrases up to `token_boundary_max_len` characters must start and end on token
    boundaries when `bounds` is given, so "碎" is not read out of "粉碎机".
    """
    trie = rules.trie
    phrases = rules.phrases
    max_len = rules.token_boundary_max_len
    n = len(text)
    matches: list[Match] = []
    last_negation: Match | None = None
    condition_end = -1  # matches starting before this offset sit in a condition clause
    i = 0
    while i < n:
        node = trie.get(text[i])
        if node is None:
            i += 1
            continue
        best: str | None = None
        j = i
        while isinstance(node, dict):
            j += 1
            found = node.get("")
            if found is not None:
                phrase = str(found)
                if _accept(text, i, j, phrase, phrases[phrase], bounds, max_len):
                    best = phrase
            if j >= n:
                break
            node = node.get(text[j])
        if best is None:
            i += 1
            continue
        end = i + len(best)
        rule = phrases[best]
        if rule.hypothetical:
            condition_end = _clause_end(text, end, rules.hypothetical_window)
        if rule.negation:
            last_negation = Match(best, i, end, negated_any=rule.negates_any)
        elif rule.meaningful:
            negated = last_negation is not None and _negates(text, last_negation, i, rules)
            negated_any = negated and last_negation is not None and last_negation.negated_any
            withheld = (
                negated and last_negation is not None and last_negation.phrase in _WITHHOLDING
            )
            matches.append(Match(best, i, end, negated, negated_any, i < condition_end, withheld))
            last_negation = None
        else:
            last_negation = None
        i = end
    return matches


def _accept(
    text: str,
    start: int,
    end: int,
    phrase: str,
    rule: PhraseRule,
    bounds: TokenBounds | set[int] | None,
    max_len: int,
) -> bool:
    if is_latin(phrase):
        if phrase[0] in _WORD_CHARS and word_char_at(text, start - 1):
            return False
        return rule.prefix or not (phrase[-1] in _WORD_CHARS and word_char_at(text, end))
    if bounds is not None and len(phrase) <= max_len:
        return start in bounds and end in bounds
    return True


def _clause_end(text: str, start: int, window: int) -> int:
    """Offset where the clause starting at `start` ends (punctuation, or `window` characters)."""
    limit = min(len(text), start + window)
    for offset in range(start, limit):
        if text[offset] in PUNCTUATION:
            return offset
    return limit


def word_char_at(text: str, offset: int) -> bool:
    """True when text[offset] continues a word; an apostrophe only between letters ("didn't"),
    not as a quotation mark ('fulfilled')."""
    if offset < 0 or offset >= len(text) or text[offset] not in _WORD_CHARS:
        return False
    if text[offset] != "'":
        return True
    before = offset > 0 and text[offset - 1].isalnum()
    after = offset + 1 < len(text) and text[offset + 1].isalnum()
    return before and after


def _negates(text: str, negation: Match, start: int, rules: Rules) -> bool:
    gap = text[negation.end : start]
    window = rules.negation_window_en if is_latin(negation.phrase) else rules.negation_window_zh
    if len(gap) > window:
        return False
    return not any(char in PUNCTUATION for char in gap)
