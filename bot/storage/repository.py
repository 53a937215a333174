"""Buyers and conversations: the non-evidence rows an incoming message needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
    now = utcnow()
    conversation = Conversation(
        buyer_id=buyer_id, platform=platform, status="new", opened_at=now, updated_at=now
    )
    # Every column set (None included), so the new row is fully loaded after the INSERT and
    # stays readable once detached (the evidence inbox hands it to the handler).
    for column in _UNSET_CONVERSATION_COLUMNS:
        setattr(conversation, column, None)
    session.add(conversation)
    await session.flush()
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
