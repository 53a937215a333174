"""Buyers and conversations: the non-evidence rows an incoming message needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.inbound import BuyerRef
from bot.storage.models import (
    CLOSED_STATUSES,
    OPEN_CONVERSATION_WHERE,
    Buyer,
    Conversation,
    utcnow,
)


async def get_or_create_buyer(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    display_name: str,
    username: str | None = None,
    language_code: str | None = None,
) -> Buyer:
    """The buyer with this Telegram user id, created on first contact (safe under concurrency)."""
    person = BuyerRef(
        telegram_user_id=telegram_user_id,
        display_name=display_name,
        username=username,
        language_code=language_code,
    )
    buyer = (await get_or_create_buyers(session=session, people=[person]))[telegram_user_id]
    await session.flush()  # a changed name is written now, as callers read it back
    return buyer


async def open_conversation_for(
    *, session: AsyncSession, buyer_id: int, platform: str = "telegram"
) -> Conversation:
    """The buyer's newest conversation that is not resolved or closed, else a new one."""
    found = await open_conversations_for(session=session, buyer_ids=[buyer_id], platform=platform)
    return found[buyer_id]


async def get_or_create_buyers(
    *, session: AsyncSession, people: Sequence[BuyerRef]
) -> dict[int, Buyer]:
    """The buyers with these Telegram user ids, created on first contact, by Telegram user id.

    Safe under concurrency (a buyer another process created meanwhile is read back); a buyer's
    name, username and language are updated to the newest ones given.
    """
    # (name, username, language) as stored, by user id; the newest given wins
    fresh = {
        p.telegram_user_id: (
            p.display_name[:256],
            _short(p.username, 64),
            _short(p.language_code, 16),
        )
        for p in people
    }
    found: dict[int, Buyer] = {}

    async def read(user_ids: list[int]) -> None:
        rows = await session.execute(select(Buyer).where(Buyer.telegram_user_id.in_(user_ids)))
        found.update(
            {b.telegram_user_id: b for b in rows.scalars() if b.telegram_user_id is not None}
        )

    await read(list(fresh))
    missing = [user_id for user_id in fresh if user_id not in found]
    if missing:
        now = utcnow()
        dialect = session.get_bind().dialect.name
        insert_module = postgresql if dialect == "postgresql" else sqlite
        await session.execute(
            insert_module.insert(Buyer)
            .values(
                [
                    {
                        "telegram_user_id": user_id,
                        "platform": "telegram",
                        "display_name": fresh[user_id][0],
                        "username": fresh[user_id][1],
                        "language_code": fresh[user_id][2],
                        "created_at": now,
                    }
                    for user_id in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["telegram_user_id"])
        )
        await read(missing)
    for user_id, buyer in found.items():
        name = fresh[user_id]
        if name[0] and (buyer.display_name, buyer.username, buyer.language_code) != name:
            buyer.display_name, buyer.username, buyer.language_code = name
    return found


def _short(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


async def open_conversations_for(
    *, session: AsyncSession, buyer_ids: Sequence[int], platform: str = "telegram"
) -> dict[int, Conversation]:
    """Each buyer's open conversation (resolved and closed ones are not), else a new one, by
    buyer id.

    Safe under concurrency: the database keeps one open conversation per buyer (a partial
    unique index), so a conversation another process opened meanwhile is read back, not doubled.
    """
    wanted = list(dict.fromkeys(buyer_ids))
    found = await _open_conversations(session=session, buyer_ids=wanted, platform=platform)
    missing = [buyer_id for buyer_id in wanted if buyer_id not in found]
    if missing:
        dialect = session.get_bind().dialect.name
        insert_module = postgresql if dialect == "postgresql" else sqlite
        await session.execute(
            insert_module.insert(Conversation)
            .values([_new_conversation_values(buyer_id, platform) for buyer_id in missing])
            .on_conflict_do_nothing(
                index_elements=["buyer_id", "platform"],
                index_where=text(OPEN_CONVERSATION_WHERE),
            )
        )
        found.update(
            await _open_conversations(session=session, buyer_ids=missing, platform=platform)
        )
    return found


async def _open_conversations(
    *, session: AsyncSession, buyer_ids: Sequence[int], platform: str
) -> dict[int, Conversation]:
    rows = await session.execute(
        select(Conversation)
        .where(
            Conversation.buyer_id.in_(buyer_ids),
            Conversation.platform == platform,
            Conversation.status.not_in(CLOSED_STATUSES),
        )
        .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
        .execution_options(populate_existing=True)
    )
    found: dict[int, Conversation] = {}
    for conversation in rows.scalars():
        found.setdefault(conversation.buyer_id, conversation)
    return found


def _new_conversation_values(buyer_id: int, platform: str) -> dict[str, object]:
    now = utcnow()
    return {
        "buyer_id": buyer_id,
        "platform": platform,
        "status": "new",
        "opened_at": now,
        "updated_at": now,
    }


async def set_buyer_blocked(*, session: AsyncSession, telegram_user_id: int, blocked: bool) -> bool:
    """Record that a buyer blocked (or unblocked) the bot; False for an unknown buyer."""
    buyer = (
        await session.execute(select(Buyer).where(Buyer.telegram_user_id == telegram_user_id))
    ).scalar_one_or_none()
    if buyer is None:
        return False
    if blocked and buyer.blocked_bot_at is None:
        buyer.blocked_bot_at = utcnow()
    elif not blocked:
        buyer.blocked_bot_at = None
    await session.flush()
    return True


async def record_case_topic(*, session: AsyncSession, conversation_id: int, thread_id: int) -> int:
    """Record the forum topic just created for a case, unless one is recorded already (another
    process made one at the same time); the case's topic now, which its cards go to."""
    await set_case_topics(session=session, topics={conversation_id: thread_id})
    recorded = await session.scalar(
        select(Conversation.topic_id).where(Conversation.id == conversation_id)
    )
    return int(recorded) if recorded is not None else thread_id


async def forget_case_topic(*, session: AsyncSession, conversation_id: int, thread_id: int) -> None:
    """The case's topic is gone (deleted in the forum): a new one is made for its next
    card. Only that topic is forgotten: one another process recorded since stays."""
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.topic_id == thread_id)
        .values(topic_id=None)
    )


async def set_case_topics(*, session: AsyncSession, topics: Mapping[int, int]) -> None:
    """Remember the forum topic created for each case (case id -> message thread id).

    In case id order, so two processes recording topics never wait on each other crosswise (a
    deadlock); a topic already recorded (another process made one at the same time) stays."""
    for conversation_id in sorted(topics):
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.topic_id.is_(None))
            .values(topic_id=topics[conversation_id])
        )
