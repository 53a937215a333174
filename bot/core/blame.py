"""Blame and refusal found by sentence structure, in Simplified, Traditional and English.

A draft is cut into clauses (at punctuation and at words like 但是 or "but") and each clause into
tokens: one per Chinese character, one per Latin word. Word lists from the phrasebook's
checks.yaml are matched as token sequences, so "us" never matches inside "must".

- Refusal (the shop denies its part): a negator, the shop's first person and a responsibility
  word close together — 不是我们的问题, 我们不负责, not our problem, we are not responsible — or
  a negated relation next to the shop: 不关我们的事, 与本店无关, 唔關我哋事, nothing to do with us.
  A buyer pronoun between the negator and the responsibility word makes it the buyer's part that
  is denied (我们不会让您负责), which is not a refusal.
- Blame (the buyer is at fault): the buyer as the subject of a careless act (你自己没看清,
  you didn't read), the buyer's fault as a predicate after a copula (是你自己的问题, that's your
  fault) or after a locator (责任在你), or a blame verb aimed at the buyer (怪你, blame you).
  A negator just before, or between the parts, cancels it: 这不是您的问题, 您没有看错,
  it's not your fault, 不怪您.

Harmless phrases (没问题, 不好意思, no problem) are blanked first. Clauses that ask neutrally
(是不是, 是否, could it be) or state a condition (如果, if) report nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

Span = tuple[int, int]  # token indexes [start, end)

_TOKEN = re.compile(
    r"(?P<word>[a-z0-9\u00c0-\u024f]+(?:'[a-z]+)*)"
    r"|(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])"
    r"|(?P<stop>[,.!?;:，。！？；：、…~～\n])"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_BLANK = ""  # a masked token: it still counts as distance but matches nothing


@dataclass(frozen=True, slots=True)
class StructureWords:
    """Word lists behind blame and refusal by structure (from the phrasebook), case-folded."""

    window: int
    clause_breaks: tuple[str, ...]
    harmless: tuple[str, ...]
    inquiry: tuple[str, ...]
    hypothetical: tuple[str, ...]
    negators: tuple[str, ...]
    shop_pronouns: tuple[str, ...]
    buyer_pronouns: tuple[str, ...]
    buyer_as_object: tuple[str, ...]
    responsibility: tuple[str, ...]
    relation: tuple[str, ...]
    fault_words: tuple[str, ...]
    copulas: tuple[str, ...]
    locators: tuple[str, ...]
    blame_verbs: tuple[str, ...]
    careless_acts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clause:
    """A clause's tokens (harmless phrases blanked) and where each token is in the text."""

    text: str
    tokens: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    exempt: bool  # a neutral question or a condition: nothing in it is reported

    def quote(self, span: Span) -> str:
        """The text the token span covers."""
        return self.text[self.starts[span[0]] : self.ends[span[1] - 1]]


def tokens_of(text: str) -> list[str]:
    """The word and character tokens of `text` (punctuation dropped); empty if none."""
    return [m.group() for m in _TOKEN.finditer(normalise(text)) if m.lastgroup != "stop"]


def normalise(text: str) -> str:
    """Case-fold and unify apostrophes, as the check does before matching."""
    return text.casefold().translate(_APOSTROPHES)


def clauses(text: str, words: StructureWords) -> list[Clause]:
    """Cut the (normalised) `text` into clauses at punctuation and at the clause-break words."""
    result: list[Clause] = []
    current: list[re.Match[str]] = []
    for match in _TOKEN.finditer(text):
        if match.lastgroup == "stop":
            result.extend(_split_at_breaks(text, current, words))
            current = []
        else:
            current.append(match)
    result.extend(_split_at_breaks(text, current, words))
    return result


def _split_at_breaks(
    text: str, matches: list[re.Match[str]], words: StructureWords
) -> Iterator[Clause]:
    tokens = [m.group() for m in matches]
    cuts = sorted(_spans(tokens, _phrases(words.clause_breaks)))
    position = 0
    for start, end in [*cuts, (len(tokens), len(tokens))]:
        if start > position:
            yield _clause(text, matches[position:start], words)
        position = max(position, end)


def _clause(text: str, matches: Sequence[re.Match[str]], words: StructureWords) -> Clause:
    tokens = [m.group() for m in matches]
    exempt = bool(
        _spans(tokens, _phrases(words.inquiry)) or _spans(tokens, _phrases(words.hypothetical))
    )
    for start, end in _spans(tokens, _phrases((*words.harmless, *words.inquiry))):
        tokens[start:end] = [_BLANK] * (end - start)
    return Clause(
        text=text,
        tokens=tuple(tokens),
        starts=tuple(m.start() for m in matches),
        ends=tuple(m.end() for m in matches),
        exempt=exempt,
    )


Phrases = dict[str, tuple[tuple[str, ...], ...]]  # first token -> phrases, longest first


