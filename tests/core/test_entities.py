"""Entities: order and tracking numbers, amounts and phone numbers out of message text."""

from __future__ import annotations

import pytest

from bot.core.entities import extract_entities
from bot.core.types import Entities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单号:2024061512345678901 还没到", Entities(order_ids=("2024061512345678901",))),
        ("订单编号 ABC12345678", Entities(order_ids=("ABC12345678",))),
        ("Order # 111-2223334-5556667 late", Entities(order_ids=("111-2223334-5556667",))),
        ("订单[订单x]退款", Entities(order_ids=("[订单x]",))),
        ("3897216654021578833 这单", Entities(order_ids=("3897216654021578833",))),
        ("顺丰SF1234567890123查不到", Entities(tracking_numbers=("SF1234567890123",))),
        ("中通 75318820461937 没动", Entities(tracking_numbers=("75318820461937",))),
        ("tracking id TBA123456789000", Entities(tracking_numbers=("TBA123456789000",))),
        ("赔我200元", Entities(amounts=("200元",))),
        ("给我两百块", Entities(amounts=("两百块",))),
        ("賠返五十蚊", Entities(amounts=("五十蚊",))),
        ("退我300台幣", Entities(amounts=("300台幣",))),
        ("refund $50 now", Entities(amounts=("50",))),
        ("退了[金额x]", Entities(amounts=("[金额x]",))),
        ("降了[数字x]块", Entities(amounts=("[数字x]块",))),
        ("电话13812345678", Entities(phones=("13812345678",))),
        ("call (206) 508-4014", Entities(phones=("(206) 508-4014",))),
        ("500ml 只有350", Entities()),
        ("", Entities()),
    ],
)
def test_extract_entities(text: str, expected: Entities) -> None:
    assert extract_entities(text) == expected


def test_as_dict_lists_only_present_entities() -> None:
    assert Entities(amounts=("5元",)).as_dict() == {"amounts": ["5元"]}
