"""Defect 13.3: which texts starting with `/` are Kefu's commands (the rest is a buyer's message)."""

from __future__ import annotations

import pytest

from bot.tg.commands import is_kefu_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", True),
        ("/help", True),
        ("/help@kefu_test_bot", True),
        ("/HELP", True),
        ("/start shop_ad-42", True),  # a deep link's payload
        ("/help ", True),
        ("/help 快递没到怎么办", False),
        ("/start 快递没到", False),
        ("/start a b", False),
        ("/refund 我的快递三天没到", False),
        ("/refund", False),
        ("/case 1 status closed", True),  # the team's commands are refused (audited) for others
        ("/grant 22 supervisor", True),
        ("/available", True),
        ("/away now", True),
        ("/export@kefu_test_bot csv", True),
        ("快递 /help", False),
        ("", False),
    ],
)
def test_defect_13_3_kefu_commands(text: str, expected: bool) -> None:
    assert is_kefu_command(text) == expected
