"""The Telegram side of the reply outbox: one chunk sent, its answer told as data.

`bot/service/outbox.py` sends a reply chunk by chunk, recording each; it calls `chunk_sender`'s
function for the Bot API call itself, which answers `Delivered` (Telegram's id), `NoAnswer`
(timed out or cut off: Telegram may have it, so "sent, id unknown") or `Refused` (nothing went
out; `blocked` when the buyer blocked the bot).
"""

from __future__ import annotations

from html import escape

from telegram import Bot
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.core.followups import FollowUpRule
from bot.service.outbox import Delivered, NoAnswer, Refused, SendChunk
from bot.tg.context import Services


def chunk_sender(bot: Bot) -> SendChunk:
    """Send one reply chunk (escaped text) to a buyer's chat, and say how it went."""

    async def send(chat_id: int, text: str) -> Delivered | NoAnswer | Refused:
        try:
            sent = await bot.send_message(chat_id=chat_id, text=escape(text))
        except NetworkError as exc:  # timed out or cut off: Telegram may have it
            return NoAnswer(str(exc))
        except TelegramError as exc:  # Telegram answered with an error: nothing went out
            return Refused(exc, blocked=isinstance(exc, Forbidden))
        return Delivered(sent.chat_id, sent.message_id, sent.date)

    return send


def follow_up_rule(services: Services) -> FollowUpRule:
    """The phrasebook's rule for which replies promise a follow-up, and when it is due."""
    phrasebook = services.understanding.phrasebook
    return FollowUpRule.of(phrasebook.check_rules.remedy_words, phrasebook.follow_up_hours)
