"""Posted cards: an outcome line added (and the buttons taken away), buttons, times as shown."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.core.sla import shop_time
from bot.service.cards import CardFacts, CardSnapshot, add_card_line
from bot.tg.context import KefuContext
from bot.tg.keyboards import card_keyboard, handled_card_keyboard

log = logging.getLogger(__name__)

OUTCOME_ICONS = {
    "sent": "✅",
    "edited": "✏️",
    "own": "💬",
    "follow_up": "🔔",
    "skipped": "⏭",
    "no_reply": "☑️",
    "escalated": "⬆️",
}


async def mark_card(context: KefuContext, found: CardSnapshot, line: str) -> None:
    """Append an outcome line to the card and take its buttons away (but "wrong category")."""
    await append_card_line(context, found.card, line, keep_buttons=False)


async def append_card_line(
    context: KefuContext, card: CardFacts, line: str, *, keep_buttons: bool = True
) -> None:
    """Add a line (already HTML) to a posted card; its buttons stay unless told otherwise."""
    if card.chat_id is None or card.card_message_id is None:
        return
    stored = await add_card_line(context.services.db, card.id, line)
    if stored is None:
        return
    open_card = keep_buttons and stored.status == "open"
    markup = card_markup(context, card.id, stored.suggestions, open_card=open_card)
    try:
        await context.bot.edit_message_text(
            chat_id=card.chat_id,
            message_id=card.card_message_id,
            text=stored.html,
            reply_markup=markup,
        )
    except BadRequest as exc:
        log.info("card %s not edited: %s", card.id, exc)


def card_markup(
    context: KefuContext, card_id: int, suggestions: int, *, open_card: bool
) -> InlineKeyboardMarkup:
    """An open card's buttons; a handled card keeps only "wrong category" (the label matters)."""
    wording, language = context.services.wording, context.services.default_language
    if open_card:
        return card_keyboard(card_id, suggestions, wording=wording, language=language)
    return handled_card_keyboard(card_id, wording=wording, language=language)


def local_time(context: KefuContext, moment: datetime | None = None) -> str:
    """A moment (now, unless given) in the shop's time zone, as cards show it (MM-DD HH:MM)."""
    when = moment if moment is not None else datetime.now(UTC)
    return shop_time(when, context.services.settings.timezone, "%m-%d %H:%M")
