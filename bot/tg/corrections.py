"""`分类不对` / Wrong category: an agent corrects the category (and flags) of a card or a paste.

The picker replaces the card's buttons; a choice is claimed in the database
(`bot/service/corrections.py`, one correction however many presses), then the card is drawn
again with the new category's suggestions, the case is filed under it, and the card keeps a
line saying who corrected what.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from html import escape

from telegram import InlineKeyboardMarkup, MaybeInaccessibleMessage, Message, User
from telegram.error import BadRequest

from bot.core.labels import CardLabel
from bot.core.roles import Role
from bot.core.types import Category, Language
from bot.service import corrections as service
from bot.service.cards import CardSnapshot, who_handled
from bot.service.corrections import Correction, CorrectionOutcome, PasteForCorrection, Redraw
from bot.service.replies import ensure_agent
from bot.tg.cards import card_markup, local_time
from bot.tg.context import KefuContext
from bot.tg.copilot import analysis_html
from bot.tg.keyboards import PASTE, CorrectionAction, category_picker, copilot_keyboard
from bot.tg.render import BuyerHistory, CardView, fit_html, outcome_line, render_card
from bot.tg.replies import actor_of

log = logging.getLogger(__name__)

CORRECTED_ICON = "🏷"


async def act_on_correction(
    context: KefuContext,
    user: User,
    role: Role,
    action: CorrectionAction,
    message: MaybeInaccessibleMessage | None,
) -> str | None:
    """Open the picker, tick flags, go back, or correct; returns the button's short answer."""
    if action.kind == PASTE:
        return await _on_paste(context, user, role, action, message)
    return await _on_card(context, user, role, action)


def _language(context: KefuContext, user: User, chat_id: int | None) -> Language:
    """A card in the agent's own chat speaks their language; one in the group the shop's."""
    services = context.services
    if chat_id == user.id:
        return services.language_of(user.language_code)
    return services.default_language


def _category_name(context: KefuContext, language: Language, category: Category | None) -> str:
    if category is None:
        return "-"
    return context.services.text(language, f"category_names.{category.value}")


def _refusal(context: KefuContext, language: Language, outcome: CorrectionOutcome) -> str:
    services = context.services
    if outcome.status == "stale":
        return services.text(
            language,
            "card.already_corrected",
            agent_name=outcome.by or services.text(language, "card.someone"),
            time=local_time(context, outcome.at) if outcome.at else "?",
            category=_category_name(context, language, outcome.label.category),
        )
    return services.text(
        language,
        "card.correction_unchanged",
        category=_category_name(context, language, outcome.label.category),
    )


def _choice(user: User, action: CorrectionAction) -> Correction:
    assert action.category is not None
    return Correction(user.id, action.revision, action.category, action.flags)


def _picker(
    context: KefuContext,
    kind: str,
    target_id: int,
    label: CardLabel,
    action: CorrectionAction,
    language: Language,
) -> InlineKeyboardMarkup:
    """The category picker, at the label's revision (open) or the one the button carries."""
    revision = label.revision if action.action == "open" else action.revision
    flags = label.flags if action.action == "open" else action.flags
    return category_picker(
        kind,
        target_id,
        replace(label, revision=revision),
        flags,
        wording=context.services.wording,
        language=language,
    )


# --- cards -------------------------------------------------------------------------------------


async def _on_card(
    context: KefuContext, user: User, role: Role, action: CorrectionAction
) -> str | None:
    services = context.services
    loaded = await service.card_for_correction(services.db, action.target_id)
    if loaded is None:
        return services.text(services.language_of(user.language_code), "bot.card_gone")
    found, label = loaded
    language = _language(context, user, found.card.chat_id)
    if action.action == "back":
        await _show_markup(context, found, _card_buttons(context, found))
        return None
    if action.action in ("open", "flags"):
        picker = _picker(context, "card", found.card.id, label, action, language)
        await _show_markup(context, found, picker)
        return services.text(language, "card.pick_category") if action.action == "open" else None
    return await _correct_card(context, user, role, found, action, language)


def _card_buttons(context: KefuContext, found: CardSnapshot) -> InlineKeyboardMarkup:
    return card_markup(
        context, found.card.id, len(found.suggestions), open_card=found.card.status == "open"
    )


async def _show_markup(
    context: KefuContext, found: CardSnapshot, markup: InlineKeyboardMarkup
) -> None:
    card = found.card
    if card.chat_id is None or card.card_message_id is None:
        return
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=card.chat_id, message_id=card.card_message_id, reply_markup=markup
        )
    except BadRequest as exc:
        log.info("card %s buttons not changed: %s", card.id, exc)


