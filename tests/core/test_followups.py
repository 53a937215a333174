"""Whether a reply promises a follow-up, and when the follow-up is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.followups import (
    FollowUpRule,
    follow_up_due,
    follow_up_key,
    promises_follow_up,
)

RULE = FollowUpRule.of(["补发", "退款", "refund"], {"default": 24.0, "not_received": 48.0})
NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("亲，我们马上给您补发", True),
        ("已经为您申请退款了", True),
        ("We will REFUND you today", True),
        ("亲，请问还有什么可以帮您", False),
        ("", False),
    ],
)
def test_a_reply_promising_a_remedy_gets_a_follow_up(text: str, expected: bool) -> None:
    assert promises_follow_up(text, RULE) is expected


def test_no_remedy_words_means_no_follow_up() -> None:
    assert promises_follow_up("补发", FollowUpRule.of([], {"default": 1.0})) is False


@pytest.mark.parametrize(
    ("category", "rule", "expected"),
    [
        ("not_received", RULE, NOW + timedelta(hours=48)),
        ("quality", RULE, NOW + timedelta(hours=24)),
        (None, RULE, NOW + timedelta(hours=24)),  # no category: an inquiry's hours
        (None, FollowUpRule.of(["x"], {"default": 5.0, "inquiry": 2.0}), NOW + timedelta(hours=2)),
        ("quality", FollowUpRule.of(["x"], {}), NOW + timedelta(hours=24)),
    ],
)
def test_a_follow_up_is_due_after_its_categorys_hours(
    category: str | None, rule: FollowUpRule, expected: datetime
) -> None:
    assert follow_up_due(now=NOW, category=category, rule=rule) == expected


@pytest.mark.parametrize(("card_id", "expected"), [(1, "follow_up:1"), (42, "follow_up:42")])
def test_one_follow_up_per_card(card_id: int, expected: str) -> None:
    assert follow_up_key(card_id) == expected
