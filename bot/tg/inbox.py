"""Buyer inbox: a buyer's message becomes evidence rows and a card for the agents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import Update, User
from telegram.error import NetworkError, TelegramError
from telegram.ext import Application

from bot.core.compose import Composition
from bot.core.inbound import buyer_message, labels_for
from bot.core.roles import Role
from bot.core.types import Category, Classification, Language
from bot.observability.logs import about_update, bind_case, bind_update
from bot.storage import agents as agent_store
from bot.storage import cards as card_store
from bot.storage.database import Session
from bot.storage.filestore import files_not_stored
from bot.storage.models import Buyer, Card, Conversation, Message, utcnow
from bot.storage.shop_model import record_message_models
from bot.tg.context import SERVICES_KEY, KefuApplication, KefuContext, Services
from bot.tg.evidence_app import evidence_inbox_of, mark_updates_processed, recorded_update
from bot.tg.ingest import RecordedMessage, record_fresh_messages
from bot.tg.keyboards import card_keyboard
from bot.tg.render import BuyerHistory, CardView, render_card
from bot.tg.waiting import start_waiting_many

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

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


@dataclass(frozen=True, slots=True)
class BuyerTurn:
    """One buyer message with its evidence rows, ready to become a card."""

    update: Update
    first_name: str
    language_code: str | None
    message: RecordedMessage | Message
    conversation: Conversation
    buyer: Buyer
    classification: Classification
    new: bool  # the message row was appended just now, so it has no card yet


@dataclass(frozen=True, slots=True)
class PendingCard:
    """A card written to the database, with what to show and where."""

    turn: BuyerTurn
    card: Card
    view: CardView
    target: CardTarget | None


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
        turn = BuyerTurn(
            update=update,
            first_name=user.first_name,
            language_code=user.language_code,
            message=record,
            conversation=conversation,
            buyer=buyer,
            classification=services.understanding.classifier.classify(record.text),
            new=recorded.created,
        )
        pending = await prepare_cards(services, session=session, turns=[turn])
    if pending[0].card.card_message_id is not None:
        return  # a replayed update whose card is already out
    if card_store.post_in_doubt(pending[0].card):
        log.warning(
            "card %s was being posted when the bot stopped: not posted again", pending[0].card.id
        )
        return
    for _update, error in await post_cards(context.application, pending):
        raise error  # the application's error handler logs it and tells the team


async def receive_buyer_batch(application: KefuApplication, updates: Sequence[Update]) -> None:
    """A burst of new buyer text messages: recorded and carded together, then posted.

    The evidence rows and cards of the whole batch are written in one transaction and the posted
    cards (with every update's processed mark) in a second one, where one message alone takes
    three; the cards themselves go out concurrently, in order within each conversation.
    """
    services: Services = application.bot_data[SERVICES_KEY]
    inbox = evidence_inbox_of(application)
    classifier = services.understanding.classifier
    async with inbox.turn, services.db.transaction() as session:
        entries = []
        for update in updates:
            payload, received_at = inbox.payload_of(update)
            inbound = buyer_message(payload)
            if inbound is None:
                raise ValueError(f"update {update.update_id} carries no buyer message")
            with services.metrics.classifying():
                verdict = classifier.classify(inbound.text)
            entries.append((inbound, received_at, verdict))
        recorded = await record_fresh_messages(
            session=session, entries=[(i, r, labels_for(c)) for i, r, c in entries]
        )
        turns = []
        for update, (inbound, _, classification), rows in zip(
            updates, entries, recorded, strict=True
        ):
            if rows.message is None or rows.conversation is None or rows.buyer is None:
                raise RuntimeError(f"update {update.update_id} was recorded without its rows")
            turns.append(
                BuyerTurn(
                    update=update,
                    first_name=update.effective_user.first_name if update.effective_user else "",
                    language_code=inbound.buyer.language_code,
                    message=rows.message,
                    conversation=rows.conversation,
                    buyer=rows.buyer,
                    classification=classification,
                    new=rows.created,
                )
            )
        pending = await prepare_cards(services, session=session, turns=turns)
    unsent = [p for p in pending if p.card.card_message_id is None]
    if doubtful := [p for p in unsent if card_store.post_in_doubt(p.card)]:
        log.warning(
            "%d cards were being posted when the bot stopped: not posted again", len(doubtful)
        )
        unsent = [p for p in unsent if not card_store.post_in_doubt(p.card)]
        async with services.db.transaction() as session:
            await mark_updates_processed(
                application, [p.turn.update for p in doubtful], session=session
            )
    cases = {p.turn.update.update_id: p.turn.conversation.id for p in unsent}
    for update, error in await post_cards(application, unsent, guard=inbox.turn):
        with about_update(update.update_id, case=cases.get(update.update_id)):
            await application.process_error(update, error)


async def prepare_cards(
    services: Services, *, session: Session, turns: Sequence[BuyerTurn]
) -> list[PendingCard]:
    """Write the cards for buyer messages (with history, routing and SLA timers), in order."""
    compositions = []
    for turn in turns:
        classification = turn.classification
        language = _written_language(services, turn)
        _update_conversation(
            turn.conversation, classification.category, classification.entities.order_ids
        )
        variables = {
            "buyer_name": turn.first_name,
            "order_id": turn.conversation.order_id,
            "tracking_no": next(iter(classification.entities.tracking_numbers), None),
            "shop_name": services.settings.shop_name,
        }
        compositions.append(
            services.understanding.phrasebook.composer.compose(
                classification, variables=variables, language=language, seed=turn.message.id
            )
        )
    cards = await _cards_for(session, turns, compositions)
    await record_message_models(
        session=session,
        entries=[
            (t.message.id, t.classification.model_version, t.classification.shop_revision)
            for t in turns
        ],
    )
    histories = await _histories(session, turns)
    not_stored = await files_not_stored(
        session=session,
        message_ids=[t.message.id for t in turns if t.message.content_type != "text"],
    )
    conversations = list({t.conversation.id: t.conversation for t in turns}.values())
    targets = await _route(services, session=session, conversations=conversations)
    await start_waiting_many(
        services,
        session=session,
        waiting=[
            (turn.conversation, turn.message.received_at, composition.language)
            for turn, composition in zip(turns, compositions, strict=True)
        ],
    )
    pending = []
    for turn, composition, card, history in zip(turns, compositions, cards, histories, strict=True):
        label = f"[{turn.message.content_type}] " if turn.message.content_type != "text" else ""
        view = CardView(
            card_id=card.id,
            buyer_name=turn.buyer.display_name,
            buyer_handle=f"@{turn.buyer.username}"
            if turn.buyer.username
            else f"id {turn.buyer.telegram_user_id}",
            text=label + turn.message.text,
            classification=turn.classification,
            suggestions=composition.suggestions,
            warnings=composition.warnings,
            order_id=turn.conversation.order_id,
            history=history,
            blocked=turn.buyer.blocked_bot_at is not None,
            not_stored=tuple(not_stored.get(turn.message.id, ())),
        )
        pending.append(PendingCard(turn, card, view, targets.get(turn.conversation.id)))
    return pending


def _written_language(services: Services, turn: BuyerTurn) -> Language:
    """The language the buyer wrote in; for a sticker or a bare photo, their Telegram language."""
    if turn.message.text.strip():
        return turn.classification.language
    return services.language_of(turn.language_code)


async def _cards_for(
    session: Session, turns: Sequence[BuyerTurn], compositions: Sequence[Composition]
) -> list[Card]:
    specs = [
        card_store.NewCard(
            message_id=turn.message.id,
            conversation_id=turn.conversation.id,
            suggestions=list(composition.suggestions),
            language=composition.language.value,
        )
        for turn, composition in zip(turns, compositions, strict=True)
    ]
    fresh = iter(
        await card_store.create_cards(
            session=session, cards=[s for s, t in zip(specs, turns, strict=True) if t.new]
        )
    )
    cards = []
    for spec, turn in zip(specs, turns, strict=True):
        if turn.new:
            cards.append(next(fresh))
        else:  # a replayed update: its card may exist already
            card, _created = await card_store.create_card(
                session=session,
                message_id=spec.message_id,
                conversation_id=spec.conversation_id,
                suggestions=spec.suggestions,
                language=spec.language,
            )
            cards.append(card)
    return cards


async def _histories(session: Session, turns: Sequence[BuyerTurn]) -> list[BuyerHistory]:
    """Each buyer's history as of each message: later messages of the same batch not counted."""
    conversation_ids, counts = await card_store.buyers_history(
        session=session, buyer_ids=[turn.buyer.id for turn in turns]
    )
    later: dict[int, list[int]] = {}
    histories: list[BuyerHistory] = []
    for turn in reversed(turns):
        _none, refunds, threats, extortion = counts[turn.buyer.id]
        seen = later.setdefault(turn.buyer.id, [0, 0, 0])
        earlier = sum(
            1 for other in conversation_ids[turn.buyer.id] if other < turn.conversation.id
        )
        histories.append(
            BuyerHistory(earlier, refunds - seen[0], threats - seen[1], extortion - seen[2])
        )
        if turn.new:
            category, flags = turn.classification.category, turn.classification.flags
            seen[0] += category is Category.RETURN_REFUND
            seen[1] += any(flag.value.startswith("threatens_") for flag in flags)
            seen[2] += category is Category.EXTORTION
    histories.reverse()
    return histories


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
    services: Services, *, session: Session, conversations: Sequence[Conversation]
) -> dict[int, CardTarget | None]:
    """Where each conversation's cards go, by conversation id."""
    settings = services.settings
    if settings.routing == "topics" and settings.agent_chat_id is not None:
        return {
            c.id: CardTarget(
                chat_id=settings.agent_chat_id,
                thread_id=c.topic_id,
                language=services.default_language,
                needs_topic=c.topic_id is None,
            )
            for c in conversations
        }
    agents = await agent_store.assign_agents(session=session, conversations=conversations)
    targets: dict[int, CardTarget | None] = {}
    fallback: CardTarget | bool | None = False  # looked up once, when first needed
    for conversation in conversations:
        agent = agents.get(conversation.id)
        if agent is not None:
            targets[conversation.id] = CardTarget(
                chat_id=agent.telegram_user_id,
                thread_id=None,
                language=services.language_of(agent.language_code),
            )
            continue
        if fallback is False:
            fallback = await _fallback_target(services, session=session)
        if fallback is None:
            log.warning("no agent, supervisor or admin to show conversation %s to", conversation.id)
        targets[conversation.id] = fallback if isinstance(fallback, CardTarget) else None
    return targets


