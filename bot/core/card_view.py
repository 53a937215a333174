"""What an agent's card shows about one buyer message (data; `bot.tg.render` turns it into HTML)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.buyer_history import BuyerHistory
from bot.core.types import Classification, Suggestion


@dataclass(frozen=True, slots=True)
class CardView:
    """Everything an agent's card shows about one buyer message."""

    card_id: int
    buyer_name: str
    buyer_handle: str
    text: str
    classification: Classification
    suggestions: tuple[Suggestion, ...]
    warnings: tuple[str, ...]
    order_id: str | None = None
    history: BuyerHistory = field(default_factory=BuyerHistory)
    blocked: bool = False
    outcomes: tuple[str, ...] = ()
    not_stored: tuple[str, ...] = ()  # kinds of the message's files whose download failed so far
    repeat: bool = False  # shown again after a stopped process's post: Telegram may show it twice


def buyer_handle(*, username: str | None, telegram_user_id: int | None) -> str:
    """How a card names the buyer's account: @username, else the Telegram id."""
    return f"@{username}" if username else f"id {telegram_user_id}"


def card_text(text: str, content_type: str) -> str:
    """The message as the card quotes it: media marked with its kind."""
    return text if content_type == "text" else f"[{content_type}] {text}"
