"""Recognising extortion by its structure: a benefit demanded, tied to a review or complaint lever."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.keyword_rules import ExtortionRole, Rules
from bot.core.normalize import AMOUNT_MARK
from bot.core.phrase_match import word_char_at
from bot.core.scoring import Tally, evidence_beyond
from bot.core.threats import has_word, withdrawal_near
from bot.core.types import Flag


def is_extortion(tally: Tally, text: str, amounts: Sequence[str], asks: bool, rules: Rules) -> bool:
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
    priced = priced_review(tally, text, asks, rules)
    if priced:
        return True
    # A demand is put in a few words; a long review that mentions money, a refund and a review
    # is telling a story (the learned weights may still call it extortion, given a demand).
    if len(text) > rules.extortion_max_length or not demands_benefit(
        tally, text, amounts, rules, asks=asks, priced=priced
    ):
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
        or bool(tally.withheld)
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


def tied_by_condition(tally: Tally) -> bool:
    """True when a condition phrase ties a demand to a threat (不然, 否则, or else, or I'll …).

    Only the condition phrases count here, not the short links (就, then, if): "it broke then I
    left a bad review" tells a story, it makes no demand.
    """
    return ExtortionRole.CONDITION in tally.extortion


def linked(tally: Tally, text: str, rules: Rules) -> bool:
    """True when a condition phrase, or in a short message a short link (就, then, if), ties
    the message's parts together: "不处理就差评" is a threat, not a story."""
    if tied_by_condition(tally):
        return True
    return len(text) <= rules.link_max_length and any(
        _has_link(text, link) for link in rules.extortion_links
    )


def demands_benefit(
    tally: Tally,
    text: str,
    amounts: Sequence[str],
    rules: Rules,
    *,
    asks: bool = False,
    priced: bool | None = None,
) -> bool:
    """True when the message demands a benefit (see `is_extortion`) or says 差评师 / 私了.

    `priced`: `priced_review`'s answer when the caller has it already."""
    roles = tally.extortion
    if ExtortionRole.DIRECT in roles:
        return True
    demand = (
        ExtortionRole.BENEFIT in roles
        or (priced_review(tally, text, asks, rules) if priced is None else priced)
        or _demanded_amount(text, rules)
        or any(_owed(text, amount, rules) for amount in amounts)
        or (ExtortionRole.REFUND in roles and not _names_a_cause(tally, rules))
    )
    # "差评我写了，也不要你们赔什么": nothing is demanded (looked at only once a demand is seen).
    return demand and not renounces(tally, text, rules)


def priced_review(tally: Tally, text: str, asks: bool, rules: Rules) -> bool:
    """A bare sum beside a review taken down, in a short message with no question: "300，删差评",
    "$30 and the review's gone" name a price with no demand verb and no condition word."""
    if asks or "?" in text or len(text) > rules.link_max_length:
        return False
    marked = AMOUNT_MARK in text
    if not (marked or _ASCII_DIGIT.search(text)):
        return False  # the cheap checks first: this runs for every short message
    if not withdrawal_near(text, rules.review_withdrawals, rules.review_levers, rules):
        return False
    priced = any(
        (char == AMOUNT_MARK and _asked_sum(text, offset, rules))
        or (
            char.isascii()
            and char.isdigit()
            and not (offset and text[offset - 1].isdigit())
            and _is_money(text, offset, rules)
            and _asked_sum(text, offset, rules)
        )
        for offset, char in enumerate(text)
    )
    return priced and not renounces(tally, text, rules)


def renounces(tally: Tally, text: str, rules: Rules) -> bool:
    """The message says the buyer wants nothing ("差评我写了，也不要你们赔什么"): every benefit it
    names is inside what it renounces, and it asks no sum and threatens nothing on a refusal
    ("没别的要求，赔我200，不然差评" and "送我一个新的我就删差评，没其他要求" still demand)."""
    said = [word for word in rules.renounced if has_word(text, word, whole=True)]
    if not said:
        return False
    benefits = [
        word
        for word in tally.extortion_words
        if ExtortionRole.BENEFIT in rules.phrases[word].extortion
    ]
    return (
        all(any(word in renounced for renounced in said) for word in benefits)
        and not any(has_word(text, word, whole=True) for word in rules.new_threats)
        and not _demanded_amount(text, rules)
    )


def _asked_sum(text: str, offset: int, rules: Rules) -> bool:
    """The number at `offset` can be a price asked: not labelled as an order, phone or size
    number (尾号8823, order 5521, #1042), not a time or date (10:30, 2023-11-07), not paid
    ("花了200", "paid $40", "200块买的")."""
    end = offset + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    before = text[max(0, offset - 16) : offset].rstrip(" $¥￥£€")
    after = text[end : end + 8]
    if (before and before[-1] in _NUMBER_JOINERS) or (after and after[0] in _NUMBER_JOINERS):
        return False
    if after.startswith(rules.paid_after) or after[:2] in _ORDINALS:  # 200块买的, the 2nd
        return False
    return not any(_ends_with(before, word) for word in (*rules.number_labels, *rules.paid_words))


def _ends_with(before: str, word: str) -> bool:
    """`before` ends with `word` (a Latin one as a whole word), maybe one character before."""
    if not word.isascii():
        return before.endswith(word) or before[:-1].endswith(word)
    trimmed = before.rstrip()
    start = len(trimmed) - len(word)
    return trimmed.endswith(word) and not word_char_at(trimmed, start - 1)


_NUMBER_JOINERS = frozenset("#:-/.")
_ASCII_DIGIT = re.compile("[0-9]")
_ORDINALS = frozenset({"st", "nd", "rd", "th"})


def _owed(text: str, amount: str, rules: Rules) -> bool:
    """True when a sum of money is asked for, not reported as paid ("花了200块", "I paid $50")."""
    start = text.find(amount.lower())
    if start < 0:
        return False
    near = text[max(0, start - rules.demand_gap - 2) : start]
    before = text[max(0, start - 16) : start].rstrip(" $¥￥£€")
    after = text[start + len(amount) : start + len(amount) + 8]
    paid = any(
        _ends_with(before, word) if word.isascii() else word in near for word in rules.paid_words
    )
    return not paid and not after.startswith(rules.paid_after)


def _names_a_cause(tally: Tally, rules: Rules) -> bool:
    """True when a category other than the remedies scores `cause_threshold` on its own."""
    return evidence_beyond(tally, rules, rules.remedies)


def _has_link(text: str, link: str) -> bool:
    """A link word in `text`; a Latin one only as a whole word ("if", not "gift")."""
    if not link.isascii() or not link[0].isalpha():
        return link in text
    start = text.find(link)
    while start >= 0:
        end = start + len(link)
        if not word_char_at(text, start - 1) and not word_char_at(text, end):
            return True
        start = text.find(link, start + 1)
    return False


def _demanded_amount(text: str, rules: Rules) -> bool:
    """True when a sum of money follows a demand verb closely ("转我300", "pay me $40")."""
    for verb in rules.demand_verbs:
        latin = verb.isascii()
        start = text.find(verb)
        while start >= 0:
            after = start + len(verb)
            if latin and (word_char_at(text, start - 1) or word_char_at(text, after)):
                start = text.find(verb, start + 1)  # "refund" in "refunded" asks nothing
                continue
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
