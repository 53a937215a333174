"""Scoring phrase matches: per-category and per-flag tallies, signal flags, topic words
yielding to evidence and the cause beating the remedy (step 4 of `bot.core.classify`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.keyword_rules import ExtortionRole, PhraseRule, Rules
from bot.core.normalize import NormalizedText
from bot.core.phrase_match import PUNCTUATION, Match, is_latin
from bot.core.types import Category, Flag


@dataclass(slots=True)
class Tally:
    """What the matched phrases add up to, before topic words and remedies are weighed."""

    categories: dict[Category, float] = field(default_factory=dict)
    own_cause: dict[Category, float] = field(default_factory=dict)
    topic: dict[Category, float] = field(default_factory=dict)
    flags: dict[Flag, float] = field(default_factory=dict)
    keywords: dict[Category, list[str]] = field(default_factory=dict)
    extortion: set[str] = field(default_factory=set)
    extortion_words: list[str] = field(default_factory=list)
    withheld: set[str] = field(default_factory=set)  # levers withheld: "我就不投诉了"
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
            latin = is_latin(match.phrase) or is_latin(other.phrase)
            if neighbour < index:
                gap = text[other.end : match.start]
                limit = rules.object_gap_before_en if latin else rules.object_gap_before_zh
            else:
                gap = text[match.end : other.start]
                limit = rules.object_gap_after_en if latin else rules.object_gap_after_zh
            if len(gap) > limit or any(char in PUNCTUATION for char in gap):
                continue
            if best_gap < 0 or len(gap) < best_gap:
                best_gap = len(gap)
                owners[index] = rule
    return owners


def tally_matches(matches: Sequence[Match], rules: Rules, text: str) -> Tally:
    """Sum the matches' categories, flags and extortion roles, each phrase once per polarity."""
    tally = Tally()
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
            tally.withheld |= rule.extortion & {ExtortionRole.COMPLAINT, ExtortionRole.REVIEW}
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


def add_signal_flags(normalized: NormalizedText, rules: Rules, flags: dict[Flag, float]) -> None:
    """Add flag scores for runs of ! or ?, angry emoji and shouting to `flags`."""
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


def weighted_scores(tally: Tally, question: bool, rules: Rules) -> dict[Category, float]:
    """Topic words yield to real evidence, and the cause beats the remedy.

    Topic words ("物流", "快递员", "发货") say what the message is about but not what went
    wrong: they count in full only when no other category (bar `topic_keeps_against`) has
    evidence of its own. A question adds `question_bonus` to inquiry. Remedy categories count
    for little once a cause is present (own-cause phrases excepted); whether a cause is
    present is judged on the scores before topic words yield.
    """
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


def matched_overrides(matches: Sequence[Match], rules: Rules) -> dict[Category, list[str]]:
    """Categories named by override phrases that matched, not negated nor in a condition."""
    found: dict[Category, list[str]] = {}
    for match in matches:
        rule = rules.phrases[match.phrase]
        if not rule.override or match.negated or match.hypothetical:
            continue
        for category, _weight in rule.override:
            found.setdefault(category, []).append(match.phrase)
    return found


def topic_only(tally: Tally, category: Category) -> bool:
    """True when the category's evidence is topic words only."""
    return category not in tally.categories and category not in tally.own_cause


def has_own_evidence(tally: Tally, rules: Rules) -> bool:
    """True when a category other than inquiry scores `cause_threshold` from non-topic phrases."""
    return evidence_beyond(tally, rules, frozenset({Category.INQUIRY}))


def evidence_beyond(tally: Tally, rules: Rules, excluded: frozenset[Category]) -> bool:
    """True when a category outside `excluded` scores `cause_threshold` from non-topic phrases."""
    return any(
        score >= rules.cause_threshold
        for category, score in tally.categories.items()
        if category not in excluded
    )


def is_question(text: str, rules: Rules) -> bool:
    """True when the normalised text asks something (a marker such as "吗", "请问", "能否")."""
    return any(marker in text for marker in rules.question_markers)
