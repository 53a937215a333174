"""Agents' cards and replies in the making (working tables, not evidence)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, case, func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState

from bot.core.types import Suggestion
from bot.storage.models import Agent, Buyer, Card, Conversation, Message, PendingReply, utcnow


@dataclass(frozen=True, slots=True)
class CardContext:
    """A card with the buyer message, conversation and buyer it belongs to."""

    card: Card
    message: Message
    conversation: Conversation
    buyer: Buyer

    @property
    def suggestions(self) -> list[Suggestion]:
        """The suggestions offered on the card."""
        return [
            Suggestion(kind=s["kind"], text=s["text"]) for s in json.loads(self.card.suggestions)
        ]


async def create_card(
    *,
    session: AsyncSession,
    message_id: int,
    conversation_id: int,
    suggestions: list[Suggestion],
    language: str,
    known_new: bool = False,
) -> tuple[Card, bool]:
    """The card for a buyer message, created once; returns (card, created).

    `known_new` says the message was appended just now, so it cannot have a card yet.
    """
    if not known_new:
        existing = (
            await session.execute(select(Card).where(Card.message_id == message_id))
        ).scalar_one_or_none()
        if existing is not None:
            return existing, False
    card = Card(
        message_id=message_id,
        conversation_id=conversation_id,
        suggestions=_suggestions_json(suggestions),
        language=language,
        status="open",
        created_at=utcnow(),
    )
    session.add(card)
    await session.flush()
    return card, True


@dataclass(frozen=True, slots=True)
class NewCard:
    """What a card is made of, for `create_cards`."""

    message_id: int
    conversation_id: int
    suggestions: list[Suggestion]
    language: str


async def create_cards(*, session: AsyncSession, cards: Sequence[NewCard]) -> list[Card]:
    """Cards for buyer messages appended just now (which cannot have one yet), in one flush."""
    now = utcnow()
    rows = [
        Card(
            message_id=spec.message_id,
            conversation_id=spec.conversation_id,
            suggestions=_suggestions_json(spec.suggestions),
            language=spec.language,
            status="open",
            created_at=now,
        )
        for spec in cards
    ]
    session.add_all(rows)
    await session.flush()
    return rows


def _suggestions_json(suggestions: Sequence[Suggestion]) -> str:
    return json.dumps([{"kind": s.kind, "text": s.text} for s in suggestions], ensure_ascii=False)


async def attach_rows(
    *, session: AsyncSession, conversation: Conversation, buyer: Buyer
) -> tuple[Conversation, Buyer]:
    """Rows loaded by another (closed) session, attached to this one without reading them again."""
    attached_conversation = await session.merge(conversation, load=False)
    attached_buyer = await session.merge(buyer, load=False)
    for row in (attached_conversation, attached_buyer):
        state: InstanceState[object] = inspect(row)
        if state.unloaded:  # e.g. a column the database filled: read it after all
            await session.refresh(row)
    return attached_conversation, attached_buyer


async def card_context(*, session: AsyncSession, card_id: int) -> CardContext | None:
    """The card and everything it refers to."""
    row = (
        await session.execute(
            select(Card, Message, Conversation, Buyer)
            .join(Message, Message.id == Card.message_id)
            .join(Conversation, Conversation.id == Card.conversation_id)
            .join(Buyer, Buyer.id == Conversation.buyer_id)
            .where(Card.id == card_id)
        )
    ).first()
    return CardContext(*row) if row is not None else None


async def message_rows(
    *, session: AsyncSession, message_id: int
) -> tuple[Message, Conversation, Buyer] | None:
    """A stored message with its conversation and buyer, in one query."""
    row = (
        await session.execute(
            select(Message, Conversation, Buyer)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Buyer, Buyer.id == Message.buyer_id)
            .where(Message.id == message_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def latest_card(*, session: AsyncSession, conversation_id: int) -> Card | None:
    """The conversation's newest card."""
    return (
        await session.execute(
            select(Card)
            .where(Card.conversation_id == conversation_id)
            .order_by(Card.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def open_cards(*, session: AsyncSession, conversation_id: int) -> int:
    """How many of the conversation's cards still await an agent."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Card)
                .where(Card.conversation_id == conversation_id, Card.status == "open")
            )
        ).scalar_one()
    )


async def card_at(*, session: AsyncSession, chat_id: int, card_message_id: int) -> Card | None:
    """The card shown as message `card_message_id` in `chat_id`."""
    return (
        await session.execute(
            select(Card).where(Card.chat_id == chat_id, Card.card_message_id == card_message_id)
        )
    ).scalar_one_or_none()


async def latest_card_in_topic(
    *, session: AsyncSession, chat_id: int, thread_id: int
) -> Card | None:
    """The newest card posted in a forum topic (a free reply there answers that conversation)."""
    return (
        await session.execute(
            select(Card)
            .where(Card.chat_id == chat_id, Card.thread_id == thread_id)
            .order_by(Card.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class PostedCard:
    """Where a card was shown and what it said, for `mark_cards_posted`."""

    card_id: int
    chat_id: int
    card_message_id: int
    thread_id: int | None
    html: str


# A Core UPDATE (on the table, not the class), so a list of parameters is one executemany.
_CARDS: Table = Card.__table__  # type: ignore[assignment]
_MARK_POSTED = (
    update(_CARDS)
    .where(_CARDS.c.id == bindparam("b_card_id"))
    .values(
        chat_id=bindparam("b_chat_id"),
        card_message_id=bindparam("b_card_message_id"),
        thread_id=bindparam("b_thread_id"),
        html=bindparam("b_html"),
    )
)


async def mark_cards_posted(*, session: AsyncSession, posted: Sequence[PostedCard]) -> None:
    """Remember where each card was shown and what it said (one statement for all)."""
    posted = sorted(posted, key=lambda p: p.card_id)  # row locks in one order in every process
    if posted:
        await session.execute(
            _MARK_POSTED,
            [
                {
                    "b_card_id": p.card_id,
                    "b_chat_id": p.chat_id,
                    "b_card_message_id": p.card_message_id,
                    "b_thread_id": p.thread_id,
                    "b_html": p.html,
                }
                for p in posted
            ],
        )


async def replace_suggestions(
    *, session: AsyncSession, card_id: int, suggestions: Sequence[Suggestion], html: str
) -> None:
    """A corrected card's new suggestions and text (its status and who handled it stay)."""
    await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id == card_id)
        .values(suggestions=_suggestions_json(suggestions), html=html)
    )


@dataclass(frozen=True, slots=True)
class CardHandled:
    """Who took a card and when, for telling a second presser it is already done."""

    status: str
    agent_name: str
    handled_at: datetime | None


async def claim_card(
    *, session: AsyncSession, card_id: int, status: str, agent_id: int | None
) -> bool:
    """Take an open card for one outcome in one conditional UPDATE; True for the one caller that won.

    Safe across processes: the UPDATE only matches while the card is `open`, so of two concurrent
    claims (two taps, two agents, two bot processes) exactly one reports a row.
    """
    result = await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id == card_id, _CARDS.c.status == "open")
        .values(status=status, handled_by_agent_id=agent_id, handled_at=utcnow())
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def release_card(*, session: AsyncSession, card_id: int, status: str) -> bool:
    """Give a claimed card back (its reply could not be delivered); True when it was reopened."""
    result = await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id == card_id, _CARDS.c.status == status)
        .values(status="open", handled_by_agent_id=None, handled_at=None)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def card_handled(*, session: AsyncSession, card_id: int) -> CardHandled | None:
    """What became of a card that is no longer open, and who did it; None while it is open."""
    row = (
        await session.execute(
            select(_CARDS.c.status, _CARDS.c.handled_at, Agent.display_name)
            .select_from(_CARDS.outerjoin(Agent, Agent.id == _CARDS.c.handled_by_agent_id))
            .where(_CARDS.c.id == card_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None or row.status == "open":
        return None
    return CardHandled(
        status=str(row.status), agent_name=str(row.display_name or ""), handled_at=row.handled_at
    )


async def close_card(
    *, session: AsyncSession, card: Card, status: str, agent_id: int | None
) -> None:
    """Record what became of the card (sent, replied, skipped, escalated) and who did it."""
    card.status = status
    card.handled_by_agent_id = agent_id
    card.handled_at = utcnow()
    await session.flush()


async def create_pending(
    *,
    session: AsyncSession,
    card_id: int,
    agent_telegram_id: int,
    kind: str,
    text: str = "",
    suggestion_index: int | None = None,
    edited: bool = False,
    prompt_until: datetime | None = None,
) -> PendingReply:
    """A reply in the making: an edit prompt (`edit`), a checked draft to confirm (`confirm`),
    or a follow-up reminder (`follow_up`, with the lease on telling the agent)."""
    pending = PendingReply(
        card_id=card_id,
        agent_telegram_id=agent_telegram_id,
        kind=kind,
        text=text,
        suggestion_index=suggestion_index,
        edited=edited,
        status="waiting",
        prompt_until=prompt_until,
        created_at=utcnow(),
    )
    session.add(pending)
    await session.flush()
    return pending


async def claim_pending(*, session: AsyncSession, pending_id: int, status: str) -> bool:
    """Move a waiting reply in the making to `status` in one conditional UPDATE; True if this call did."""
    result = await session.execute(
        update(PendingReply)
        .where(PendingReply.id == pending_id, PendingReply.status == "waiting")
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def pending_prompt(
    *, session: AsyncSession, chat_id: int, prompt_message_id: int
) -> PendingReply | None:
    """The waiting edit prompt shown as `prompt_message_id` in `chat_id`."""
    return (
        await session.execute(
            select(PendingReply).where(
                PendingReply.chat_id == chat_id,
                PendingReply.prompt_message_id == prompt_message_id,
                PendingReply.kind == "edit",  # a follow-up reminder records its message too
                PendingReply.status == "waiting",
            )
        )
    ).scalar_one_or_none()


BuyerCounts = tuple[int, int, int, int]


async def buyers_history(
    *, session: AsyncSession, buyer_ids: Sequence[int]
) -> tuple[dict[int, list[int]], dict[int, BuyerCounts]]:
    """For several buyers: their conversation ids, and (0, refunds, threats, extortion) so far.

    A buyer's history as of a conversation is the number of conversations before it, and these
    sums over the buyer's messages: refund requests, review or complaint threats, extortion.
    """
    wanted = list(dict.fromkeys(buyer_ids))
    conversations: dict[int, list[int]] = {buyer_id: [] for buyer_id in wanted}
    rows = await session.execute(
        select(Conversation.buyer_id, Conversation.id).where(Conversation.buyer_id.in_(wanted))
    )
    for buyer_id, conversation_id in rows:
        conversations[buyer_id].append(conversation_id)
    sums = await session.execute(
        select(
            Message.buyer_id,
            func.sum(case((Message.category == "return_refund", 1), else_=0)),
            func.sum(case((Message.flags.like("%threatens_%"), 1), else_=0)),
            func.sum(case((Message.category == "extortion", 1), else_=0)),
        )
        .where(Message.buyer_id.in_(wanted), Message.direction == "in")
        .group_by(Message.buyer_id)
    )
    counts = {buyer_id: (0, 0, 0, 0) for buyer_id in wanted}
    for buyer_id, refunds, threats, extortion in sums:
        counts[buyer_id] = (0, int(refunds or 0), int(threats or 0), int(extortion or 0))
    return conversations, counts


def seconds_between(start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end` (both aware)."""
    return round((end - start).total_seconds(), 3)