@lru_cache(maxsize=256)
def _phrases(words: tuple[str, ...]) -> Phrases:
    """Each word as tokens, by first token, longest first (so 没有 wins over 没 at one place)."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted({tuple(tokens_of(word)) for word in words}, key=len, reverse=True):
        if phrase:
            by_first.setdefault(phrase[0], []).append(phrase)
    return {first: tuple(phrases) for first, phrases in by_first.items()}


def _spans(tokens: Sequence[str], phrases: Phrases) -> list[Span]:
    """Where any phrase occurs; at each position only the longest phrase that fits."""
    found: list[Span] = []
    for index, token in enumerate(tokens):
        for phrase in phrases.get(token, ()):
            if tuple(tokens[index : index + len(phrase)]) == phrase:
                found.append((index, index + len(phrase)))
                break
    return found


def _gap(before: Span, after: Span) -> int:
    """Tokens strictly between `before` and `after`; negative when they overlap or are reversed."""
    return after[0] - before[1]


def _within(before: Span, after: Span, limit: int) -> bool:
    return 0 <= _gap(before, after) <= limit


def _between(spans: list[Span], before: Span, after: Span) -> bool:
    return any(before[1] <= s[0] and s[1] <= after[0] for s in spans)


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@dataclass(frozen=True, slots=True)
class _Found:
    """Every word list's spans in one clause."""

    negators: list[Span]
    shop: list[Span]
    buyer: list[Span]
    objects: list[Span]
    responsibility: list[Span]
    relation: list[Span]
    fault: list[Span]
    copulas: list[Span]
    locators: list[Span]
    blame_verbs: list[Span]
    careless: list[Span]


def _find(clause: Clause, words: StructureWords) -> _Found:
    def spans(listed: tuple[str, ...]) -> list[Span]:
        return _spans(clause.tokens, _phrases(listed))

    return _Found(
        negators=spans(words.negators),
        shop=spans(words.shop_pronouns),
        buyer=spans(words.buyer_pronouns),
        objects=spans(words.buyer_as_object),
        responsibility=spans(words.responsibility),
        relation=spans(words.relation),
        fault=spans(words.fault_words),
        copulas=spans(words.copulas),
        locators=spans(words.locators),
        blame_verbs=spans(words.blame_verbs),
        careless=spans(words.careless_acts),
    )


def refusal(text: str, words: StructureWords) -> str:
    """The first clause of `text` in which the shop denies its responsibility, or ""."""
    for clause in clauses(normalise(text), words):
        if clause.exempt:
            continue
        span = _refusal_span(_find(clause, words), words.window)
        if span:
            return clause.quote(span)
    return ""


def _refusal_span(found: _Found, window: int) -> Span | None:
    duties = found.responsibility + found.fault
    for negator in found.negators:
        for shop in found.shop:
            # 不是我们的问题, not our fault: negator, the shop, then whose problem it is.
            for duty in duties:
                if (
                    _within(negator, shop, 2)
                    and _within(shop, duty, window)
                    and not _between(found.buyer, negator, duty)
                ):
                    return (negator[0], duty[1])
            # 我们不负责, we are not responsible: the shop, a negator, then a duty.
            for duty in found.responsibility:
                if (
                    _within(shop, negator, window)
                    and _within(negator, duty, window)
                    and not _overlaps(negator, duty)
                    and not _between(found.buyer, negator, duty)
                ):
                    return (shop[0], duty[1])
            # 不关我们的事, nothing to do with us, 与我们无关: a negated relation beside the shop.
            for relation in found.relation:
                if _gap(negator, relation) == 0 and (
                    _gap(relation, shop) == 0 or _within(shop, negator, window)
                ):
                    return (min(negator[0], shop[0]), max(relation[1], shop[1]))
    return None


def blame(text: str, words: StructureWords, phrases: tuple[str, ...] = ()) -> str:
    """The first clause of `text` that puts the fault on the buyer, or "".

    `phrases` are blame phrases matched as they are (你自己弄坏, user error), unless negated.
    """
    for clause in clauses(normalise(text), words):
        if clause.exempt:
            continue
        found = _find(clause, words)
        for span, own in _blame_spans(clause, found, words.window, _phrases(phrases)):
            if not _negated(found.negators, span, own, words.window):
                return clause.quote(span)
    return ""


def _blame_spans(
    clause: Clause, found: _Found, window: int, phrases: Phrases
) -> Iterator[tuple[Span, Span]]:
    """Each candidate (whole span, its own words, whose negators do not count)."""
    for phrase in _spans(clause.tokens, phrases):
        yield phrase, phrase
    subjects = [b for b in found.buyer if not any(_gap(o, b) == 0 for o in found.objects)]
    for buyer in subjects:
        # 你自己没看清, you didn't read: the buyer did something careless.
        for act in found.careless:
            if _within(buyer, act, 2):
                yield (buyer[0], act[1]), act
    copulas = [c for c in found.copulas if not _opens_question(clause.tokens, c)]
    for buyer in found.buyer:
        for fault in found.fault:
            # 是你自己的问题, that's your fault: the buyer's fault as the predicate.
            before = [c[0] for c in copulas if _within(c, buyer, 1)]
            if _within(buyer, fault, window) and before:
                yield (min(before), fault[1]), fault
            # 责任在你, 问题出在您身上: the fault located with the buyer.
            for locator in found.locators:
                if _within(fault, locator, 0) and _within(locator, buyer, 0):
                    yield (fault[0], buyer[1]), fault
        # 怪你, blame yourself: a blame verb aimed at the buyer.
        for verb in found.blame_verbs:
            if _within(verb, buyer, 1):
                yield (verb[0], buyer[1]), verb


def _opens_question(tokens: Sequence[str], copula: Span) -> bool:
    """An English copula before any other word asks a question: "Are you having an issue?"."""
    first = tokens[copula[0]]
    return (
        first.isascii()
        and first.isalpha()
        and not any(any(ch.isalpha() for ch in token) for token in tokens[: copula[0]])
    )


def _negated(negators: list[Span], span: Span, own: Span, window: int) -> bool:
    """A negator up to `window` tokens before `span` or inside it cancels it, unless the
    negator is part of the span's own words (the 没 of 没看清)."""
    return any(
        not _overlaps(negator, own) and span[0] - window <= negator[0] and negator[0] < span[1]
        for negator in negators
    )
