"""Reply checks: what a quality inspector would flag in an agent's draft before it is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.blame import StructureWords, blame, normalise, refusal
from bot.core.types import Category, Classification, Finding, Flag

TELEGRAM_MESSAGE_LIMIT = 4096

# The order findings are reported in; each id has a reason text in the phrasebook's ui files.
RULES = (
    "flat_refusal",
    "blames_buyer",
    "no_apology",
    "no_remedy",
    "banned_superlative",
    "off_platform",
    "cash_for_review",
    "leaks_pii",
    "too_long",
)

# Mainland mobile numbers, and international/landline-like numbers with 8+ digits.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)|\+\d[\d -]{7,}\d")
_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{1,8}(?:省|市|自治区)[\u4e00-\u9fff]{0,10}(?:市|区|县|镇)"
    r"[\u4e00-\u9fff\d]{0,20}(?:路|街|道|巷|村|小区)[\u4e00-\u9fff\d-]{0,20}(?:号|栋|单元|室|楼)"
)


@dataclass(frozen=True, slots=True)
class CheckRules:
    """Word lists behind the reply checks (from the phrasebook), already case-folded."""

    flat_refusal: tuple[str, ...]
    blames_buyer: tuple[str, ...]
    apology_words: tuple[str, ...]
    remedy_words: tuple[str, ...]
    banned_superlatives: tuple[str, ...]
    superlative_exceptions: tuple[str, ...]
    off_platform: tuple[str, ...]
    cash_for_review: tuple[str, ...]
    apology_expected: frozenset[Category]
    remedy_expected: frozenset[Category]
    structure: StructureWords
    max_length: int = TELEGRAM_MESSAGE_LIMIT


def check_reply(
    draft: str, *, rules: CheckRules, buyer: Classification | None = None
) -> list[Finding]:
    """List the problems in `draft`, answering the buyer message classified as `buyer`."""
    text = draft.casefold()
    findings: list[Finding] = []
    refused = _first_word(_without(normalise(draft), rules.structure.harmless), rules.flat_refusal)
    refused = refused or refusal(draft, rules.structure)
    if refused:
        findings.append(Finding("flat_refusal", refused))
    blamed = blame(draft, rules.structure, rules.blames_buyer)
    if blamed:
        findings.append(Finding("blames_buyer", blamed))
    if buyer is not None:
        angry = Flag.ANGRY in buyer.flags
        if (buyer.category in rules.apology_expected or angry) and not _first_word(
            text, rules.apology_words
        ):
            findings.append(Finding("no_apology"))
        if buyer.category in rules.remedy_expected and not _first_word(text, rules.remedy_words):
            findings.append(Finding("no_remedy"))
    without_exceptions = _without(text, rules.superlative_exceptions)
    for rule, words, haystack in (
        ("banned_superlative", rules.banned_superlatives, without_exceptions),
        ("off_platform", rules.off_platform, text),
        ("cash_for_review", rules.cash_for_review, text),
    ):
        word = _first_word(haystack, words)
        if word:
            findings.append(Finding(rule, word))
    pii = _PHONE.search(draft) or _ADDRESS.search(draft)
    if pii:
        findings.append(Finding("leaks_pii", pii.group(0)))
    if len(draft) > rules.max_length:
        findings.append(Finding("too_long", str(len(draft))))
    return findings


def _without(text: str, phrases: tuple[str, ...]) -> str:
    """`text` with every listed phrase blanked out."""
    for phrase in phrases:
        text = text.replace(phrase, " ")
    return text


def _first_word(text: str, words: tuple[str, ...]) -> str:
    for word in words:
        if word in text:
            return word
    return ""
