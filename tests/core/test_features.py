"""The learned model's features: words, character pairs, English bigrams, rule signals."""

from __future__ import annotations

from bot.core.features import RULE_SCORE_CAP, RuleView, chinese_features, english_features
from bot.core.normalize import ORDER_MARK
from bot.core.types import Category, Flag

VIEW = RuleView(
    scores={Category.QUALITY: 9.0, Category.INQUIRY: 0.0},
    decision=Category.QUALITY,
    flags={Flag.ANGRY: 1.0},
    question=True,
    extortion_roles=frozenset({"benefit"}),
)


def test_chinese_words_pairs_and_rules() -> None:
    features = chinese_features(
        f"鞋子坏了{ORDER_MARK}", ["鞋子", "坏了", ORDER_MARK, " ", ","], VIEW
    )
    assert {"w:鞋子", "w:坏了", "w:<order>", "c:鞋子", "c:子坏", "c:坏了"} <= set(features)
    assert "w: " not in features
    assert "w:," not in features
    assert features["r:quality"] == RULE_SCORE_CAP  # capped
    assert "r:inquiry" not in features  # zero scores are left out
    assert features["rtop:quality"] == 1.0
    assert features["rf:angry"] == 1.0
    assert {"s:question", "s:extortion_benefit", "s:len<=12"} <= set(features)
    # adjacent words, the message's ends marked (punctuation and spaces are no words)
    pairs = {name for name in features if name.startswith("b:")}
    assert pairs == {"b:<s>_鞋子", "b:鞋子_坏了", "b:坏了_<order>", "b:<order>_</s>"}


def test_a_chinese_message_without_words_still_has_its_ends() -> None:
    features = chinese_features("。。", ["。", "。"], VIEW)
    assert [name for name in features if name.startswith(("w:", "b:"))] == ["b:<s>_</s>"]


def test_english_words_and_bigrams_without_handles_or_links() -> None:
    features = english_features("@amazonhelp the sole came off https://t.co/x", VIEW)
    words = {name for name in features if name.startswith(("w:", "b:"))}
    assert words == {
        "w:the",
        "w:sole",
        "w:came",
        "w:off",
        "b:<s>_the",
        "b:the_sole",
        "b:sole_came",
        "b:came_off",
    }
    grams = {name for name in features if name.startswith("g:")}
    assert {"g:<so", "g:sol", "g:ole", "g:le>", "g:<sol", "g:sole", "g:ole>"} <= grams
    assert {"g:<th", "g:the", "g:he>", "g:<the", "g:the>"} <= grams
    assert not any("@" in name or "http" in name or "t.co" in name for name in grams)
