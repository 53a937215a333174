"""Agents' cards as plain data: what a card, its buyer message, case and buyer are, for Telegram.

The Telegram side never holds a stored row: it gets a `CardSnapshot` (read in one query), and
asks here to add an outcome line to a card or to find the card a reply answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.core.message_text import TELEGRAM_LIMIT, telegram_length
from bot.core.types import Suggestion
from bot.storage import cards as card_store
from bot.storage.cards import CardContext
from bot.storage.cards import CardHandled as CardHandled
from bot.storage.database import Database, Session
from bot.storage.models import Agent, Card


@dataclass(frozen=True, slots=True)
class CardFacts:
    """A card: where it is shown, what it says, its status and suggestions."""

    id: int
    chat_id: int | None
    thread_id: int | None
    card_message_id: int | None
    html: str
    status: str
    language: str
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """The buyer message a card is about."""

    id: int
    text: str
    category: str | None
    flags: str
    content_type: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """The case (conversation) a card belongs to."""

    id: int
    category: str | None
    order_id: str | None
    status: str
    assigned_agent_id: int | None


@dataclass(frozen=True, slots=True)
class BuyerFacts:
    """The buyer a card's message came from."""

    id: int
    telegram_user_id: int | None
    display_name: str
    username: str | None
    blocked: bool


@dataclass(frozen=True, slots=True)
class CardSnapshot:
    """A card with its buyer message, case and buyer, as read at one moment."""

    card: CardFacts
    message: MessageFacts
    conversation: ConversationFacts
    buyer: BuyerFacts

    @property
    def suggestions(self) -> tuple[Suggestion, ...]:
        """The suggestions offered on the card."""
        return self.card.suggestions


def card_facts(card: Card) -> CardFacts:
    """A stored card as data."""
    suggestions = tuple(
        Suggestion(kind=s["kind"], text=s["text"]) for s in json.loads(card.suggestions)
    )
    return CardFacts(
        id=card.id,
        chat_id=card.chat_id,
        thread_id=card.thread_id,
        card_message_id=card.card_message_id,
        html=card.html,
        status=card.status,
        language=card.language,
        suggestions=suggestions,
    )


def snapshot(found: CardContext) -> CardSnapshot:
    """The rows of a card's context as data."""
    message, conversation, buyer = found.message, found.conversation, found.buyer
    return CardSnapshot(
        card=card_facts(found.card),
        message=MessageFacts(
            id=message.id,
            text=message.text,
            category=message.category,
            flags=message.flags,
            content_type=message.content_type,
            received_at=message.received_at,
        ),
        conversation=ConversationFacts(
            id=conversation.id,
            category=conversation.category,
            order_id=conversation.order_id,
            status=conversation.status,
            assigned_agent_id=conversation.assigned_agent_id,
        ),
        buyer=BuyerFacts(
            id=buyer.id,
            telegram_user_id=buyer.telegram_user_id,
            display_name=buyer.display_name,
            username=buyer.username,
            blocked=buyer.blocked_bot_at is not None,
        ),
    )


async def snapshot_in(session: Session, card_id: int) -> CardSnapshot | None:
    """The card's snapshot read in an open session."""
    found = await card_store.card_context(session=session, card_id=card_id)
    return snapshot(found) if found is not None else None


async def load_card(db: Database, card_id: int) -> CardSnapshot | None:
    """The card and everything it refers to, or None when there is no such card."""
    async with db.session() as session:
        return await snapshot_in(session, card_id)


async def who_handled(db: Database, card_id: int) -> CardHandled | None:
    """What became of a card no longer open, and who did it; None while it is open."""
    async with db.session() as session:
        return await card_store.card_handled(session=session, card_id=card_id)


async def card_answered_by(
    db: Database, *, chat_id: int, replied_message_id: int | None, thread_id: int | None
) -> CardSnapshot | None:
    """The card a team member's message answers: the card replied to, else (in a forum topic)
    the topic's newest card."""
    async with db.session() as session:
        card = None
        if replied_message_id is not None:
            card = await card_store.card_at(
                session=session, chat_id=chat_id, card_message_id=replied_message_id
            )
        if card is None and thread_id is not None:
            card = await card_store.latest_card_in_topic(
                session=session, chat_id=chat_id, thread_id=thread_id
            )
        return await snapshot_in(session, card.id) if card is not None else None


@dataclass(frozen=True, slots=True)
class CardLine:
    """A card after a line was added: its text, status and how many suggestions it offers."""

    html: str
    status: str
    suggestions: int


async def add_card_line(db: Database, card_id: int, line: str) -> CardLine | None:
    """Add a line (already HTML) to a card's stored text; a full card keeps its text."""
    async with db.transaction() as session:
        stored = await session.get(Card, card_id)
        if stored is None:
            return None
        if telegram_length(stored.html) + telegram_length(line) + 1 <= TELEGRAM_LIMIT:
            stored.html = f"{stored.html}\n{line}"
        return CardLine(stored.html, stored.status, len(json.loads(stored.suggestions)))


@dataclass(frozen=True, slots=True)
class AgentChat:
    """Where a case's agent reads about it: the card's chat and topic, else the agent's chat."""

    chat_id: int
    thread_id: int | None = None


async def agent_chat(
    session: Session, *, card: CardFacts | None, assigned_agent_id: int | None
) -> AgentChat | None:
    """Where the conversation's cards go: its forum topic, else the assigned agent's chat."""
    if card is not None and card.chat_id is not None:
        return AgentChat(card.chat_id, card.thread_id)
    if assigned_agent_id is None:
        return None
    agent = await session.get(Agent, assigned_agent_id)
    return AgentChat(agent.telegram_user_id) if agent is not None else None
