"""Forum topics as Telegram reports them: a message refused because its topic was deleted, and
sending to a case's topic with the group's General topic as the fallback."""

from __future__ import annotations

import logging

from telegram import Bot, ForceReply, InlineKeyboardMarkup, Message
from telegram.error import BadRequest

log = logging.getLogger(__name__)

_GONE = ("thread not found", "topic_deleted")


def topic_gone(exc: BaseException) -> bool:
    """Whether Telegram refused a message because its forum topic was deleted."""
    return isinstance(exc, BadRequest) and any(sign in str(exc).lower() for sign in _GONE)


async def send_in_topic(
    bot: Bot,
    *,
    chat_id: int,
    thread_id: int | None,
    text: str,
    reply_markup: InlineKeyboardMarkup | ForceReply | None,
) -> Message:
    """Send to a case's topic; to the group's General topic when the topic was deleted in the
    forum (the case's next card makes a new one), so the line still reaches the agents."""
    try:
        return await bot.send_message(
            chat_id=chat_id, message_thread_id=thread_id, text=text, reply_markup=reply_markup
        )
    except BadRequest as exc:
        if thread_id is None or not topic_gone(exc):
            raise
        log.warning("the case's topic is gone (%s): telling the group's General topic", exc)
        return await bot.send_message(chat_id=chat_id, text=text, reply_markup=reply_markup)
