"""The threats an extortion makes: the review or complaint it holds over the shop."""

from __future__ import annotations

from collections.abc import Sequence, Set

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


def extortion_threats(
    tally: Tally, rule_flags: Set[Flag], text: str, rules: Rules, flags: Set[Flag]
) -> frozenset[Flag]:
    """An extortion's flags (`flags` as decided, and its demand's): the lever a demand pulls is
    a threat ("给我50，不然差评"), unless it is one already made and offered back as the price
    ("差评已经发了，转我88就删"): then only the demand stands."""
    found = set(flags) | rules.extortion_flags | lever_threats(tally, rule_flags, text, rules)
    return frozenset(found - withdrawn_threats(text, rules))


def withdrawn_threats(text: str, rules: Rules) -> frozenset[Flag]:
    """The levers a demand offers to take back and threatens no more: a review or complaint
    already made is the price ("差评已经发了，转我88就删", "I'll close the dispute if you pay"),
    unless a refusal brings a new threat ("不然", "不给就", "otherwise"). A withdrawal refused
    ("差评不会删", "I won't remove it") is no withdrawal: the threat stands."""
    if any(has_word(text, word, whole=True) for word in rules.new_threats):
        return frozenset()
    found: set[Flag] = set()
    reviews, complaints = rules.review_levers, rules.complaint_levers
    if withdrawal_near(text, rules.review_withdrawals, reviews, rules, rivals=complaints):
        found.add(Flag.THREATENS_REVIEW)
    if withdrawal_near(text, rules.complaint_withdrawals, (), rules) or withdrawal_near(
        text, rules.withdraw_verbs, complaints, rules, rivals=reviews
    ):
        found.add(Flag.THREATENS_COMPLAINT)
    return frozenset(found)


def withdrawal_near(
    text: str,
    withdrawals: Sequence[str],
    levers: Sequence[str],
    rules: Rules,
    *,
    rivals: Sequence[str] = (),
) -> bool:
    """A withdrawal (删, take down) said of one of `levers` close by — closer than any of
    `rivals` ("撤差评，也不去投诉了" takes the review back, not the complaint); none needed when
    `levers` is empty (the withdrawal names its lever: 撤诉); and not refused (不删, won't)."""
    for word in withdrawals:
        latin = word.isascii()
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            whole = not latin or not (word_char_at(text, start - 1) or word_char_at(text, end))
            if whole and not _refused(text, start, latin, rules):
                if not levers:
                    return True
                lo, hi = _reach(text, start, end, latin)
                own = _distance(text, lo, hi, start, end, levers)
                other = _distance(text, lo, hi, start, end, rivals)
                if own is not None and (other is None or own <= other):
                    return True
            start = text.find(word, start + 1)
    return False


def _reach(text: str, start: int, end: int, latin: bool) -> tuple[int, int]:
    """Where a withdrawal's lever may stand: in English its own clause ("close the PayPal
    dispute", "that 1-star comes down"), in Chinese a few characters on either side, across a
    comma ("差评已经发了，想删的话")."""
    if not latin:
        return max(0, start - 16), end + 16
    rights = [found for mark in _CLAUSE_ENDS if (found := text.find(mark, end)) >= 0]
    return max(_clause_start(text, start), start - 40), min([*rights, end + 40])


def _clause_start(text: str, start: int) -> int:
    """Where the clause holding `start` begins: just after the last clause end before it."""
    return max(text.rfind(mark, 0, start) for mark in _CLAUSE_ENDS) + 1


def _distance(
    text: str, lo: int, hi: int, start: int, end: int, levers: Sequence[str]
) -> int | None:
    """Characters between [start, end) and the nearest lever inside [lo, hi) (None: none)."""
    best: int | None = None
    for lever in levers:
        found = text.find(lever, lo, hi)
        while found >= 0:
            if not lever.isascii() or not word_char_at(text, found - 1):
                gap = max(start - (found + len(lever)), found - end, 0)
                best = gap if best is None else min(best, gap)
            found = text.find(lever, found + 1, hi)
    return best


_CLAUSE_ENDS = (".", "!", "?", ";", ",", "\n")


def _refused(text: str, start: int, latin: bool, rules: Rules) -> bool:
    """A refusal just before the withdrawal, in its clause: 不删, 不会把差评删掉, won't remove.
    A one-character refusal (不, 没) counts only right before it: "不然我就删" is no refusal."""
    clause = text[max(start - (16 if latin else 8), _clause_start(text, start)) : start]
    return any(
        has_word(clause if len(word) > 1 else clause[-2:], word, whole=True)
        for word in rules.withdrawal_refusals
    )


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
