"""`分类不对` / Wrong category: an agent corrects the category (and flags) of a card or a paste.

The picker replaces the card's buttons; a choice is claimed in the database (`claim_correction`,
one correction however many presses), then the card is drawn again with the new category's
suggestions, the case is filed under it, and the card keeps a line saying who corrected what.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from html import escape

from telegram import InlineKeyboardMarkup, MaybeInaccessibleMessage, Message, User
from telegram.error import BadRequest

from bot.core.labels import CardLabel, corrected, parse_category, parse_flags
from bot.core.roles import Role
from bot.core.types import Category, Language, Suggestion
from bot.storage import cards as card_store
from bot.storage import copilot as paste_store
from bot.storage import labels as label_store
from bot.storage.cards import CardContext
from bot.storage.database import Session
from bot.storage.filestore import files_not_stored
from bot.storage.models import CopilotPaste
from bot.tg.context import KefuContext
from bot.tg.copilot import analysis_html
from bot.tg.keyboards import PASTE, CorrectionAction, category_picker, copilot_keyboard
from bot.tg.render import BuyerHistory, CardView, outcome_line, render_card
from bot.tg.replies import card_markup, ensure_agent, local_time

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


def _refusal(
    context: KefuContext, language: Language, outcome: label_store.CorrectionOutcome
) -> str:
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


# --- cards -------------------------------------------------------------------------------------


def _original(found: CardContext) -> CardLabel:
    """What Kefu itself said of the card's message."""
    return CardLabel(parse_category(found.message.category), parse_flags(found.message.flags))


async def _on_card(
    context: KefuContext, user: User, role: Role, action: CorrectionAction
) -> str | None:
    services = context.services
    async with services.db.session() as session:
        found = await card_store.card_context(session=session, card_id=action.target_id)
        label = (
            await label_store.current_label(
                session=session,
                target=label_store.card_target(found.card.id),
                original=_original(found),
            )
            if found is not None
            else None
        )
    if found is None or label is None:
        return services.text(services.language_of(user.language_code), "bot.card_gone")
    language = _language(context, user, found.card.chat_id)
    if action.action == "back":
        await _show_markup(context, found, _card_buttons(context, found))
        return None
    if action.action in ("open", "flags"):
        revision = label.revision if action.action == "open" else action.revision
        flags = label.flags if action.action == "open" else action.flags
        picker = category_picker(
            "card",
            found.card.id,
            replace(label, revision=revision),
            flags,
            wording=services.wording,
            language=language,
        )
        await _show_markup(context, found, picker)
        return services.text(language, "card.pick_category") if action.action == "open" else None
    return await _correct_card(context, user, role, found, action, language)


def _card_buttons(context: KefuContext, found: CardContext) -> InlineKeyboardMarkup:
    return card_markup(
        context,
        found.card.id,
        len(found.suggestions),
        open_card=found.card.status == "open",
    )


async def _show_markup(
    context: KefuContext, found: CardContext, markup: InlineKeyboardMarkup
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
    found: CardContext,
    action: CorrectionAction,
    language: Language,
) -> str | None:
    """Claim the correction, re-compose the suggestions, file the case, draw the card again."""
    services = context.services
    assert action.category is not None
    await ensure_agent(context, user, role)
    async with services.db.transaction() as session:
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.card_target(found.card.id),
            message_id=found.message.id,
            original=_original(found),
            expected_revision=action.revision,
            category=action.category,
            flags=action.flags,
            actor_telegram_id=user.id,
        )
        if not outcome.written:
            refusal = _refusal(context, language, outcome)
        else:
            line = outcome_line(
                CORRECTED_ICON,
                services.text(
                    language,
                    "card.corrected_by",
                    agent_name=user.full_name,
                    old=_category_name(context, language, outcome.previous.category),
                    new=_category_name(context, language, action.category),
                ),
            )
            html, suggestions = await _redrawn_card(
                context, session, found, outcome.label, line, language
            )
            await card_store.replace_suggestions(
                session=session, card_id=found.card.id, suggestions=suggestions, html=html
            )
            await label_store.file_case_under(
                session=session, conversation_id=found.conversation.id, category=action.category
            )
    if not outcome.written:
        await _show_markup(context, found, _card_buttons(context, found))
        return refusal
    await _show_card(context, found, html, len(suggestions))
    return services.text(
        language,
        "card.corrected",
        category=_category_name(context, language, action.category),
    )


