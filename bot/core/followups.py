"""Follow-ups: whether an agent's reply promises something (so Kefu reminds them), and when."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT = "default"  # the hours of a category the phrasebook names no hours for
FALLBACK_CATEGORY = "inquiry"
MOVED_BY = timedelta(days=1)  # "later" on a scheduled follow-up


@dataclass(frozen=True, slots=True)
class FollowUpRule:
    """The phrasebook's follow-up rule: the words that promise a remedy, and hours by category."""

    remedy_words: tuple[str, ...]
    hours: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, remedy_words: Iterable[str], hours: Mapping[str, float]) -> FollowUpRule:
        """A rule from the phrasebook's check rules and follow-up hours."""
        return cls(tuple(remedy_words), dict(hours))


def promises_follow_up(text: str, rule: FollowUpRule) -> bool:
    """Whether a reply promises a remedy or compensation (case-insensitive substring)."""
    folded = text.casefold()
    return any(word in folded for word in rule.remedy_words)


def follow_up_due(*, now: datetime, category: str | None, rule: FollowUpRule) -> datetime:
    """When a promise made `now` on a case of `category` is followed up."""
    hours = rule.hours.get(category or FALLBACK_CATEGORY, rule.hours.get(DEFAULT, 24.0))
    return now + timedelta(hours=hours)


def follow_up_key(card_id: int) -> str:
    """One follow-up per card, however many replies on it promise something."""
    return f"follow_up:{card_id}"
