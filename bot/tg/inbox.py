"""Buyer inbox: a buyer's message becomes evidence rows and a card for the agents."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update, User
from telegram.error import TelegramError

from bot.core.roles import Role
from bot.core.types import Category, Language
from bot.storage import agents as agent_store
from bot.storage import cards as card_store
from bot.storage.database import Session
from bot.storage.models import Buyer, Card, Conversation, Message
from bot.tg.context import KefuContext, Services
from bot.tg.ingest import RecordedMessage, mark_update_processed, recorded_update
from bot.tg.keyboards import card_keyboard
from bot.tg.render import BuyerHistory, CardView, render_card
from bot.tg.waiting import start_waiting

log = logging.getLogger(__name__)

CAUSE_CATEGORIES = frozenset(
    {
        Category.NOT_RECEIVED,
        Category.SHIPPING_DELAY,
        Category.DAMAGED_MISSING,
        Category.WRONG_ITEM,
        Category.NOT_AS_DESCRIBED,
        Category.QUALITY,
        Category.EXTORTION,
    }
)


async def receive_buyer_message(update: Update, user: User, context: KefuContext) -> None:
    """Put a card before the agents for a buyer message the evidence inbox has just recorded."""
    services = context.services
    recorded = recorded_update(context.application, update)
    if recorded is None or recorded.message_id is None:
        log.error("update %s reached the inbox without evidence rows", update.update_id)
        return
    async with services.db.transaction() as session:
        record: RecordedMessage | Message
        if recorded.message and recorded.conversation and recorded.buyer:
            # Just written by the evidence inbox in this process: attach, do not read back.
            record = recorded.message
            conversation, buyer = await card_store.attach_rows(
                session=session, conversation=recorded.conversation, buyer=recorded.buyer
            )
        else:
            rows = await card_store.message_rows(session=session, message_id=recorded.message_id)
            if rows is None:
                log.error("evidence rows of update %s are missing", update.update_id)
                return
            record, conversation, buyer = rows
        classification = services.understanding.classifier.classify(record.text)
        if record.text.strip():
            language = classification.language
        else:  # a sticker or a photo without caption: nothing to read the buyer's language from
            language = services.language_of(user.language_code)
        _update_conversation(
            conversation, classification.category, classification.entities.order_ids
        )
        variables = {
            "buyer_name": user.first_name,
            "order_id": conversation.order_id,
            "tracking_no": next(iter(classification.entities.tracking_numbers), None),
            "shop_name": services.settings.shop_name,
        }
        composition = services.understanding.phrasebook.composer.compose(
            classification, variables=variables, language=language, seed=record.id
        )
        card, _created = await card_store.create_card(
            session=session,
            message_id=record.id,
            conversation_id=conversation.id,
            suggestions=list(composition.suggestions),
            language=composition.language.value,
            known_new=recorded.created,
        )
        history = BuyerHistory(
            *await card_store.buyer_history(
                session=session, buyer_id=buyer.id, before_conversation_id=conversation.id
            )
        )
        target = await _route(services, session=session, conversation=conversation)
        await start_waiting(
            services, session=session, conversation=conversation, since=record.received_at
        )
    if card.card_message_id is not None:
        return  # a replayed update whose card is already out
    label = f"[{record.content_type}] " if record.content_type != "text" else ""
    view = CardView(
        card_id=card.id,
        buyer_name=buyer.display_name,
        buyer_handle=f"@{buyer.username}" if buyer.username else f"id {buyer.telegram_user_id}",
        text=label + record.text,
        classification=classification,
        suggestions=composition.suggestions,
        warnings=composition.warnings,
        order_id=conversation.order_id,
        history=history,
        blocked=buyer.blocked_bot_at is not None,
    )
    await post_card(
        context,
        card=card,
        view=view,
        target=target,
        conversation=conversation,
        buyer=buyer,
        update=update,
    )


def _update_conversation(
    conversation: Conversation, category: Category, order_ids: tuple[str, ...]
) -> None:
    if order_ids and not conversation.order_id:
        conversation.order_id = order_ids[0][:64]
    current = Category(conversation.category) if conversation.category else None
    # A conversation is filed under its cause; a later "I want a refund" does not hide "it broke".
    if current is None or (category in CAUSE_CATEGORIES and current not in CAUSE_CATEGORIES):
        conversation.category = category.value
    if category is Category.EXTORTION:
        conversation.category = category.value


@dataclass(frozen=True, slots=True)
class CardTarget:
    """Where a card goes: a chat, maybe a forum topic, and the language to write it in."""

    chat_id: int
    thread_id: int | None
    language: Language
    needs_topic: bool = False


async def _route(
    services: Services, *, session: Session, conversation: Conversation
) -> CardTarget | None:
    settings = services.settings
    if settings.routing == "topics" and settings.agent_chat_id is not None:
        return CardTarget(
            chat_id=settings.agent_chat_id,
            thread_id=conversation.topic_id,
            language=services.default_language,
            needs_topic=conversation.topic_id is None,
        )
    agent = await agent_store.assign_agent(session=session, conversation=conversation)
    if agent is not None:
        return CardTarget(
            chat_id=agent.telegram_user_id,
            thread_id=None,
            language=services.language_of(agent.language_code),
        )
    if settings.supervisor_chat_id is not None:
        return CardTarget(settings.supervisor_chat_id, None, services.default_language)
    supervisors = await agent_store.staff_ids(session=session, minimum=Role.SUPERVISOR)
    fallback = [*settings.supervisor_ids, *settings.admin_ids, *supervisors]
    if fallback:
        return CardTarget(fallback[0], None, services.default_language)
    log.warning("no agent, supervisor or admin to show conversation %s to", conversation.id)
    return None


async def post_card(
    context: KefuContext,
    *,
    card: Card,
    view: CardView,
    target: CardTarget | None,
    conversation: Conversation,
    buyer: Buyer,
    update: Update | None = None,
) -> None:
    """Send the card (creating the conversation's forum topic first if needed) and remember where.

    With `update`, the update is marked processed in the same transaction that records the card
    as posted (one commit fewer; a crash before it replays the update, which posts the card).
    """
    if target is None:
        return
    services = context.services
    thread_id = target.thread_id
    if target.needs_topic:
        name = f"{buyer.display_name[:80]} · #{conversation.id}"
        try:
            topic = await context.bot.create_forum_topic(chat_id=target.chat_id, name=name)
            thread_id = topic.message_thread_id
        except TelegramError as exc:
            log.warning("could not create a topic for conversation %s: %s", conversation.id, exc)
        else:
            async with services.db.transaction() as session:
                stored = await session.get(Conversation, conversation.id)
                if stored is not None:
                    stored.topic_id = thread_id
    html = render_card(view, wording=services.wording, language=target.language)
    sent = await context.bot.send_message(
        chat_id=target.chat_id,
        message_thread_id=thread_id,
        text=html,
        reply_markup=card_keyboard(
            card.id, len(view.suggestions), wording=services.wording, language=target.language
        ),
    )
    async with services.db.transaction() as session:
        await card_store.mark_card_posted(
            session=session,
            card_id=card.id,
            chat_id=sent.chat_id,
            card_message_id=sent.message_id,
            thread_id=thread_id,
            html=html,
        )
        if update is not None:
            await mark_update_processed(context.application, update, session=session)