async def _redrawn_card(
    context: KefuContext,
    session: Session,
    found: CardContext,
    label: CardLabel,
    line: str,
    language: Language,
) -> tuple[str, list[Suggestion]]:
    """The card's HTML under the corrected verdict (its outcome lines kept) and new suggestions."""
    services = context.services
    understanding = services.understanding
    message, conversation, buyer = found.message, found.conversation, found.buyer
    verdict = corrected(understanding.classifier.classify(message.text), label)
    composition = understanding.phrasebook.composer.compose(
        verdict,
        variables={
            "buyer_name": buyer.display_name.split(" ")[0] if buyer.display_name else None,
            "order_id": conversation.order_id,
            "tracking_no": next(iter(verdict.entities.tracking_numbers), None),
            "shop_name": services.settings.shop_name,
        },
        language=Language(found.card.language),
        seed=message.id,
    )
    not_stored = await files_not_stored(
        session=session, message_ids=[message.id] if message.content_type != "text" else []
    )
    kept = _outcome_lines(found)
    prefix = f"[{message.content_type}] " if message.content_type != "text" else ""
    view = CardView(
        card_id=found.card.id,
        buyer_name=buyer.display_name,
        buyer_handle=f"@{buyer.username}" if buyer.username else f"id {buyer.telegram_user_id}",
        text=prefix + message.text,
        classification=verdict,
        suggestions=composition.suggestions,
        warnings=composition.warnings,
        order_id=conversation.order_id,
        history=await _history(session, found),
        blocked=buyer.blocked_bot_at is not None,
        outcomes=tuple(part for part in (kept, line) if part),
        not_stored=tuple(not_stored.get(message.id, ())),
    )
    html = render_card(view, wording=services.wording, language=language)
    return html, list(composition.suggestions)


def _outcome_lines(found: CardContext) -> str:
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


async def _history(session: Session, found: CardContext) -> BuyerHistory:
    conversations, counts = await card_store.buyers_history(
        session=session, buyer_ids=[found.buyer.id]
    )
    earlier = sum(1 for other in conversations[found.buyer.id] if other < found.conversation.id)
    _none, refunds, threats, extortion = counts[found.buyer.id]
    return BuyerHistory(earlier, refunds, threats, extortion)


async def _show_card(context: KefuContext, found: CardContext, html: str, suggestions: int) -> None:
    """Draw the corrected card in place: send buttons only while the card is still open."""
    card = found.card
    if card.chat_id is None or card.card_message_id is None:
        return
    async with context.services.db.session() as session:
        handled = await card_store.card_handled(session=session, card_id=card.id)
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
    async with services.db.session() as session:
        stored = await session.get(CopilotPaste, action.target_id)
        if stored is None or stored.agent_telegram_id != user.id:
            return services.text(language, "bot.card_gone")
        original = await _paste_original(context, session, stored)
        label = await label_store.current_label(
            session=session, target=label_store.paste_target(stored.id), original=original
        )
        current = await paste_store.current_case(session=session, agent_telegram_id=user.id)
    shown = message if isinstance(message, Message) else None
    buttons = copilot_keyboard(
        stored.id,
        current_case=current.id if current else None,
        wording=services.wording,
        language=language,
    )
    if action.action == "back":
        await _paste_markup(shown, buttons)
        return None
    if action.action in ("open", "flags"):
        revision = label.revision if action.action == "open" else action.revision
        flags = label.flags if action.action == "open" else action.flags
        picker = category_picker(
            PASTE,
            stored.id,
            replace(label, revision=revision),
            flags,
            wording=services.wording,
            language=language,
        )
        await _paste_markup(shown, picker)
        return services.text(language, "card.pick_category") if action.action == "open" else None
    return await _correct_paste(context, user, role, stored, original, action, shown, buttons)


async def _paste_original(
    context: KefuContext, session: Session, stored: CopilotPaste
) -> CardLabel:
    """Kefu's verdict on a paste: as logged, or as the classifier says (before it is logged)."""
    if stored.message_id is not None:
        rows = await card_store.message_rows(session=session, message_id=stored.message_id)
        if rows is not None:
            return CardLabel(parse_category(rows[0].category), parse_flags(rows[0].flags))
    verdict = context.services.understanding.classifier.classify(stored.text)
    return CardLabel(verdict.category, verdict.flags)


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
    stored: CopilotPaste,
    original: CardLabel,
    action: CorrectionAction,
    shown: Message | None,
    buttons: InlineKeyboardMarkup,
) -> str | None:
    services = context.services
    language = services.language_of(user.language_code)
    assert action.category is not None
    await ensure_agent(context, user, role)
    async with services.db.transaction() as session:
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.paste_target(stored.id),
            message_id=stored.message_id,
            original=original,
            expected_revision=action.revision,
            category=action.category,
            flags=action.flags,
            actor_telegram_id=user.id,
            extra={"paste": stored.id},
        )
        if outcome.written:
            analysis = services.understanding.analyse_corrected(
                stored.text, outcome.label, seed=stored.telegram_message_id
            )
            attached = await session.get(CopilotPaste, stored.id)
            if attached is not None:
                attached.suggestions = paste_store.suggestions_json(
                    analysis.composition.suggestions
                )
            if stored.conversation_id is not None:
                await label_store.file_case_under(
                    session=session,
                    conversation_id=stored.conversation_id,
                    category=action.category,
                )
    if not outcome.written:
        await _paste_markup(shown, buttons)
        return _refusal(context, language, outcome)
    if shown is not None:
        html = "\n".join(analysis_html(analysis, context, language))
        try:
            await shown.edit_text(html[:4096], reply_markup=buttons)
        except BadRequest as exc:
            log.info("corrected paste %s not redrawn: %s", stored.id, exc)
    return services.text(
        language,
        "card.corrected",
        category=_category_name(context, language, action.category),
    )
