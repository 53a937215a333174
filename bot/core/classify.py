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

The rules themselves are `bot.core.keyword_rules`; step 2 and 3 live in `bot.core.phrase_match`,
step 4 in `bot.core.scoring` and `bot.core.extortion`; this module reads and decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from math import exp

from bot.core.entities import extract_entities
from bot.core.extortion import demands_benefit, is_extortion, linked, tied_by_condition
from bot.core.features import RuleView, chinese_features, english_features
from bot.core.keyword_rules import ExtortionRole, Rules
from bot.core.learned import LearnedWeights, distinct_words, explain, language_key, message_length
from bot.core.normalize import NormalizedText, ScriptConverter, normalize
from bot.core.phrase_match import Segmenter, TokenBounds, find_phrases
from bot.core.scoring import (
    Tally,
    add_signal_flags,
    has_own_evidence,
    is_question,
    matched_overrides,
    tally_matches,
    topic_only,
    weighted_scores,
)
from bot.core.threats import (
    THREAT_FLAGS,
    add_intent_threats,
    extortion_threats,
)
from bot.core.types import Category, Classification, Entities, Flag, Language
from bot.core.urgency import add_deadline_urgency


def _confidence(best: float, second: float) -> float:
    strength = 1.0 - exp(-best)
    margin = (best - second) / best if best > 0 else 0.0
    return round(strength * (0.5 + 0.5 * margin), 3)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the hand rules made of one normalised message, before any decision."""

    normalized: NormalizedText
    bounds: TokenBounds | None
    tally: Tally
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
        tally = tally_matches(matches, rules, matched_text)
        add_signal_flags(normalized, rules, tally.flags)
        if normalized.language is Language.EN:
            add_intent_threats(matched_text, rules, tally.flags)
            add_deadline_urgency(matched_text, rules, tally.flags)
        entities = extract_entities(normalized.plain)
        flags = frozenset(
            flag for flag, score in tally.flags.items() if score >= rules.flag_threshold
        )
        # A question that names a problem of its own ("拆封了还能退货吗") is about that problem;
        # a question with topics or weak hints at most gets the inquiry bonus.
        asks = is_question(matched_text, rules)
        extortion = is_extortion(
            tally,
            matched_text,
            entities.amounts,
            asks or (normalized.language is Language.EN and "?" in matched_text),
            rules,
        )
        scores = weighted_scores(tally, asks and not has_own_evidence(tally, rules), rules)
        # A question that only names a topic stays a question: on a tie with a category that
        # has nothing but topic words ("是京东物流吗"), inquiry wins.
        preferred = Category.INQUIRY if asks else None
        ranked = sorted(
            scores.items(),
            key=lambda item: (
                -item[1],
                preferred is not None and item[0] is not preferred and topic_only(tally, item[0]),
                rules.tie_rank[item[0]],
            ),
        )
        overrides = matched_overrides(matches, rules)
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
        reading = self.read(normalized)
        return self._features(reading, self._tokens(reading))

    def _features(self, reading: Reading, tokens: Sequence[str] | None) -> dict[str, float]:
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
        if tokens is None:
            return english_features(normalized.text, view)
        return chinese_features(normalized.text, tokens, view)

    def _tokens(self, reading: Reading) -> Sequence[str] | None:
        """A Chinese message's jieba tokens (segmented once when the rules needed them too)."""
        if reading.normalized.language is Language.EN:
            return None
        if reading.bounds is not None:
            return reading.bounds.tokens()
        return self.segmenter.cut(reading.normalized.text)

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
            flags=extortion_threats(
                reading.tally, reading.flags, reading.normalized.text, self.rules, reading.flags
            ),
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
        tokens = self._tokens(reading)
        features = self._features(reading, tokens)
        prediction = model.predict(features, reading.flags)
        if prediction.category is Category.EXTORTION and not demands_benefit(
            reading.tally,
            reading.normalized.text,
            reading.entities.amounts,
            self.rules,
            asks=reading.question,
        ):
            # Extortion is a demand for a benefit: without one, the model's runner-up stands.
            prediction = model.without_category(prediction, features, reading.flags)
        flags = set(prediction.flags)
        if linked(reading.tally, reading.normalized.text, self.rules):
            # A threat the rules read, tied to what it is for, is a threat by structure,
            # whatever a flag model learned from reviews that say 差评 as their verdict.
            flags |= reading.flags & THREAT_FLAGS
        if prediction.category is Category.EXTORTION:
            flags = set(
                extortion_threats(
                    reading.tally, reading.flags, reading.normalized.text, self.rules, flags
                )
            )
        category = prediction.category
        rule_words = reading.tally.keywords.get(category, [])
        keywords = explain(prediction.pushes, rule_words, self.rules.quiet_words, tokens)
        probability = prediction.probability
        cause = _threatened_over(category, reading, self.rules)
        if cause is not None:
            # The cause beats the threat: "arrived smashed, fix it or I leave a bad review"
            # is about the breakage (the threat stays a flag).
            # Its confidence is the model's for "the problem or the threat about it".
            labels = model.categories.labels
            probability = sum(
                prediction.probabilities[labels.index(c.value)] for c in (cause, category)
            )
            category = cause
            keywords = distinct_words(reading.tally.keywords.get(cause, []))[:6]
            flags |= threat_flags(reading)
        # The unrounded probability meets the threshold, as the out-of-fold ones did in training.
        threshold = model.needs_human_at(message_length(reading.normalized.text))
        return Classification(
            category=category,
            confidence=round(probability, 3),
            flags=frozenset(flags),
            keywords=keywords,
            entities=reading.entities,
            needs_human=probability < threshold,
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
                keywords=distinct_words(reading.tally.keywords.get(rules.fallback, ())),
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
            keywords=distinct_words(reading.tally.keywords.get(category, ())),
            entities=reading.entities,
            needs_human=tie or confidence < rules.min_confidence,
            language=reading.normalized.language,
        )


