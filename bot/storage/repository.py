"""Buyers and conversations: the non-evidence rows an incoming message needs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.inbound import BuyerRef
from bot.storage.models import Buyer, Conversation, utcnow

CLOSED_STATUSES = ("resolved", "closed")
_UNSET_CONVERSATION_COLUMNS = tuple(
    column.key
    for column in Conversation.__table__.columns
    if column.nullable and column.default is None and column.server_default is None
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
    name = display_name[:256]
    short_username = username[:64] if username else username
    language = language_code[:16] if language_code else language_code
    by_user = select(Buyer).where(Buyer.telegram_user_id == telegram_user_id)
    buyer = (await session.execute(by_user)).scalar_one_or_none()
    if buyer is None:
        buyer = await _insert_buyer(
            session=session,
            telegram_user_id=telegram_user_id,
            name=name,
            username=short_username,
            language=language,
        )
    changed = (buyer.display_name, buyer.username, buyer.language_code) != (
        name,
        short_username,
        language,
    )
    if changed and name:
        buyer.display_name = name
        buyer.username = short_username
        buyer.language_code = language
        await session.flush()
    return buyer


async def _insert_buyer(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    name: str,
    username: str | None,
    language: str | None,
) -> Buyer:
    values = {
        "telegram_user_id": telegram_user_id,
        "platform": "telegram",
        "display_name": name,
        "username": username,
        "language_code": language,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert_module = postgresql if dialect == "postgresql" else sqlite
    await session.execute(
        insert_module.insert(Buyer)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["telegram_user_id"])
    )
    return (
        await session.execute(select(Buyer).where(Buyer.telegram_user_id == telegram_user_id))
    ).scalar_one()


async def open_conversation_for(
    *, session: AsyncSession, buyer_id: int, platform: str = "telegram"
) -> Conversation:
    """The buyer's newest conversation that is not resolved or closed, else a new one."""
    found = (
        await session.execute(
            select(Conversation)
            .where(
                Conversation.buyer_id == buyer_id,
                Conversation.platform == platform,
                Conversation.status.not_in(CLOSED_STATUSES),
            )
            .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    conversation = _new_conversation(buyer_id, platform)
    session.add(conversation)
    await session.flush()
    return conversation


async def get_or_create_buyers(
    *, session: AsyncSession, people: Sequence[BuyerRef]
) -> dict[int, Buyer]:
    """`get_or_create_buyer` for several Telegram users at once, by Telegram user id."""
    latest = {person.telegram_user_id: person for person in people}  # the newest name wins
    ids = list(latest)
    by_user = select(Buyer).where(Buyer.telegram_user_id.in_(ids))
    found: dict[int | None, Buyer] = {
        b.telegram_user_id: b for b in (await session.execute(by_user)).scalars()
    }
    missing = [user_id for user_id in ids if user_id not in found]
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
                        "display_name": latest[user_id].display_name[:256],
                        "username": _short(latest[user_id].username, 64),
                        "language_code": _short(latest[user_id].language_code, 16),
                        "created_at": now,
                    }
                    for user_id in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["telegram_user_id"])
        )
        again = select(Buyer).where(Buyer.telegram_user_id.in_(missing))
        found.update({b.telegram_user_id: b for b in (await session.execute(again)).scalars()})
    for user_id, buyer in found.items():
        if user_id is None:
            continue
        person = latest[user_id]
        fresh = (
            person.display_name[:256],
            _short(person.username, 64),
            _short(person.language_code, 16),
        )
        if fresh[0] and (buyer.display_name, buyer.username, buyer.language_code) != fresh:
            buyer.display_name, buyer.username, buyer.language_code = fresh
    return {user_id: buyer for user_id, buyer in found.items() if user_id is not None}


def _short(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


async def open_conversations_for(
    *, session: AsyncSession, buyer_ids: Sequence[int], platform: str = "telegram"
) -> dict[int, Conversation]:
    """`open_conversation_for` for several buyers at once, by buyer id (new ones flushed)."""
    wanted = list(dict.fromkeys(buyer_ids))
    rows = await session.execute(
        select(Conversation)
        .where(
            Conversation.buyer_id.in_(wanted),
            Conversation.platform == platform,
            Conversation.status.not_in(CLOSED_STATUSES),
        )
        .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
    )
    found: dict[int, Conversation] = {}
    for conversation in rows.scalars():
        found.setdefault(conversation.buyer_id, conversation)
    created = [
        _new_conversation(buyer_id, platform) for buyer_id in wanted if buyer_id not in found
    ]
    if created:
        session.add_all(created)
        await session.flush()
        found.update({conversation.buyer_id: conversation for conversation in created})
    return found


def _new_conversation(buyer_id: int, platform: str) -> Conversation:
    now = utcnow()
    conversation = Conversation(
        buyer_id=buyer_id, platform=platform, status="new", opened_at=now, updated_at=now
    )
    # Every column set (None included), so the new row is fully loaded after the INSERT and
    # stays readable once detached (the evidence inbox hands it to the handler).
    for column in _UNSET_CONVERSATION_COLUMNS:
        setattr(conversation, column, None)
    return conversation


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
