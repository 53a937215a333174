"""A line for a case's topic (an edit prompt, a reply's check, a follow-up, a reminder) reaches
the group's General topic when the topic was deleted in the forum (`bot.tg.topics`), against
the Bot API emulator."""

from __future__ import annotations

import pytest
from telegram import Bot, ForceReply
from telegram.error import BadRequest

from bot.tg.topics import send_in_topic
from tests.e2e.emulator import InProcessTelegram

pytestmark = pytest.mark.e2e


async def test_a_line_for_a_deleted_topic_goes_to_general(
    botapi: InProcessTelegram, emulated_bot: Bot
) -> None:
    forum = botapi.create_forum("客服组", members=[botapi.create_user("Ada")])
    kept = await emulated_bot.create_forum_topic(forum["id"], "Case 1")
    gone = await emulated_bot.create_forum_topic(forum["id"], "Case 2")
    await emulated_bot.delete_forum_topic(forum["id"], gone.message_thread_id)

    in_topic = await send_in_topic(
        emulated_bot,
        chat_id=forum["id"],
        thread_id=kept.message_thread_id,
        text="kept",
        reply_markup=None,
    )
    fell_back = await send_in_topic(
        emulated_bot,
        chat_id=forum["id"],
        thread_id=gone.message_thread_id,
        text="prompt",
        reply_markup=ForceReply(selective=True),
    )

    assert in_topic.message_thread_id == kept.message_thread_id
    assert fell_back.message_thread_id is None  # the General topic
    assert [m["text"] for m in botapi.bot_messages(forum, thread_id=kept.message_thread_id)] == [
        "kept"
    ]


async def test_other_refusals_are_not_hidden(botapi: InProcessTelegram, emulated_bot: Bot) -> None:
    """A refusal for another reason, in a topic that exists, is raised, not sent to General."""
    forum = botapi.create_forum("客服组", members=[botapi.create_user("Ada")])
    kept = await emulated_bot.create_forum_topic(forum["id"], "Case 1")
    with pytest.raises(BadRequest):
        await send_in_topic(
            emulated_bot,
            chat_id=forum["id"],
            thread_id=kept.message_thread_id,
            text="",
            reply_markup=None,
        )
    assert botapi.bot_messages(forum) == []
