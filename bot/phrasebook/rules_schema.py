"""The schema of a keyword rules file, `phrasebook/rules/*.yaml` (see phrasebook/README.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from bot.core.types import Category, Flag
from bot.phrasebook.yamlfile import YamlDocument, validation_error

Weight = StrictFloat | StrictInt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PunctuationModel(_Strict):
    """A run of ! or ? that adds to a flag (`signals.punctuation`)."""

    min_run: StrictInt = Field(ge=2)
    flag: Flag
    weight: Weight = Field(ge=0)


class EmojiModel(_Strict):
    """Angry emoji and what they add to the angry flag (`signals.angry_emoji`)."""

    weight: Weight = Field(ge=0)
    emoji: list[str]


class ShoutingModel(_Strict):
    """Words in capitals that add to the angry flag (`signals.shouting`)."""

    min_words: StrictInt = Field(ge=1)
    weight: Weight = Field(ge=0)


class SignalsModel(_Strict):
    """The `signals` section: flags from punctuation, emoji and shouting."""

    punctuation: list[PunctuationModel] = Field(default_factory=list)
    angry_emoji: EmojiModel | None = None
    shouting: ShoutingModel | None = None


class SettingsModel(_Strict):
    """The `settings` section: the classifier's thresholds, factors and orders."""

    remedies: list[Category] = Field(default_factory=list)
    remedy_factor: Weight = Field(default=0.3, ge=0, le=1)
    cause_threshold: Weight = Field(default=1.0, gt=0)
    flag_threshold: Weight = Field(default=1.0, gt=0)
    category_threshold: Weight = Field(default=0.5, gt=0)
    min_confidence: Weight = Field(default=0.4, ge=0, le=1)
    tie_margin: Weight = Field(default=0.25, ge=0)
    negation_window_zh: StrictInt = Field(default=2, ge=0)
    negation_window_en: StrictInt = Field(default=12, ge=0)
    token_boundary_max_len: StrictInt = Field(default=1, ge=0)
    negatable: list[Category] = Field(default_factory=list)
    will_keeps: list[Category] = Field(default_factory=list)
    tie_order: list[Category] = Field(default_factory=list)
    own_cause: list[str] = Field(default_factory=list)
    topic: list[str] = Field(default_factory=list)
    topic_factor: Weight = Field(default=1.0, ge=0, le=1)
    topic_keeps_against: list[Category] = Field(default_factory=list)
    question_markers: list[str] = Field(default_factory=list)
    question_bonus: Weight = Field(default=0.0, ge=0)
    hypothetical_factor: Weight = Field(default=1.0, ge=0, le=1)
    hypothetical_window: StrictInt = Field(default=20, ge=1)
    object_gap_before_zh: StrictInt = Field(default=4, ge=0)
    object_gap_after_zh: StrictInt = Field(default=1, ge=0)
    object_gap_before_en: StrictInt = Field(default=12, ge=0)
    object_gap_after_en: StrictInt = Field(default=6, ge=0)
    extortion_flags: list[Flag] = Field(default_factory=list)
    fallback_confidence: Weight = Field(default=0.3, ge=0, le=1)


class ExtortionModel(_Strict):
    """The `extortion` section: phrases by role, and the demand word lists."""

    direct: list[str] = Field(default_factory=list)
    benefit: list[str] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)
    complaint: list[str] = Field(default_factory=list)
    refund: list[str] = Field(default_factory=list)
    condition: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    demand_verbs: list[str] = Field(default_factory=list)
    counted_units: list[str] = Field(default_factory=list)
    paid_words: list[str] = Field(default_factory=list)
    paid_after: list[str] = Field(default_factory=list)
    promised_reviews: list[str] = Field(default_factory=list)
    neutral_reviews: list[str] = Field(default_factory=list)
    review_changes: list[str] = Field(default_factory=list)
    renounced: list[str] = Field(default_factory=list)
    review_withdrawals: list[str] = Field(default_factory=list)
    complaint_withdrawals: list[str] = Field(default_factory=list)
    withdraw_verbs: list[str] = Field(default_factory=list)
    new_threats: list[str] = Field(default_factory=list)
    withdrawal_refusals: list[str] = Field(default_factory=list)
    number_labels: list[str] = Field(default_factory=list)
    threat_intents: list[str] = Field(default_factory=list)
    urgent_times: list[str] = Field(default_factory=list)
    urgent_needs: list[str] = Field(default_factory=list)
    demand_gap: StrictInt | None = Field(default=None, ge=0, le=20)
    link_max_length: StrictInt | None = Field(default=None, ge=1)
    max_demand_digits: StrictInt | None = Field(default=None, ge=1, le=9)
    extortion_max_length: StrictInt | None = Field(default=None, ge=1)


# `extortion` sections whose words are looked up as substrings, and the Rules field each fills.
WORD_LISTS = {
    "links": "extortion_links",
    "demand_verbs": "demand_verbs",
    "counted_units": "counted_units",
    "paid_words": "paid_words",
    "paid_after": "paid_after",
    "promised_reviews": "promised_reviews",
    "neutral_reviews": "neutral_reviews",
    "review_changes": "review_changes",
    "renounced": "renounced",
    "review_withdrawals": "review_withdrawals",
    "complaint_withdrawals": "complaint_withdrawals",
    "withdraw_verbs": "withdraw_verbs",
    "new_threats": "new_threats",
    "withdrawal_refusals": "withdrawal_refusals",
    "number_labels": "number_labels",
    "threat_intents": "threat_intents",
    "urgent_times": "urgent_times",
    "urgent_needs": "urgent_needs",
}


class DialectModel(_Strict):
    """The `dialect` section: dialect forms folded to the standard ones."""

    folds: dict[str, str] = Field(default_factory=dict)


class ObjectModel(_Strict):
    """One `objects` entry: the object words and the categories they take over."""

    takes: list[Category] = Field(min_length=1)
    words: list[str] = Field(default_factory=list)


class RulesFileModel(_Strict):
    """Schema of one rules file (every section optional)."""

    categories: dict[Category, dict[str, Weight]] = Field(default_factory=dict)
    overrides: dict[Category, dict[str, Weight]] = Field(default_factory=dict)
    flags: dict[Flag, dict[str, Weight]] = Field(default_factory=dict)
    negation: list[str] = Field(default_factory=list)
    negation_of_will: list[str] = Field(default_factory=list)
    hypothetical: list[str] = Field(default_factory=list)
    neutral: list[str] = Field(default_factory=list)
    quiet_words: list[str] = Field(default_factory=list)
    extortion: ExtortionModel = Field(default_factory=ExtortionModel)
    objects: dict[Category, ObjectModel] = Field(default_factory=dict)
    signals: SignalsModel | None = None
    settings: SettingsModel | None = None
    dialect: DialectModel | None = None


def parse_rules_file(doc: YamlDocument) -> RulesFileModel:
    """The validated content of one rules file (an empty file has no sections)."""
    if doc.data is None:
        return RulesFileModel()
    if not isinstance(doc.data, dict):
        raise doc.error([], "a rules file must be a mapping of sections")
    try:
        return RulesFileModel.model_validate(doc.data)
    except ValidationError as exc:
        raise validation_error(doc, exc) from None
