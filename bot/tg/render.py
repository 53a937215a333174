"""Pure rendering of agents' cards and long texts as Telegram HTML (escaped, under 4096 chars)."""

from __future__ import annotations

from html import escape

from bot.core.buyer_history import BuyerHistory
from bot.core.card_view import CardView
from bot.core.message_text import (
    TELEGRAM_LIMIT,
    fit_html,
    split_html,
    split_text,
    telegram_length,
)
from bot.core.types import Flag, Language
from bot.core.wording import Wording

CARD_TEXT_BUDGET = 1200  # the buyer's message is shortened on the card; the log keeps it whole
__all__ = [
    "TELEGRAM_LIMIT",
    "BuyerHistory",
    "CardView",
    "fit_html",
    "outcome_line",
    "render_card",
    "split_html",
    "split_text",
    "telegram_length",
]

ALARM_FLAGS = frozenset({Flag.THREATENS_REVIEW, Flag.THREATENS_COMPLAINT})


def render_card(view: CardView, *, wording: Wording, language: Language) -> str:
    """The card as Telegram HTML in the agent's `language`, always under the message limit."""
    for budget in (CARD_TEXT_BUDGET, 300, 60):
        html = _card_html(view, wording=wording, language=language, budget=budget)
        if telegram_length(html) <= TELEGRAM_LIMIT:
            return html
    return fit_html(html)


def _card_html(view: CardView, *, wording: Wording, language: Language, budget: int) -> str:

    def t(key: str, **variables: object) -> str:
        return escape(wording.text(language, key, **variables))

    c = view.classification
    category = t(f"category_names.{c.category.value}")
    alarm = c.category.value == "extortion" or bool(c.flags & ALARM_FLAGS)
    head = f"{'🚨' if alarm else '📩'} <b>{category}</b> · {c.confidence:.0%}"
    if c.flags:
        head += " · " + ", ".join(
            f"<b>{t(f'flag_names.{flag}')}</b>"
            if Flag(flag) in ALARM_FLAGS
            else t(f"flag_names.{flag}")
            for flag in c.sorted_flags()
        )
    if view.repeat:
        head = f"🔁 {t('card.maybe_repeat')}\n{head}"
    lines = [
        head,
        f"{t('card.buyer')}: {escape(view.buyer_name)} {escape(view.buyer_handle)}".rstrip(),
    ]
    if view.order_id:
        lines.append(f"{t('card.order')}: <code>{escape(view.order_id)}</code>")
    h = view.history
    if h.conversations or h.refunds or h.threats or h.extortion:
        lines.append(
            f"{t('card.history')}: "
            + t(
                "card.history_line",
                conversations=h.conversations,
                refunds=h.refunds,
                threats=h.threats,
                extortion=h.extortion,
            )
        )
    if view.blocked:
        lines.append(f"⛔ {t('card.blocked')}")
    if c.keywords:
        lines.append(f"{t('console.keywords')}: {escape(', '.join(c.keywords))}")
    for key in view.warnings:
        lines.append(f"⚠️ <b>{t(f'warnings.{key}')}</b>")
    lines.append(
        f"{t('card.message')}: <blockquote>{escape(_shorten(view.text, budget))}</blockquote>"
    )
    for kind in view.not_stored:
        lines.append(f"⏳ {t('card.not_stored_yet', kind=_kind_name(wording, language, kind))}")
    for number, suggestion in enumerate(view.suggestions, start=1):
        kind = t(f"suggestion_kinds.{suggestion.kind}")
        lines.append(f"<b>{number}</b> · <i>{kind}</i>\n{escape(suggestion.text)}")
    lines.extend(view.outcomes[-8:])
    return "\n".join(lines)


def _kind_name(wording: Wording, language: Language, kind: str) -> str:
    """A file kind (photo, document, voice …) as the transcript names it, else as stored."""
    key = f"export.transcript.kind_{kind}"
    name = wording.text(language, key)
    return kind if name == key else name


def _shorten(text: str, budget: int) -> str:
    return text if len(text) <= budget else text[: budget - 1] + "…"


def outcome_line(icon: str, text: str) -> str:
    """One escaped line recording what happened to a card (who sent what, when)."""
    return f"{icon} {escape(text)}"
