"""The threats an extortion makes: the review or complaint it holds over the shop."""

from __future__ import annotations

from collections.abc import Set

from bot.core.keyword_rules import ExtortionRole, Rules
from bot.core.phrase_match import word_char_at
from bot.core.scoring import Tally
from bot.core.types import Flag

THREAT_FLAGS = frozenset({Flag.THREATENS_REVIEW, Flag.THREATENS_COMPLAINT})


def lever_threats(tally: Tally, flags: Set[Flag], text: str, rules: Rules) -> frozenset[Flag]:
    """The rules' threat flags and the levers the demand pulls, even withheld ("补偿我就不投诉
    了"); a good review promised for the benefit, no bad one named, threatens no review."""
    found = set(flags & THREAT_FLAGS)
    levers = tally.extortion | tally.withheld
    if ExtortionRole.COMPLAINT in levers or any(has_word(text, w) for w in rules.complaint_levers):
        found.add(Flag.THREATENS_COMPLAINT)
    reviews = [word for word in rules.review_levers if has_word(text, word)]
    if ExtortionRole.REVIEW in tally.withheld or (reviews and not _promised(reviews, text, rules)):
        found.add(Flag.THREATENS_REVIEW)
    return frozenset(found)


def withdrawn_threats(text: str, rules: Rules) -> frozenset[Flag]:
    """The levers a demand offers to take back and threatens no more: a review or complaint
    already made is the price ("差评已经发了，转我88就删", "I'll close the dispute if you pay"),
    unless a refusal brings a new threat ("不然", "otherwise")."""
    if any(has_word(text, word) for word in rules.new_threats):
        return frozenset()
    found: set[Flag] = set()
    if any(has_word(text, word) for word in rules.review_withdrawals):
        found.add(Flag.THREATENS_REVIEW)
    if any(has_word(text, word) for word in rules.complaint_withdrawals):
        found.add(Flag.THREATENS_COMPLAINT)
    return frozenset(found)


def _promised(reviews: list[str], text: str, rules: Rules) -> bool:
    """A good review offered ("给我返10元我就给五星"), no bad one named and none changed."""
    good = rules.promised_reviews
    if not any(has_word(text, word) for word in good) or any(
        has_word(text, word, whole=True) for word in rules.review_changes
    ):
        return False
    return all(word in rules.neutral_reviews or any(g in word for g in good) for word in reviews)


def add_intent_threats(text: str, rules: Rules, flags: dict[Flag, float]) -> None:
    """A review or complaint lever with an intent ("I'll", "or I", "unless") is a threat by
    structure: "if it's not fixed by Monday I'll be leaving a review" (Latin text). A long
    review that says "I will" somewhere is telling a story: only messages of at most
    `link_max_length` / 2 words are read so."""
    if len(text.split()) * 4 > rules.link_max_length * 2 or not any(
        has_word(text, intent, whole=True) for intent in rules.threat_intents
    ):
        return
    for levers, flag in (
        (rules.review_levers, Flag.THREATENS_REVIEW),
        (rules.complaint_levers, Flag.THREATENS_COMPLAINT),
    ):
        found = [word for word in levers if word.isascii() and has_word(text, word)]
        if found and not (flag is Flag.THREATENS_REVIEW and _promised(found, text, rules)):
            flags[flag] = max(flags.get(flag, 0.0), rules.flag_threshold)


def has_word(text: str, word: str, *, whole: bool = False) -> bool:
    """`word` in `text`; a Latin word only from a word start ("review" in "reviews", not in
    "preview"), and with `whole` only as a whole word ("edit", not in "credit"; "or i" not in
    "or it")."""
    if not word.isascii():
        return word in text
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if not word_char_at(text, start - 1) and not (whole and word_char_at(text, end)):
            return True
        start = text.find(word, start + 1)
    return False
