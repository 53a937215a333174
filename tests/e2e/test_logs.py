"""Issue 16 part 4: the running bot's log lines name their update and case, parse as JSON in
json format, and never hold a buyer's text or phone number at INFO or above."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.observability.logs import LogFormat, log_handler
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, is_card, make_shop, running_kefu_webhook

pytestmark = pytest.mark.e2e

PHONE = "13812345678"
BUYER_TEXT = f"我的手机号是{PHONE}，快递三天了还没到，再不到我就投诉"


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Every log line at INFO and above, of every logger, as the bot writes them (`log_format`
    from the test's parameter, json unless given)."""
    log_format: LogFormat = getattr(request, "param", "json")
    stream = io.StringIO()
    handler = log_handler(log_format, stream=stream)
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def _buyer_message_meets_trouble(shop: Shop) -> tuple[int, int]:
    """A buyer message with a phone number whose forum topic and card Telegram both refuse:
    a WARNING and an ERROR about it. Returns its (update id, case)."""
    botapi = shop.botapi
    async with running_kefu_webhook(shop):
        botapi.inject_error("createForumTopic", 400, "Bad Request: not enough rights")
        botapi.inject_error("sendMessage", 400, "Bad Request: chat not found")
        botapi.send_text(shop.buyer, BUYER_TEXT)
        # the error handler tells the buyer something went wrong: the update is done
        await botapi.wait_for_bot_message_async(shop.buyer["id"], timeout=10)
        assert not any(is_card(m) for m in botapi.bot_messages(shop.forum["id"]))
    [update] = await shop.rows("SELECT update_id FROM raw_updates")
    [case] = await shop.rows("SELECT id FROM conversations")
    return int(update["update_id"]), int(case["id"])


async def test_json_log_lines_parse_and_carry_the_update_id_and_case(
    shop: Shop, captured: io.StringIO
) -> None:
    update_id, case = await _buyer_message_meets_trouble(shop)

    entries = [json.loads(line) for line in captured.getvalue().splitlines()]
    about = {
        entry["message"].split(" ")[0]: entry
        for entry in entries
        if entry["message"].startswith(("could not create a topic", "error while handling"))
    }
    topic, error = about["could"], about["error"]
    assert (topic["level"], topic["update_id"], topic["case"]) == ("WARNING", update_id, case)
    assert (error["level"], error["update_id"], error["case"]) == ("ERROR", update_id, case)
    assert error["logger"] == "bot.tg.handlers.errors"
    assert "BadRequest: Chat not found" in error["exception"]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)


@pytest.mark.parametrize("captured", ["text", "json"], indirect=True)
async def test_no_buyer_text_or_phone_number_in_logs_at_info_or_above(
    shop: Shop, captured: io.StringIO
) -> None:
    update_id, case = await _buyer_message_meets_trouble(shop)

    logged = captured.getvalue()
    assert f"update={update_id} case={case}" in logged or f'"update_id": {update_id}' in logged
    assert PHONE not in logged
    assert BUYER_TEXT[:6] not in logged
    assert "快递三天了" not in logged
