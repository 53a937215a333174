"""The Bot API emulator, driven by a real python-telegram-bot 22 echo bot over HTTP."""

from __future__ import annotations

import pytest

from tests.e2e.echo_bot import WELCOME, build_echo_application
from tests.e2e.emulator import InProcessTelegram
from tests.e2e.emulator.ptb import running_polling

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", m.get("caption", "")) for m in messages]


async def test_polling_echo_command_and_button(botapi: InProcessTelegram) -> None:
    buyer = botapi.create_user("Ann")
    async with running_polling(build_echo_application(botapi.application_builder())):
        start = botapi.send_text(buyer, "/start")
        welcome = await botapi.wait_for_bot_message_async(buyer["id"], after=start)
        hello = botapi.send_text(buyer, "你好, where is my parcel?")
        echoed = await botapi.wait_for_bot_message_async(buyer["id"], after=hello)
        botapi.press_button(buyer, welcome, "yes")
        edited = await botapi.wait_for_bot_message_async(
            buyer["id"], lambda m: m["text"] == "You chose yes"
        )

    assert welcome["text"] == WELCOME
    assert welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert echoed["text"] == "你好, where is my parcel?"
    assert echoed["reply_to_message"]["message_id"] == hello["message_id"]
    assert edited["message_id"] == welcome["message_id"]
    assert "reply_markup" not in edited  # editMessageText without a keyboard removes it
    assert edited["edit_date"] >= welcome["date"]
    answers = botapi.callback_answers
    assert [(a["text"], a["show_alert"], a["data"]) for a in answers] == [("got yes", False, "yes")]
    assert texts(botapi.bot_messages(buyer["id"])) == ["You chose yes", "你好, where is my parcel?"]
    assert botapi.pending_update_count() == 0
