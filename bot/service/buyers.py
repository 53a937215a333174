"""Buyers as the shop sees them outside their messages: whether they blocked the bot."""

from __future__ import annotations

from bot.storage.database import Database
from bot.storage.evidence import append_audit
from bot.storage.repository import set_buyer_blocked


async def note_bot_membership(*, db: Database, telegram_user_id: int, blocked: bool) -> bool:
    """Record that a buyer blocked (or unblocked) the bot, audited; False for an unknown buyer."""
    async with db.transaction() as session:
        known = await set_buyer_blocked(
            session=session, telegram_user_id=telegram_user_id, blocked=blocked
        )
        if known:
            await append_audit(
                session=session,
                actor_telegram_id=telegram_user_id,
                action="buyer.blocked_bot" if blocked else "buyer.unblocked_bot",
                target=f"user:{telegram_user_id}",
            )
        return known
