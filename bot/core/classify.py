"""Keyword classification of buyer messages: one category, flags, and the words that explain it.

How a message is read:
1. `normalize` folds width, converts Traditional to Simplified and lower-cases it.
2. One left-to-right scan finds phrases from the rules (longest match wins, matches never
   overlap), so a longer phrase swallows the shorter ones inside it: "差评师" hides "差评",
   "不好意思" hides "不好", and negated forms such as "没收到" are phrases of their own.
3. A negation word just before a keyword ("没有破损", "not broken") cancels that keyword
   (a negation of will, "不想退货", whatever its category bar `will_keeps`); a condition
   ("如果坏了", "我怕坏了") weakens the problem keywords in the rest of its clause.
4. Scores per category and flag are summed; topic words ("物流", "客服") yield to real
   evidence, a question adds to inquiry unless it names a problem of its own, the cause
   beats the remedy (return_refund, bad_review, complaint and inquiry count for little once a
   cause is present) and extortion (a benefit demanded, or withheld, together with a review or
   complaint threat) beats everything. An exact tie goes by the rules' `tie_order`.
5. Where learned weights exist for the message's language (`bot.core.learned`), they decide
   instead of step 4's ranking: the rules' scores become features beside the words, and the
   calibrated probability is the confidence. Extortion by structure and a shop's `overrides`
   phrases still win outright.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from math import exp
from typing import Protocol

from bot.core.entities import extract_entities
from bot.core.features import RuleView, chinese_features, english_features
from bot.core.learned import LearnedWeights, display_name, language_key
from bot.core.normalize import DialectFolding, NormalizedText, ScriptConverter, normalize
from bot.core.types import Category, Classification, Entities, Flag, Language

_WITHHOLDING = frozenset({"不", "没", "not", "don't", "won't", "didn't"})
_PUNCTUATION = frozenset(",.!?;:~\n\t()[]\"'")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")


class Segmenter(Protocol):
    """Splits text into words (the real one is a private jieba Tokenizer)."""

    def cut(self, text: str) -> Sequence[str]:
        """Tokens that, joined, give back `text`."""
        ...


class ExtortionRole:
    """What a phrase contributes to recognising extortion."""

    DIRECT = "direct"  # extortion on its own: 差评师, 私了, 买个平安
    BENEFIT = "benefit"  # money or goods demanded: 赔我, 红包, 转我, keep the item
    REVIEW = "review"  # a review mentioned as the lever: 好评, 五星, 评价, feedback
    COMPLAINT = "complaint"  # a complaint as the lever: 投诉, 举报, 12315, chargeback, report
    REFUND = "refund"  # a full refund: a demand only where no problem justifies it
    CONDITION = "condition"  # ties the demand to the lever: 不然, 否则, 的话, otherwise


EXTORTION_ROLES = frozenset(
    {
        ExtortionRole.DIRECT,
        ExtortionRole.BENEFIT,
        ExtortionRole.REVIEW,
        ExtortionRole.COMPLAINT,
        ExtortionRole.REFUND,
        ExtortionRole.CONDITION,
    }
)


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """Everything one phrase means to the classifier (merged from every rule that names it)."""

    categories: tuple[tuple[Category, float], ...] = ()
    flags: tuple[tuple[Flag, float], ...] = ()
    negation: bool = False
    negates_any: bool = False  # a negation of will (不想, 不用, 没必要): cancels any category
    hypothetical: bool = False  # opens a condition (如果, 万一): the rest of the clause may not be
    extortion: frozenset[str] = frozenset()
    prefix: bool = False  # Latin phrase that may be followed by more letters ("refund*")
    # A shop's override: these categories always win over learned weights when it matches.
    override: tuple[tuple[Category, float], ...] = ()
    # An object ("发票", "退款", "验证码"): keywords of `object_takes` next to it ("发票没收到",
    # "退款什么时候到") are about the object, so they count for `object_of` instead.
    object_of: Category | None = None
    object_takes: frozenset[Category] = frozenset()

    @property
    def meaningful(self) -> bool:
        """True when the phrase scores something (neutral phrases only swallow others)."""
        return bool(
            self.categories or self.flags or self.extortion or self.object_of or self.override
        )


@dataclass(frozen=True, slots=True)
class PunctuationSignal:
    """A run of at least `min_run` ! or ? adds `weight` to `flag`."""

    min_run: int
    flag: Flag
    weight: float


@dataclass(frozen=True, slots=True)
class Rules:
    """The classifier's compiled keyword rules (built by the phrasebook loader)."""

    phrases: Mapping[str, PhraseRule]
    remedies: frozenset[Category] = frozenset(
        {Category.RETURN_REFUND, Category.BAD_REVIEW, Category.COMPLAINT, Category.INQUIRY}
    )
    remedy_factor: float = 0.3
    cause_threshold: float = 1.0
    flag_threshold: float = 1.0
    category_threshold: float = 0.5
    min_confidence: float = 0.4
    tie_margin: float = 0.25
    negation_window_zh: int = 2
    negation_window_en: int = 12
    token_boundary_max_len: int = 1
    negatable: frozenset[Category] = frozenset(
        {
            Category.DAMAGED_MISSING,
            Category.WRONG_ITEM,
            Category.NOT_AS_DESCRIBED,
            Category.QUALITY,
        }
    )
    # Categories a negation of will does not cancel: "不用开发票了" is still about the invoice.
    will_keeps: frozenset[Category] = frozenset()
    # Which category wins an exact tie (categories not listed follow in taxonomy order).
    tie_order: tuple[Category, ...] = tuple(Category)
    own_cause: frozenset[str] = frozenset()
    topic: frozenset[str] = frozenset()
    topic_factor: float = 1.0
    topic_keeps_against: frozenset[Category] = frozenset()
    question_markers: tuple[str, ...] = ()
    question_bonus: float = 0.0
    hypothetical_factor: float = 1.0
    hypothetical_window: int = 20
    # How far (characters between them) an object may sit before / after the keyword it takes.
    object_gap_before_zh: int = 4
    object_gap_after_zh: int = 1
    object_gap_before_en: int = 12
    object_gap_after_en: int = 6
    punctuation: tuple[PunctuationSignal, ...] = ()
    angry_emoji_weight: float = 0.0
    angry_emoji: frozenset[str] = frozenset()
    shouting_min_words: int = 3
    shouting_weight: float = 0.0
    extortion_flags: frozenset[Flag] = frozenset({Flag.WANTS_COMPENSATION})
    # Short words that tie a demand to a lever only when both are present ("给我200我就删评"):
    # too common to be phrases of their own, so they are looked up as substrings.
    extortion_links: tuple[str, ...] = ()
    # Verbs that make a nearby number a demanded amount ("转我300", "pay me 40").
    demand_verbs: tuple[str, ...] = ()
    demand_gap: int = 4
    lever_words: tuple[str, ...] = ()
    counted_units: tuple[str, ...] = ()
    link_max_length: int = 60
    max_demand_digits: int = 4
    extortion_max_length: int = 80
    # A money amount is a demand unless one of these stands just before it ("花了200块",
    # "paid $50") or one of `paid_after` right after it ("200块买的").
    paid_words: tuple[str, ...] = ()
    paid_after: tuple[str, ...] = ()
    dialect: DialectFolding = field(default_factory=DialectFolding)
    fallback: Category = Category.INQUIRY
    fallback_confidence: float = 0.3
    # Built from the fields above, never passed in (so `dataclasses.replace` rebuilds them).
    trie: dict[str, object] = field(init=False, compare=False, repr=False)
    tie_rank: dict[Category, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        root: dict[str, object] = {}
        for phrase in self.phrases:
            node = root
            for char in phrase:
                child = node.get(char)
                if child is None:
                    child = {}
                    node[char] = child
                assert isinstance(child, dict)
                node = child
            node[""] = phrase
        object.__setattr__(self, "trie", root)
        ranked = dict.fromkeys([*self.tie_order, *Category])
        object.__setattr__(self, "tie_rank", {category: i for i, category in enumerate(ranked)})


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


def _is_latin(phrase: str) -> bool:
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
    if _is_latin(phrase):
        if phrase[0] in _WORD_CHARS and _word_char_at(text, start - 1):
            return False
        return rule.prefix or not (phrase[-1] in _WORD_CHARS and _word_char_at(text, end))
    if bounds is not None and len(phrase) <= max_len:
        return start in bounds and end in bounds
    return True


def _clause_end(text: str, start: int, window: int) -> int:
    """Offset where the clause starting at `start` ends (punctuation, or `window` characters)."""
    limit = min(len(text), start + window)
    for offset in range(start, limit):
        if text[offset] in _PUNCTUATION:
            return offset
    return limit


def _word_char_at(text: str, offset: int) -> bool:
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
    window = rules.negation_window_en if _is_latin(negation.phrase) else rules.negation_window_zh
    if len(gap) > window:
        return False
    return not any(char in _PUNCTUATION for char in gap)


@dataclass(slots=True)
class _Tally:
    categories: dict[Category, float] = field(default_factory=dict)
    own_cause: dict[Category, float] = field(default_factory=dict)
    topic: dict[Category, float] = field(default_factory=dict)
    flags: dict[Flag, float] = field(default_factory=dict)
    keywords: dict[Category, list[str]] = field(default_factory=dict)
    extortion: set[str] = field(default_factory=set)
    extortion_words: list[str] = field(default_factory=list)
    withheld_lever: bool = False  # a complaint or review withheld: "我就不投诉了"
    negated: int = 0  # problem keywords a negation cancelled
    conditional: int = 0  # keywords inside a condition clause


def _object_owners(text: str, matches: Sequence[Match], rules: Rules) -> dict[int, PhraseRule]:
    """For each match (by index) that an adjacent object takes over, that object's rule.

    The object must be the neighbouring match, within the object gap and with no punctuation
    in between; when both neighbours qualify the closer one wins.
    """
    phrases = rules.phrases
    owners: dict[int, PhraseRule] = {}
    for index, match in enumerate(matches):
        best_gap = -1
        for neighbour in (index - 1, index + 1):
            if neighbour < 0 or neighbour >= len(matches):
                continue
            other = matches[neighbour]
            rule = phrases[other.phrase]
            if rule.object_of is None or other.negated:
                continue
            latin = _is_latin(match.phrase) or _is_latin(other.phrase)
            if neighbour < index:
                gap = text[other.end : match.start]
                limit = rules.object_gap_before_en if latin else rules.object_gap_before_zh
            else:
                gap = text[match.end : other.start]
                limit = rules.object_gap_after_en if latin else rules.object_gap_after_zh
            if len(gap) > limit or any(char in _PUNCTUATION for char in gap):
                continue
            if best_gap < 0 or len(gap) < best_gap:
                best_gap = len(gap)
                owners[index] = rule
    return owners


def _tally(matches: Sequence[Match], rules: Rules, text: str) -> _Tally:
    tally = _Tally()
    seen: set[tuple[str, bool]] = set()
    owners: dict[int, PhraseRule] = {}
    if any(rules.phrases[match.phrase].object_of is not None for match in matches):
        owners = _object_owners(text, matches, rules)
    for index, match in enumerate(matches):
        key = (match.phrase, match.negated)
        if key in seen:
            continue
        seen.add(key)
        rule = rules.phrases[match.phrase]
        tally.negated += match.negated
        tally.conditional += match.hypothetical
        owner = owners.get(index)
        for category, weight in rule.categories:
            if match.negated and (
                (match.negated_any and category not in rules.will_keeps)
                or category in rules.negatable
            ):
                continue
            if owner is not None and category in owner.object_takes and owner.object_of:
                category = owner.object_of
            if match.hypothetical and category in rules.negatable:
                weight *= rules.hypothetical_factor
            if match.phrase in rules.own_cause:
                tally.own_cause[category] = tally.own_cause.get(category, 0.0) + weight
            elif match.phrase in rules.topic:
                tally.topic[category] = tally.topic.get(category, 0.0) + weight
            else:
                tally.categories[category] = tally.categories.get(category, 0.0) + weight
            tally.keywords.setdefault(category, []).append(match.phrase)
        if match.negated:
            if rule.extortion & {ExtortionRole.COMPLAINT, ExtortionRole.REVIEW}:
                tally.withheld_lever = True
            if ExtortionRole.BENEFIT in rule.extortion and match.withheld:
                # "不赔我…就…", "not compensating me? then…": a benefit withheld is the condition.
                tally.extortion |= {ExtortionRole.BENEFIT, ExtortionRole.CONDITION}
                tally.extortion_words.append(match.phrase)
            continue
        for flag, weight in rule.flags:
            tally.flags[flag] = tally.flags.get(flag, 0.0) + weight
        if rule.extortion:
            tally.extortion |= rule.extortion
            tally.extortion_words.append(match.phrase)
    return tally


def _signal_flags(normalized: NormalizedText, rules: Rules, flags: dict[Flag, float]) -> None:
    for run in normalized.punctuation_runs:
        best = 0.0
        target: Flag | None = None
        for signal in rules.punctuation:
            if run >= signal.min_run and signal.weight > best:
                best, target = signal.weight, signal.flag
        if target is not None:
            flags[target] = flags.get(target, 0.0) + best
    if rules.angry_emoji_weight and any(e in rules.angry_emoji for e in normalized.emoji):
        flags[Flag.ANGRY] = flags.get(Flag.ANGRY, 0.0) + rules.angry_emoji_weight
    if rules.shouting_weight and normalized.shouting_words >= rules.shouting_min_words:
        flags[Flag.ANGRY] = flags.get(Flag.ANGRY, 0.0) + rules.shouting_weight


def _is_extortion(
    tally: _Tally, text: str, amounts: Sequence[str], asks: bool, rules: Rules
) -> bool:
    """A demand for a benefit tied to a review or complaint lever by a condition, either order.

    The demand is a benefit word (赔我, 红包, gift card), a number right after a demand verb
    ("转我300", "pay me $40"; not a phone number, 12315, stars or days), or a full refund
    (退全款, refund me) in a message that names no problem of its own — a refund for goods that
    never came or broke is the normal remedy. The lever is a review word (found inside longer
    phrases too) or a complaint word or threat; the tie a condition phrase or, in a short
    message that asks nothing, a short link word (就, 才, once, if). "差评师" or "私了" needs
    nothing more.
    """
    roles = tally.extortion
    if ExtortionRole.DIRECT in roles:
        return True
    # A demand is put in a few words; a long review that mentions money, a refund and a review
    # is telling a story (the learned weights may still call it extortion, given a demand).
    if len(text) > rules.extortion_max_length or not _demands(tally, text, amounts, rules):
        return False
    threat = max(
        tally.flags.get(Flag.THREATENS_REVIEW, 0.0),
        tally.flags.get(Flag.THREATENS_COMPLAINT, 0.0),
    )
    if threat >= rules.flag_threshold and ExtortionRole.BENEFIT in roles:
        return True
    # Review and complaint words are looked up as substrings too: a longer phrase ("改评价",
    # "my review") may have swallowed the word it holds. A negated complaint still counts
    # ("我就不投诉了" trades the complaint away).
    lever = (
        ExtortionRole.REVIEW in roles
        or ExtortionRole.COMPLAINT in roles
        or tally.withheld_lever
        or threat >= rules.flag_threshold
        or any(word in text for word in rules.lever_words)
    )
    if not lever:
        return False
    if ExtortionRole.CONDITION in roles:
        return True
    # A short link word ties demand and lever only in a short message that asks nothing: a
    # long review that mentions a refund and a complaint, or a question about a cash-for-review
    # offer, is no demand.
    if len(text) > rules.link_max_length or asks:
        return False
    return any(_has_link(text, link) for link in rules.extortion_links)


def _demands(tally: _Tally, text: str, amounts: Sequence[str], rules: Rules) -> bool:
    """True when the message demands a benefit (see `_is_extortion`) or says 差评师 / 私了."""
    roles = tally.extortion
    return (
        ExtortionRole.DIRECT in roles
        or ExtortionRole.BENEFIT in roles
        or _demanded_amount(text, rules)
        or any(_owed(text, amount, rules) for amount in amounts)
        or (ExtortionRole.REFUND in roles and not _names_a_cause(tally, rules))
    )


def _owed(text: str, amount: str, rules: Rules) -> bool:
    """True when a sum of money is asked for, not reported as paid ("花了200块", "I paid $50")."""
    start = text.find(amount.lower())
    if start < 0:
        return False
    before = text[max(0, start - rules.demand_gap - 2) : start]
    after = text[start + len(amount) : start + len(amount) + 2]
    return not any(word in before for word in rules.paid_words) and not after.startswith(
        rules.paid_after
    )


def _names_a_cause(tally: _Tally, rules: Rules) -> bool:
    """True when a category other than the remedies scores `cause_threshold` on its own."""
    return _evidence_beyond(tally, rules, rules.remedies)


def _has_link(text: str, link: str) -> bool:
    """A link word in `text`; a Latin one only as a whole word ("if", not "gift")."""
    if not link.isascii() or not link[0].isalpha():
        return link in text
    start = text.find(link)
    while start >= 0:
        end = start + len(link)
        if not _word_char_at(text, start - 1) and not _word_char_at(text, end):
            return True
        start = text.find(link, start + 1)
    return False


def _demanded_amount(text: str, rules: Rules) -> bool:
    """True when a sum of money follows a demand verb closely ("转我300", "pay me $40")."""
    for verb in rules.demand_verbs:
        start = text.find(verb)
        while start >= 0:
            after = start + len(verb)
            for offset in range(after, min(len(text), after + rules.demand_gap + 1)):
                if text[offset].isdigit() or text[offset] in _CN_DIGITS:
                    if _is_money(text, offset, rules):
                        return True
                    break
            start = text.find(verb, start + 1)
    return False


def _is_money(text: str, offset: int, rules: Rules) -> bool:
    """True when the number at `offset` can be a sum demanded: at most `max_demand_digits`
    digits (not a phone number or 12315), and not counting stars, days or items."""
    end = offset
    digits = 0
    while end < len(text) and (
        text[end].isdigit() or text[end] in _CN_DIGITS or text[end] in " .,"
    ):
        digits += text[end].isdigit()
        end += 1
    if digits > rules.max_demand_digits:
        return False
    return not text[end:].lstrip().startswith(rules.counted_units)


_CN_DIGITS = frozenset("一二两三四五六七八九十百千万\ue001\ue002")


def _confidence(best: float, second: float) -> float:
    strength = 1.0 - exp(-best)
    margin = (best - second) / best if best > 0 else 0.0
    return round(strength * (0.5 + 0.5 * margin), 3)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the hand rules made of one normalised message, before any decision."""

    normalized: NormalizedText
    bounds: TokenBounds | None
    tally: _Tally
    entities: Entities
    flags: frozenset[Flag]
    extortion: bool
    question: bool
    scores: dict[Category, float]
    ranked: list[tuple[Category, float]]
    overrides: dict[Category, list[str]]


class Classifier:
    """Reads one buyer message and says what it is about (see the module docstring)."""

    def __init__(
        self,
        rules: Rules,
        segmenter: Segmenter,
        converter: ScriptConverter,
        learned: Mapping[str, LearnedWeights] | None = None,
        *,
        model_version: int | None = None,
        shop_revision: int = 0,
    ) -> None:
        self.rules = rules
        self.segmenter = segmenter
        self.converter = converter
        self.learned: Mapping[str, LearnedWeights] = dict(learned or {})
        # Stamped on every verdict: the shop model version and shop revision this was built at.
        self.model_version = model_version
        self.shop_revision = shop_revision

    def rebuilt(
        self,
        rules: Rules,
        learned: Mapping[str, LearnedWeights],
        *,
        model_version: int | None,
        shop_revision: int,
    ) -> Classifier:
        """A classifier with other rules and weights, sharing this one's segmenter and converter."""
        return Classifier(
            rules,
            self.segmenter,
            self.converter,
            learned,
            model_version=model_version,
            shop_revision=shop_revision,
        )

    def normalize(self, text: str) -> NormalizedText:
        """The normalised form of `text` this classifier matches against."""
        return normalize(text, self.converter, self.rules.dialect)

    def classify(self, text: str) -> Classification:
        """Category, confidence, flags, explaining keywords, entities and language of `text`."""
        return self.classify_normalized(self.normalize(text))

    def read(self, normalized: NormalizedText) -> Reading:
        """Run the hand rules over a normalised message (phrases, tally, scores, extortion)."""
        rules = self.rules
        matched_text = normalized.text
        bounds: TokenBounds | None = None
        if normalized.language is not Language.EN and rules.token_boundary_max_len > 0:
            bounds = TokenBounds(self.segmenter, matched_text)
        matches = find_phrases(matched_text, rules, bounds)
        tally = _tally(matches, rules, matched_text)
        _signal_flags(normalized, rules, tally.flags)
        entities = extract_entities(normalized.plain)
        flags = frozenset(
            flag for flag, score in tally.flags.items() if score >= rules.flag_threshold
        )
        # A question that names a problem of its own ("拆封了还能退货吗") is about that problem;
        # a question with topics or weak hints at most gets the inquiry bonus.
        asks = is_question(matched_text, rules)
        extortion = _is_extortion(
            tally,
            matched_text,
            entities.amounts,
            asks or (normalized.language is Language.EN and "?" in matched_text),
            rules,
        )
        scores = self._weighted(tally, asks and not _has_own_evidence(tally, rules))
        # A question that only names a topic stays a question: on a tie with a category that
        # has nothing but topic words ("是京东物流吗"), inquiry wins.
        preferred = Category.INQUIRY if asks else None
        ranked = sorted(
            scores.items(),
            key=lambda item: (
                -item[1],
                preferred is not None and item[0] is not preferred and _topic_only(tally, item[0]),
                rules.tie_rank[item[0]],
            ),
        )
        overrides = _overrides(matches, rules)
        return Reading(
            normalized,
            bounds,
            tally,
            entities,
            flags,
            extortion,
            asks,
            scores,
            ranked,
            overrides,
        )

    def rule_decision(self, reading: Reading) -> Category:
        """The category the hand rules alone would choose."""
        if reading.extortion:
            return Category.EXTORTION
        ranked = reading.ranked
        if not ranked or ranked[0][1] < self.rules.category_threshold:
            return self.rules.fallback
        return ranked[0][0]

    def features(self, normalized: NormalizedText) -> dict[str, float]:
        """The learned model's features of a message (the same at training and run time)."""
        return self._features(self.read(normalized))

    def _features(self, reading: Reading) -> dict[str, float]:
        tally = reading.tally
        view = RuleView(
            scores=reading.scores,
            decision=self.rule_decision(reading),
            flags=tally.flags,
            question=reading.question,
            negated=bool(tally.negated),
            condition=bool(tally.conditional),
            extortion_roles=frozenset(tally.extortion),
            extortion=reading.extortion,
            amount=bool(reading.entities.amounts),
            order=bool(reading.entities.order_ids),
        )
        normalized = reading.normalized
        if normalized.language is Language.EN:
            return english_features(normalized.text, view)
        tokens = (
            reading.bounds.tokens()
            if reading.bounds is not None
            else self.segmenter.cut(normalized.text)
        )
        return chinese_features(normalized.text, tokens, view)

    def classify_normalized(self, normalized: NormalizedText) -> Classification:
        """Classify an already normalised message."""
        verdict = self._decide(normalized)
        if self.model_version is None and not self.shop_revision:
            return verdict
        return replace(verdict, model_version=self.model_version, shop_revision=self.shop_revision)

    def _decide(self, normalized: NormalizedText) -> Classification:
        reading = self.read(normalized)
        if reading.overrides:  # the shop's own word is final
            return self._override(reading)
        if reading.extortion:
            return self._extortion(reading)
        model = self.learned.get(language_key(normalized.language))
        if model is not None:
            return self._learned(reading, model)
        return self._by_rules(reading)

    def _extortion(self, reading: Reading) -> Classification:
        words = tuple(dict.fromkeys(reading.tally.extortion_words))
        return Classification(
            category=Category.EXTORTION,
            confidence=0.9 if len(words) >= 2 else 0.75,
            flags=reading.flags | self.rules.extortion_flags,
            keywords=words,
            entities=reading.entities,
            needs_human=False,
            language=reading.normalized.language,
        )

    def _override(self, reading: Reading) -> Classification:
        """A shop-written phrase marked as an override decides the category."""
        weights = {
            category: sum(
                weight
                for word in dict.fromkeys(words)
                for target, weight in self.rules.phrases[word].override
                if target is category
            )
            for category, words in reading.overrides.items()
        }
        category = max(weights, key=lambda c: (weights[c], -self.rules.tie_rank[c]))
        return Classification(
            category=category,
            confidence=0.95,
            flags=reading.flags,
            keywords=tuple(dict.fromkeys(reading.overrides[category])),
            entities=reading.entities,
            needs_human=False,
            language=reading.normalized.language,
        )

    def _learned(self, reading: Reading, model: LearnedWeights) -> Classification:
        features = self._features(reading)
        prediction = model.predict(features, reading.flags)
        if prediction.category is Category.EXTORTION and not _demands(
            reading.tally, reading.normalized.text, reading.entities.amounts, self.rules
        ):
            # Extortion is a demand for a benefit: without one, the model's runner-up stands.
            prediction = model.without_category(prediction, features, reading.flags)
        flags = set(prediction.flags)
        if prediction.category is Category.EXTORTION:
            flags |= self.rules.extortion_flags
        keywords = _explain(prediction.pushes, reading.tally.keywords.get(prediction.category, []))
        confidence = round(prediction.probability, 3)
        return Classification(
            category=prediction.category,
            confidence=confidence,
            flags=frozenset(flags),
            keywords=keywords,
            entities=reading.entities,
            needs_human=confidence < model.needs_human_below,
            language=reading.normalized.language,
        )

    def _by_rules(self, reading: Reading) -> Classification:
        rules = self.rules
        ranked = reading.ranked
        if not ranked or ranked[0][1] < rules.category_threshold:
            return Classification(
                category=rules.fallback,
                confidence=rules.fallback_confidence,
                flags=reading.flags,
                keywords=tuple(reading.tally.keywords.get(rules.fallback, ())),
                entities=reading.entities,
                needs_human=rules.fallback_confidence < rules.min_confidence,
                language=reading.normalized.language,
            )
        category, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = _confidence(best, second)
        tie = second > 0 and best - second < rules.tie_margin
        return Classification(
            category=category,
            confidence=confidence,
            flags=reading.flags,
            keywords=tuple(reading.tally.keywords.get(category, ())),
            entities=reading.entities,
            needs_human=tie or confidence < rules.min_confidence,
            language=reading.normalized.language,
        )

    def _weighted(self, tally: _Tally, question: bool) -> dict[Category, float]:
        """Topic words yield to real evidence, and the cause beats the remedy.

        Topic words ("物流", "快递员", "发货") say what the message is about but not what went
        wrong: they count in full only when no other category (bar `topic_keeps_against`) has
        evidence of its own. A question adds `question_bonus` to inquiry. Remedy categories count
        for little once a cause is present (own-cause phrases excepted); whether a cause is
        present is judged on the scores before topic words yield.
        """
        rules = self.rules
        scores = dict(tally.categories)
        raw = dict(scores)
        for category, score in tally.topic.items():
            raw[category] = raw.get(category, 0.0) + score
        for category, score in tally.topic.items():
            other = any(
                value >= rules.category_threshold
                for key, value in tally.categories.items()
                if key is not category and key not in rules.topic_keeps_against
            ) or any(key is not category for key in tally.own_cause)
            factor = rules.topic_factor if other else 1.0
            scores[category] = scores.get(category, 0.0) + score * factor
        if question and rules.question_bonus:
            scores[Category.INQUIRY] = scores.get(Category.INQUIRY, 0.0) + rules.question_bonus
        cause = max(
            (score for category, score in raw.items() if category not in rules.remedies),
            default=0.0,
        )
        factor = rules.remedy_factor if cause >= rules.cause_threshold else 1.0
        weighted = {
            category: score * factor if category in rules.remedies else score
            for category, score in scores.items()
        }
        for category, score in tally.own_cause.items():
            weighted[category] = weighted.get(category, 0.0) + score
        return weighted


def _overrides(matches: Sequence[Match], rules: Rules) -> dict[Category, list[str]]:
    """Categories named by override phrases that matched, not negated nor in a condition."""
    found: dict[Category, list[str]] = {}
    for match in matches:
        rule = rules.phrases[match.phrase]
        if not rule.override or match.negated or match.hypothetical:
            continue
        for category, _weight in rule.override:
            found.setdefault(category, []).append(match.phrase)
    return found


def _explain(pushes: Sequence[tuple[str, float]], rule_words: Sequence[str]) -> tuple[str, ...]:
    """The features that decided, strongest first, as words; a rule feature shows its phrases."""
    words: list[str] = []
    for name, _push in pushes[:8]:
        if name.startswith(("r:", "rtop:")):
            words.extend(rule_words)
        elif name.startswith(("w:", "c:", "b:")):
            words.append(display_name(name))
    return tuple(dict.fromkeys(word for word in words if word and not word.startswith("<")))[:6]


def _topic_only(tally: _Tally, category: Category) -> bool:
    """True when the category's evidence is topic words only."""
    return category not in tally.categories and category not in tally.own_cause


def _has_own_evidence(tally: _Tally, rules: Rules) -> bool:
    """True when a category other than inquiry scores `cause_threshold` from non-topic phrases."""
    return _evidence_beyond(tally, rules, frozenset({Category.INQUIRY}))


def _evidence_beyond(tally: _Tally, rules: Rules, excluded: frozenset[Category]) -> bool:
    """True when a category outside `excluded` scores `cause_threshold` from non-topic phrases."""
    return any(
        score >= rules.cause_threshold
        for category, score in tally.categories.items()
        if category not in excluded
    )


def is_question(text: str, rules: Rules) -> bool:
    """True when the normalised text asks something (a marker such as "吗", "请问", "能否")."""
    return any(marker in text for marker in rules.question_markers)
