"""The chain-head witness: the evidence chain's head to publish, and the audit that it was."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.core.evidence import ChainHead, witness_text
from bot.storage import evidence

if TYPE_CHECKING:
    from bot.storage.database import SessionFactory


async def head_to_publish(*, sessions: SessionFactory, template: str) -> tuple[ChainHead, str]:
    """The chain's current head and the witness text that states it (hash, records, time)."""
    async with sessions() as session:
        head = await evidence.chain_head(session=session)
    # Every record holds one sequence number and there are no gaps, so the count is the seq.
    return head, witness_text(template, head=head, records=head.seq, at=datetime.now(UTC))


async def record_published(
    *, sessions: SessionFactory, chat_id: int, head: ChainHead, message_id: int
) -> None:
    """Audit that `head` was posted to `chat_id` as message `message_id`."""
    async with sessions.begin() as session:
        await evidence.append_audit(
            session=session,
            actor_telegram_id=None,
            action="chain_head.published",
            target=str(chat_id),
            details={"seq": head.seq, "hash": head.hash, "message_id": message_id},
        )
