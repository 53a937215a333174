"""Defect 21: the reply check finds blame and refusal by structure, in three scripts.

Every row was written for this table (none is taken from a corpus or a shipped reply). A shop
denying its part (negator + the shop + a responsibility word) is `flat_refusal`; the fault put on
the buyer (the buyer + a fault or a careless act) is `blames_buyer`. The negatives use the same
words in harmless structures and must pass clean.
"""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.checks import CheckRules, check_reply
from bot.phrasebook.checks_file import load_check_rules

RULES: CheckRules = load_check_rules(DEFAULT_PHRASEBOOK_DIR)
REFUSES, BLAMES = "flat_refusal", "blames_buyer"

POSITIVES: list[tuple[str, str, str]] = [
    # (script, draft, rule)
    # Simplified: the shop denies its part.
    ("zh-Hans", "这不是我们的问题", REFUSES),
    ("zh-Hans", "我们不负责", REFUSES),
    ("zh-Hans", "快递丢件跟我们没关系，您去找快递吧", REFUSES),
    ("zh-Hans", "本店对此概不负责", REFUSES),
    ("zh-Hans", "这个真不算我们的责任", REFUSES),
    # Simplified: the buyer is at fault.
    ("zh-Hans", "你自己没看清楚", BLAMES),
    ("zh-Hans", "是你自己的问题", BLAMES),
    ("zh-Hans", "这属于您个人的原因", BLAMES),
    ("zh-Hans", "只能怪你下单太急", BLAMES),
    ("zh-Hans", "责任在您", BLAMES),
    ("zh-Hans", "您没仔细看详情页", BLAMES),
    # Traditional, Taiwan and Hong Kong (written Cantonese): the shop denies its part.
    ("zh-Hant", "唔關我哋事", REFUSES),
    ("zh-Hant", "這不是我們的問題", REFUSES),
    ("zh-Hant", "我們不負責運送途中的損壞", REFUSES),
    ("zh-Hant", "與本店無關", REFUSES),
    ("zh-Hant", "呢個唔係我哋嘅責任", REFUSES),
    # Traditional: the buyer is at fault.
    ("zh-Hant", "係你自己嘅問題", BLAMES),
    ("zh-Hant", "是你自己沒看清楚", BLAMES),
    ("zh-Hant", "你自己整壞咗", BLAMES),
    ("zh-Hant", "都係你嘅錯", BLAMES),
    ("zh-Hant", "怪你自己囉", BLAMES),
    # English: the shop denies its part.
    ("en", "Not our problem.", REFUSES),
    ("en", "We are not responsible for carrier delays.", REFUSES),
    ("en", "That has nothing to do with us.", REFUSES),
    ("en", "It’s not our fault the parcel was late.", REFUSES),
    ("en", "We don't take responsibility for customs fees.", REFUSES),
    # English: the buyer is at fault.
    ("en", "that's your fault", BLAMES),
    ("en", "You didn't read the size chart.", BLAMES),
    ("en", "It was your own mistake.", BLAMES),
    ("en", "You broke it.", BLAMES),
    ("en", "You can only blame yourself.", BLAMES),
]

NEGATIVES: list[tuple[str, str]] = [
    # (script, draft): polite replies with the same words in harmless structures.
    ("zh-Hans", "这不是您的问题，是我们发错了"),
    ("zh-Hans", "这不是您的问题是我们发错了"),
    ("zh-Hans", "我们负责到底"),
    ("zh-Hans", "不会让您承担运费"),
    ("zh-Hans", "您没有问题"),
    ("zh-Hans", "是不是快递的问题？我们马上查"),
    ("zh-Hans", "我们会尽快帮您解决问题"),
    ("zh-Hans", "不好意思给您发错了，我们马上补发"),
    ("zh-Hans", "没问题，我们这边马上安排"),
    ("zh-Hans", "不管怎样我们都会负责到底"),
    ("zh-Hans", "我们不会推卸责任"),
    ("zh-Hans", "难怪您着急，我们马上处理"),
    ("zh-Hans", "我们不会怪您的"),
    ("zh-Hans", "如果是您自己弄坏的，也可以付费维修"),
    ("zh-Hans", "您的问题我们已经记录"),
    ("zh-Hans", "我们为您更换弄坏的零件"),
    ("zh-Hans", "我们不会让您负责任何费用"),
    ("zh-Hant", "這不是您的問題，是我們寄錯了"),
    ("zh-Hant", "唔係你嘅錯，我哋會即刻補寄"),
    ("zh-Hant", "我們會負責到底"),
    ("zh-Hant", "唔好意思，係我哋搞錯咗"),
    ("zh-Hant", "沒關係，我們馬上處理"),
    ("zh-Hant", "請問是不是超商的問題？我們幫您查"),
    ("zh-Hant", "您沒有看錯，是我們標錯了"),
    ("en", "it's not your fault, we'll fix it"),
    ("en", "we take full responsibility"),
    ("en", "No problem, we will send a new one today."),
    ("en", "Could it be a carrier problem? We are checking now."),
    ("en", "This isn't your fault at all."),
    ("en", "We will make sure you are not charged."),
    ("en", "We're not sure what happened yet, but we'll replace it."),
    ("en", "Don't worry, nobody will blame you."),
    ("en", "Our team is responsible for the replacement."),
    ("en", "Are you having an issue with your order?"),
    ("en", "@1234 Are you having an issue with the app? We'll help."),
    ("en", "The problem was on our side, sorry."),
]


def _rules(draft: str) -> list[str]:
    return [f.rule for f in check_reply(draft, rules=RULES)]


@pytest.mark.parametrize(("script", "draft", "rule"), POSITIVES)
def test_defect_21_blame_and_refusal_are_found(script: str, draft: str, rule: str) -> None:
    assert _rules(draft) == [rule], script


@pytest.mark.parametrize(("script", "draft"), NEGATIVES)
def test_defect_21_harmless_structures_pass_clean(script: str, draft: str) -> None:
    assert _rules(draft) == [], script


def test_defect_21_table_covers_each_rule_in_each_script() -> None:
    covered = {(script, rule) for script, _draft, rule in POSITIVES}
    scripts = {"zh-Hans", "zh-Hant", "en"}
    assert covered == {(s, r) for s in scripts for r in (REFUSES, BLAMES)}
    assert {script for script, _draft in NEGATIVES} == scripts
    assert len(POSITIVES) + len(NEGATIVES) >= 40


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("您好，这不是我们的问题，请联系快递。", [(REFUSES, "不是我们的问题")]),
        ("Sorry, but that's your fault.", [(BLAMES, "your fault")]),
        ("唔關我哋事，係你自己嘅問題", [(REFUSES, "唔關我哋"), (BLAMES, "係你自己嘅問題")]),
    ],
)
def test_defect_21_finding_quotes_the_words(draft: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.rule, f.detail) for f in check_reply(draft, rules=RULES)] == expected
