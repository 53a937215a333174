"""The core's vocabulary: categories, flags, and the frozen records passed between layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """What the buyer needs solved (ids from the shared taxonomy)."""

    NOT_RECEIVED = "not_received"
    SHIPPING_DELAY = "shipping_delay"
    DAMAGED_MISSING = "damaged_missing"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    QUALITY = "quality"
    RETURN_REFUND = "return_refund"
    BAD_REVIEW = "bad_review"
    EXTORTION = "extortion"
    COMPLAINT = "complaint"
    INVOICE = "invoice"
    INQUIRY = "inquiry"


class Flag(StrEnum):
    """How urgent or dangerous a message is (ids from the shared taxonomy)."""

    ANGRY = "angry"
    THREATENS_REVIEW = "threatens_review"
    THREATENS_COMPLAINT = "threatens_complaint"
    WANTS_COMPENSATION = "wants_compensation"
    URGENT = "urgent"


class Language(StrEnum):
    """The scripts and languages Kefu reads and writes."""

    ZH_HANS = "zh-Hans"
    ZH_HANT = "zh-Hant"
    EN = "en"


class Principle(StrEnum):
    """The parts of a good after-sale reply, in the order they are said."""

    ACKNOWLEDGE = "acknowledge"
    APOLOGISE = "apologise"
    EXPLAIN = "explain"
    REMEDY = "remedy"
    COMPENSATE = "compensate"
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True, slots=True)
class Entities:
    """Facts pulled out of a message: order, tracking and phone numbers, amounts."""

    order_ids: tuple[str, ...] = ()
    tracking_numbers: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        """A JSON-ready mapping of the non-empty entity lists."""
        pairs = {
            "order_ids": self.order_ids,
            "tracking_numbers": self.tracking_numbers,
            "amounts": self.amounts,
            "phones": self.phones,
        }
        return {name: list(values) for name, values in pairs.items() if values}


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one buyer message, with the keywords that explain it."""

    category: Category
    confidence: float
    flags: frozenset[Flag] = frozenset()
    keywords: tuple[str, ...] = ()
    entities: Entities = field(default_factory=Entities)
    needs_human: bool = False
    language: Language = Language.ZH_HANS
    # What made the verdict: the shop's model version (None: the shipped weights) and the
    # revision of the shop's words and model the classifier was built at (0: none yet).
    model_version: int | None = None
    shop_revision: int = 0

    def sorted_flags(self) -> list[str]:
        """Flag ids in a stable order."""
        return sorted(flag.value for flag in self.flags)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One reply an agent can send with a tap; `kind` says which style it is."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem the reply check found in an agent's draft; `detail` is the offending word."""

    rule: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Playbook:
    """An agent's checklist for one category: before and after a formal dispute, evidence to keep."""

    before_dispute: tuple[str, ...]
    after_dispute: tuple[str, ...]
    evidence: tuple[str, ...]
