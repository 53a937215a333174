"""Which updates are a buyer's message, and what text stands for a message without words."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.inbound import buyer_message

PRIVATE = {"id": 5, "type": "private"}
BUYER = {"id": 5, "is_bot": False, "first_name": "小", "last_name": "王"}


def _update(**content: Any) -> dict[str, Any]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 9,
            "date": 1_790_000_000,
            "chat": PRIVATE,
            "from": BUYER,
            **content,
        },
    }


@pytest.mark.parametrize(
    ("content", "text", "content_type"),
    [
        ({"text": "还没收到货"}, "还没收到货", "text"),
        (
            {
                "caption": "外箱压坏了",
                "photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}],
            },
            "外箱压坏了",
            "photo",
        ),
        (
            {
                "sticker": {
                    "file_id": "s",
                    "file_unique_id": "u",
                    "emoji": "😭",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            },
            "😭",
            "sticker",
        ),
        ({"location": {"latitude": 31.23, "longitude": 121.47}}, "31.23,121.47", "location"),
        (
            {
                "venue": {
                    "location": {"latitude": 1, "longitude": 2},
                    "title": "菜鸟驿站",
                    "address": "文三路100号",
                },
                "location": {"latitude": 1, "longitude": 2},
            },
            "菜鸟驿站 文三路100号",
            "location",
        ),
        (
            {"contact": {"phone_number": "13800000000", "first_name": "王"}},
            "王 13800000000",
            "contact",
        ),
        ({"dice": {"emoji": "🎲", "value": 3}}, "🎲", "dice"),
    ],
)
def test_loggable_text(content: dict[str, Any], text: str, content_type: str) -> None:
    message = buyer_message(_update(**content))
    assert message is not None
    assert (message.text, message.content_type) == (text, content_type)
    assert message.buyer.display_name == "小 王"


@pytest.mark.parametrize(
    "update",
    [
        {
            "update_id": 1,
            "message": {
                "message_id": 9,
                "date": 1,
                "chat": {"id": -5, "type": "supergroup"},
                "from": BUYER,
                "text": "hi",
            },
        },
        {
            "update_id": 1,
            "message": {
                "message_id": 9,
                "date": 1,
                "chat": PRIVATE,
                "from": {**BUYER, "is_bot": True},
                "text": "hi",
            },
        },
        {"update_id": 1, "callback_query": {"id": "q"}},
    ],
)
def test_not_a_buyer_message(update: dict[str, Any]) -> None:
    assert buyer_message(update) is None