async def _fallback_target(services: Services, *, session: Session) -> CardTarget | None:
    """Supervisors' chat, else the first supervisor or admin, when no agent is available."""
    settings = services.settings
    if settings.supervisor_chat_id is not None:
        return CardTarget(settings.supervisor_chat_id, None, services.default_language)
    supervisors = await agent_store.staff_ids(session=session, minimum=Role.SUPERVISOR)
    fallback = [*settings.supervisor_ids, *settings.admin_ids, *supervisors]
    if fallback:
        return CardTarget(fallback[0], None, services.default_language)
    return None


POST_CONCURRENCY = 4  # conversations whose cards are being sent at once


async def post_cards(
    application: AnyApplication,
    pending: Sequence[PendingCard],
    *,
    guard: AbstractAsyncContextManager[object] | None = None,
) -> list[tuple[Update, Exception]]:
    """Send the cards and record where they went; their updates are marked processed with it.

    A conversation's cards go out in order (its forum topic is created first when it has none);
    different conversations' cards go out concurrently. A crash before the final commit replays
    the updates, which posts their cards. `guard` is held around that commit (the inbox's turn,
    when the caller does not hold it already). Returns the cards that could not be sent, with why.
    """
    services: Services = application.bot_data[SERVICES_KEY]
    by_conversation: dict[int, list[PendingCard]] = {}
    seen: set[int] = set()
    for card in pending:
        if card.card.id in seen:  # one update twice in a batch (delivered again): one post
            log.warning("card %s came twice in one batch: posted once", card.card.id)
            continue
        seen.add(card.card.id)
        by_conversation.setdefault(card.turn.conversation.id, []).append(card)
    posted: list[card_store.PostedCard] = []
    topics: dict[int, int] = {}
    failed: list[tuple[Update, Exception]] = []
    refused: list[int] = []  # cards Telegram answered with an error: certainly not out
    limit = asyncio.Semaphore(POST_CONCURRENCY)

    async def send_conversation(cards: list[PendingCard]) -> None:
        target = cards[0].target
        bind_case(cards[0].turn.conversation.id)  # this task's log lines are about the case
        bind_update(cards[0].turn.update.update_id)
        if target is None:
            return
        async with limit:
            async with services.db.autocommit() as session:  # a crash now: not posted twice
                taken = await card_store.start_posting(
                    session=session, card_ids=[c.card.id for c in cards], chat_id=target.chat_id
                )
            cards = [c for c in cards if c.card.id in taken]
            if not cards:
                return
            thread_id = target.thread_id
            if target.needs_topic:
                thread_id = await _create_topic(application, target, cards[0].turn)
                if thread_id is not None:
                    topics[cards[0].turn.conversation.id] = thread_id
            for card in cards:
                bind_update(card.turn.update.update_id)
                html = render_card(card.view, wording=services.wording, language=target.language)
                try:
                    sent = await application.bot.send_message(
                        chat_id=target.chat_id,
                        message_thread_id=thread_id,
                        text=html,
                        reply_markup=card_keyboard(
                            card.card.id,
                            len(card.view.suggestions),
                            wording=services.wording,
                            language=target.language,
                        ),
                    )
                except Exception as exc:  # reported by the caller; the other cards still go out
                    failed.append((card.turn.update, exc))
                    if isinstance(exc, TelegramError) and not isinstance(exc, NetworkError):
                        refused.append(card.card.id)
                    continue
                posted.append(
                    card_store.PostedCard(
                        card.card.id, sent.chat_id, sent.message_id, thread_id, html
                    )
                )
                services.metrics.card_posted(_seconds_since(card.turn.message.received_at))

    await asyncio.gather(*(send_conversation(cards) for cards in by_conversation.values()))

    async def record(session: Session) -> None:
        await card_store.record_topics(session=session, topics=topics)
        await card_store.mark_cards_posted(session=session, posted=posted)
        await card_store.posting_refused(session=session, card_ids=refused)
        await mark_updates_processed(
            application, [card.turn.update for card in pending], session=session
        )

    # The cards are out: a deadlock here is retried, or the updates would replay and post again.
    async with guard or contextlib.nullcontext():
        await services.db.retrying(record)
    return failed


def _seconds_since(moment: datetime) -> float:
    """Seconds from `moment` (stored UTC, naive on SQLite) until now."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (utcnow() - moment).total_seconds()


async def _create_topic(
    application: AnyApplication, target: CardTarget, turn: BuyerTurn
) -> int | None:
    name = f"{turn.buyer.display_name[:80]} · #{turn.conversation.id}"
    try:
        topic = await application.bot.create_forum_topic(chat_id=target.chat_id, name=name)
    except TelegramError as exc:
        log.warning("could not create a topic for conversation %s: %s", turn.conversation.id, exc)
        return None
    return int(topic.message_thread_id)
