"""Sending a card, and sending it again as plain text when Telegram refuses the card's own text
(its HTML or its length) rather than the chat: the agents see the buyer's message now instead of
after a wait that would only meet the same refusal again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest

from bot.core.message_text import TELEGRAM_LIMIT, fitting_prefix, plain_text

log = logging.getLogger(__name__)
LINES_ROOM = 512  # a card cut to fit keeps room for the outcome lines added to it later

# Telegram's words for a message refused for its text, whatever the chat.
_CONTENT = (
    "can't parse entities",
    "message is too long",
    "text is empty",
    "text must be non-empty",
)


def refused_for_content(exc: BaseException) -> bool:
    """Whether Telegram refused a message for its text (markup, length), not for its chat."""
    return isinstance(exc, BadRequest) and any(sign in str(exc).lower() for sign in _CONTENT)


@dataclass(frozen=True, slots=True)
class SentCard:
    """A card's message as Telegram took it, and its text as HTML (what later edits extend)."""

    message: Message
    html: str


async def send_card(
    bot: Bot,
    *,
    chat_id: int,
    thread_id: int | None,
    html: str,
    keyboard: InlineKeyboardMarkup,
) -> SentCard:
    """Send a card as HTML; refused for its text, send what it shows as plain text instead."""
    try:
        sent = await bot.send_message(
            chat_id=chat_id, message_thread_id=thread_id, text=html, reply_markup=keyboard
        )
        return SentCard(sent, html)
    except BadRequest as exc:
        if not refused_for_content(exc):
            raise
        log.error("Telegram refused a card's text (%s): it is sent as plain text", exc)
    text = plain_text(html).strip() or "…"
    text = text[: fitting_prefix(text, TELEGRAM_LIMIT - LINES_ROOM)]
    sent = await bot.send_message(
        chat_id=chat_id,
        message_thread_id=thread_id,
        text=text,
        reply_markup=keyboard,
        parse_mode=None,
    )
    return SentCard(sent, escape(text))
