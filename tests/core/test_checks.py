"""Reply checks: each rule both firing and not firing, on the shipped word lists."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.checks import CheckRules, check_reply
from bot.core.types import Category, Classification, Flag
from bot.phrasebook.checks_file import load_check_rules

RULES: CheckRules = load_check_rules(DEFAULT_PHRASEBOOK_DIR)


def _buyer(category: Category, *flags: Flag) -> Classification:
    return Classification(category=category, confidence=0.9, flags=frozenset(flags))


GOOD_APOLOGY_AND_REMEDY = "非常抱歉给您添麻烦了，我们马上为您补发一件新的。"

CASES = [
    # (draft, buyer, expected rules)
    ("不行，这个不能退。", None, ["flat_refusal"]),
    ("可以的，我们为您办理退货退款。", None, []),
    ("是你自己没看清尺码。", None, ["blames_buyer"]),
    ("尺码表在详情页第三张图，我帮您对照一下。", None, []),
    ("好的，我们会处理。", _buyer(Category.COMPLAINT), ["no_apology"]),
    ("抱歉让您不愉快了，我们会处理。", _buyer(Category.COMPLAINT), []),
    ("抱歉。", _buyer(Category.INQUIRY, Flag.ANGRY), []),
    ("好的。", _buyer(Category.INQUIRY, Flag.ANGRY), ["no_apology"]),
    ("非常抱歉。", _buyer(Category.DAMAGED_MISSING), ["no_remedy"]),
    (GOOD_APOLOGY_AND_REMEDY, _buyer(Category.DAMAGED_MISSING), []),
    ("好的，您稍等。", _buyer(Category.INQUIRY), []),
    ("我们家是全网最低价。", None, ["banned_superlative"]),
    ("我们第一时间为您处理。", None, []),
    ("您最好先拍张照片。", None, []),
    ("加我微信私聊。", None, ["off_platform"]),
    ("您可以在平台上申请退款。", None, []),
    ("给个好评返现5元。", None, ["cash_for_review"]),
    ("感谢您的支持。", None, []),
    ("已给您回电 13812345678。", None, ["leaks_pii"]),
    ("收件地址浙江省杭州市西湖区文三路100号5栋已核对。", None, ["leaks_pii"]),
    ("订单号 202611110001 已核对。", None, []),
    ("Sorry, that's your own fault.", None, ["blames_buyer"]),
    ("Sorry about that, we will send a replacement today.", _buyer(Category.QUALITY), []),
    ("Please contact me on WhatsApp.", None, ["off_platform"]),
    ("We are number one in the world.", None, ["banned_superlative"]),
    ("We will look into it.", _buyer(Category.WRONG_ITEM), ["no_apology"]),
]


@pytest.mark.parametrize(("draft", "buyer", "expected"), CASES)
def test_rule_fires_or_not(draft: str, buyer: Classification | None, expected: list[str]) -> None:
    assert [f.rule for f in check_reply(draft, rules=RULES, buyer=buyer)] == expected


def test_too_long() -> None:
    findings = check_reply("好" * 4097, rules=RULES)
    assert [(f.rule, f.detail) for f in findings] == [("too_long", "4097")]
    assert check_reply("好" * 4096, rules=RULES) == []


def test_finding_names_the_word() -> None:
    [finding] = check_reply("加我微信", rules=RULES)
    assert (finding.rule, finding.detail) == ("off_platform", "微信")