async def _correct_card(
    context: KefuContext,
    user: User,
    role: Role,
    found: CardSnapshot,
    action: CorrectionAction,
    language: Language,
) -> str | None:
    """Claim the correction, re-compose the suggestions, file the case, draw the card again."""
    services = context.services
    choice = _choice(user, action)
    await ensure_agent(services.db, actor_of(user, role))

    def line(outcome: CorrectionOutcome) -> str:
        return outcome_line(
            CORRECTED_ICON,
            services.text(
                language,
                "card.corrected_by",
                agent_name=user.full_name,
                old=_category_name(context, language, outcome.previous.category),
                new=_category_name(context, language, choice.category),
            ),
        )

    done = await service.correct_card(
        services.db,
        found,
        choice,
        understanding=services.understanding,
        shop_name=services.settings.shop_name,
        line=line,
        draw=lambda redraw: _draw(context, redraw, language),
    )
    if not done.outcome.written:
        await _show_markup(context, found, _card_buttons(context, found))
        return _refusal(context, language, done.outcome)
    await _show_card(context, found, done.html, done.suggestions)
    category = _category_name(context, language, choice.category)
    return services.text(language, "card.corrected", category=category)


def _draw(context: KefuContext, redraw: Redraw, language: Language) -> str:
    """The card's HTML under the corrected verdict, its outcome lines kept."""
    found = redraw.found
    message, buyer = found.message, found.buyer
    kept = _outcome_lines(found)
    prefix = f"[{message.content_type}] " if message.content_type != "text" else ""
    view = CardView(
        card_id=found.card.id,
        buyer_name=buyer.display_name,
        buyer_handle=f"@{buyer.username}" if buyer.username else f"id {buyer.telegram_user_id}",
        text=prefix + message.text,
        classification=redraw.verdict,
        suggestions=redraw.suggestions,
        warnings=redraw.warnings,
        order_id=found.conversation.order_id,
        history=BuyerHistory(*redraw.history),
        blocked=buyer.blocked,
        outcomes=tuple(part for part in (kept, redraw.outcome_line) if part),
        not_stored=redraw.not_stored,
    )
    return render_card(view, wording=context.services.wording, language=language)


def _outcome_lines(found: CardSnapshot) -> str:
    """What was added to the card after it was drawn (who sent what, acknowledgements ...).

    The card as drawn ends with its suggestions, so what follows the last one is kept.
    """
    html = found.card.html
    end = 0
    for suggestion in found.suggestions:
        at = html.find(escape(suggestion.text), end)
        if at < 0:
            return ""
        end = at + len(escape(suggestion.text))
    return html[end:].strip("\n") if end else ""


async def _show_card(
    context: KefuContext, found: CardSnapshot, html: str, suggestions: int
) -> None:
    """Draw the corrected card in place: send buttons only while the card is still open."""
    card = found.card
    if card.chat_id is None or card.card_message_id is None:
        return
    handled = await who_handled(context.services.db, card.id)
    markup = card_markup(context, card.id, suggestions, open_card=handled is None)
    try:
        await context.bot.edit_message_text(
            chat_id=card.chat_id, message_id=card.card_message_id, text=html, reply_markup=markup
        )
    except BadRequest as exc:
        log.info("corrected card %s not redrawn: %s", card.id, exc)


# --- copilot pastes ----------------------------------------------------------------------------


async def _on_paste(
    context: KefuContext,
    user: User,
    role: Role,
    action: CorrectionAction,
    message: MaybeInaccessibleMessage | None,
) -> str | None:
    services = context.services
    language = services.language_of(user.language_code)
    paste = await service.paste_for_correction(
        services.db,
        action.target_id,
        agent_telegram_id=user.id,
        understanding=services.understanding,
    )
    if paste is None:
        return services.text(language, "bot.card_gone")
    shown = message if isinstance(message, Message) else None
    buttons = copilot_keyboard(
        paste.id, current_case=paste.current_case, wording=services.wording, language=language
    )
    if action.action == "back":
        await _paste_markup(shown, buttons)
        return None
    if action.action in ("open", "flags"):
        await _paste_markup(shown, _picker(context, PASTE, paste.id, paste.label, action, language))
        return services.text(language, "card.pick_category") if action.action == "open" else None
    return await _correct_paste(context, user, role, paste, action, shown, buttons)


async def _paste_markup(shown: Message | None, markup: InlineKeyboardMarkup) -> None:
    if shown is None:
        return
    try:
        await shown.edit_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        log.info("paste buttons not changed: %s", exc)


async def _correct_paste(
    context: KefuContext,
    user: User,
    role: Role,
    paste: PasteForCorrection,
    action: CorrectionAction,
    shown: Message | None,
    buttons: InlineKeyboardMarkup,
) -> str | None:
    services = context.services
    language = services.language_of(user.language_code)
    choice = _choice(user, action)
    await ensure_agent(services.db, actor_of(user, role))
    outcome, analysis = await service.correct_paste(
        services.db, paste, choice, understanding=services.understanding
    )
    if analysis is None:
        await _paste_markup(shown, buttons)
        return _refusal(context, language, outcome)
    if shown is not None:
        html = "\n".join(analysis_html(analysis, context, language))
        try:
            await shown.edit_text(fit_html(html), reply_markup=buttons)
        except BadRequest as exc:
            log.info("corrected paste %s not redrawn: %s", paste.id, exc)
    category = _category_name(context, language, choice.category)
    return services.text(language, "card.corrected", category=category)
