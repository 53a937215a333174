"""Defect 13.15 in Telegram: `/case N` shows its history in words, never ids or `key=value`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import button_data, is_card, make_shop, running_kefu
from tests.export.test_wording import raw_ids

pytestmark = pytest.mark.e2e


async def test_defect_13_15_case_history_lines_are_worded(
    botapi: InProcessTelegram, tmp_path: Path
) -> None:
    shop = make_shop(botapi, tmp_path)
    forum = shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, "快递三天了还没到，怎么回事")
        card = await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        topic = card["message_thread_id"]
        send = next(d for d in button_data(card) if d.endswith(":s:1"))
        botapi.press_button(shop.agent, card, send, chat=forum)
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)

        def agent_says(text: str) -> dict[str, Any]:
            return botapi.send_text(shop.agent, text, chat=forum, thread_id=topic)

        for command in ("/case 1 status verifying", "/case 1 status remedy"):
            sent = agent_says(command)
            await botapi.wait_for_bot_message_async(forum, after=sent, timeout=10)
        decided = agent_says("/case 1 status responsibility_decided seller")
        await botapi.wait_for_bot_message_async(forum, after=decided, timeout=10)
        asked = agent_says("/case 1")
        view = await botapi.wait_for_bot_message_async(
            forum, lambda m: "cs:1:remedy" in button_data(m), after=asked, timeout=10
        )

    text = re.sub(r"<[^>]+>", "", view["text"])
    assert raw_ids(text) == []
    timeline = text.split("\n")
    expected = [
        "原样发送建议回复",
        "状态 → 核实中",
        "拒绝变更为“补救中”",
        "状态 → 已定责（责任：卖家）",
    ]
    missing = [e for e in expected if not any(line.endswith(e) for line in timeline)]
    assert missing == [], text
