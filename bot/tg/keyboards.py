"""Inline keyboards and their `callback_data`: short ids, built and parsed in this one place."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.types import Language
from bot.core.wording import Wording

# Card actions: send / edit suggestion n, skip, escalate. Pending reply: send anyway / cancel.
CARD_ACTIONS = {"s": "send", "e": "edit", "k": "skip", "x": "escalate"}
PENDING_ACTIONS = {"y": "confirm", "n": "cancel"}


@dataclass(frozen=True, slots=True)
class CardAction:
    """A parsed button press on a card."""

    card_id: int
    action: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A parsed button press on a reply awaiting confirmation."""

    pending_id: int
    action: str


def parse_callback(data: str) -> CardAction | PendingAction | None:
    """Parse `c:<card>:<a>[:<n>]` or `p:<pending>:<y|n>`; None for anything else."""
    parts = data.split(":")
    try:
        if parts[0] == "c" and len(parts) in (3, 4) and parts[2] in CARD_ACTIONS:
            index = int(parts[3]) if len(parts) == 4 else None
            if (index is None) != (parts[2] in ("k", "x")):
                return None
            return CardAction(int(parts[1]), CARD_ACTIONS[parts[2]], index)
        if parts[0] == "p" and len(parts) == 3 and parts[2] in PENDING_ACTIONS:
            return PendingAction(int(parts[1]), PENDING_ACTIONS[parts[2]])
    except ValueError:
        return None
    return None


def card_keyboard(
    card_id: int, suggestions: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Send n / edit n for each suggestion, then skip and escalate."""

    def t(key: str, **variables: object) -> str:
        return wording.text(language, key, **variables)

    numbers = range(1, suggestions + 1)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("card.send_n", n=n), callback_data=f"c:{card_id}:s:{n}")
                for n in numbers
            ],
            [
                InlineKeyboardButton(f"✏️ {t('card.edit')} {n}", callback_data=f"c:{card_id}:e:{n}")
                for n in numbers
            ],
            [
                InlineKeyboardButton(t("card.skip"), callback_data=f"c:{card_id}:k"),
                InlineKeyboardButton(t("card.escalate"), callback_data=f"c:{card_id}:x"),
            ],
        ]
    )


def confirm_keyboard(
    pending_id: int, *, wording: Wording, language: Language
) -> InlineKeyboardMarkup:
    """Send anyway / cancel for a reply the check found problems in."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    wording.text(language, "card.send_anyway"), callback_data=f"p:{pending_id}:y"
                ),
                InlineKeyboardButton(
                    wording.text(language, "card.cancel"), callback_data=f"p:{pending_id}:n"
                ),
            ]
        ]
    )