THREATS = frozenset({Category.BAD_REVIEW, Category.COMPLAINT})


def threat_flags(reading: Reading) -> frozenset[Flag]:
    """The threats a message makes: the rules' threat flags and the levers it names."""
    found = reading.flags & THREAT_FLAGS
    roles = reading.tally.extortion
    if ExtortionRole.REVIEW in roles:
        found |= {Flag.THREATENS_REVIEW}
    if ExtortionRole.COMPLAINT in roles:
        found |= {Flag.THREATENS_COMPLAINT}
    return found


def _threatened_over(category: Category, reading: Reading, rules: Rules) -> Category | None:
    """The cause a conditional review or complaint threat is about ("fix it or I …").

    The taxonomy's rule: bad_review and complaint are the category only when they are the
    whole topic; a threat made to get a problem fixed is about the problem (the threat stays a
    flag). Of the causes whose own phrases score `cause_threshold`, the strongest wins.
    """
    if category not in THREATS or not threat_flags(reading):
        return None
    # A long review that tells its story with a condition in it ("要不是我天天催…") makes no
    # threat to get something fixed: as for extortion's short links, only short messages.
    if not _short(reading.normalized, rules) or not tied_by_condition(reading.tally):
        return None
    causes = {
        cause: score
        for cause, score in reading.tally.categories.items()
        if score >= rules.cause_threshold
        and cause not in rules.remedies
        and cause is not Category.EXTORTION
    }
    if not causes:
        return None
    return max(causes, key=lambda cause: (causes[cause], -rules.tie_rank[cause]))


def _short(normalized: NormalizedText, rules: Rules) -> bool:
    """Within `link_max_length` characters (English: a quarter as many words)."""
    if normalized.language is Language.EN:
        return len(normalized.text.split()) * 4 <= rules.link_max_length
    return len(normalized.text) <= rules.link_max_length
