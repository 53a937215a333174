"""The threats an extortion makes: the review or complaint it holds over the shop."""

from __future__ import annotations

from collections.abc import Set

from bot.core.keyword_rules import ExtortionRole, Rules
from bot.core.scoring import Tally
from bot.core.types import Flag

THREAT_FLAGS = frozenset({Flag.THREATENS_REVIEW, Flag.THREATENS_COMPLAINT})


def lever_threats(tally: Tally, flags: Set[Flag], text: str, rules: Rules) -> frozenset[Flag]:
    """The rules' threat flags and the levers the demand pulls, even withheld ("补偿我就不投诉
    了"); a good review promised for the benefit, no bad one named, threatens no review."""
    found = set(flags & THREAT_FLAGS)
    levers = tally.extortion | tally.withheld
    if ExtortionRole.COMPLAINT in levers or any(w in text for w in rules.complaint_levers):
        found.add(Flag.THREATENS_COMPLAINT)
    reviews = [word for word in rules.review_levers if word in text]
    if ExtortionRole.REVIEW in tally.withheld or (reviews and not _promised(reviews, text, rules)):
        found.add(Flag.THREATENS_REVIEW)
    return frozenset(found)


def _promised(reviews: list[str], text: str, rules: Rules) -> bool:
    """A good review offered ("给我返10元我就给五星"), no bad one named and none changed."""
    good = rules.promised_reviews
    if not any(word in text for word in good) or any(word in text for word in rules.review_changes):
        return False
    return all(word in rules.neutral_reviews or any(g in word for g in good) for word in reviews)
