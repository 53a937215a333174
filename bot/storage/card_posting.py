"""Taking a card for posting before the Bot API call, so it is posted once across processes.

`start_posting` sets the card's chat (only where none is set yet) in a statement committed
before the send: of two processes carding one update (it was delivered again), one takes it.
A card taken but never recorded as posted (`post_in_doubt`) belonged to a process that stopped
mid-send: Telegram may show it, so it is not posted again. A refusal gives the card back.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Card

_CARDS: Table = Card.__table__  # type: ignore[assignment]


def post_in_doubt(card: Card) -> bool:
    """Whether the card's post started (`start_posting`) but was never recorded: a process
    stopped in between, and Telegram may show it already. Such a card is not posted again."""
    return card.chat_id is not None and card.card_message_id is None


async def start_posting(
    *, session: AsyncSession, card_ids: Sequence[int], chat_id: int
) -> set[int]:
    """Take the cards for posting to `chat_id` (committed before the Bot API call); the ids
    taken. A card another process is posting (a replayed update), or posted, is not taken."""
    taken = await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id.in_(list(card_ids)), _CARDS.c.chat_id.is_(None))
        .values(chat_id=chat_id)
        .returning(_CARDS.c.id)
    )
    return set(taken.scalars())


async def posting_refused(*, session: AsyncSession, card_ids: Sequence[int]) -> None:
    """Telegram refused these cards (nothing went out): they may be posted again later."""
    if card_ids:
        await session.execute(
            update(_CARDS)
            .where(_CARDS.c.id.in_(list(card_ids)), _CARDS.c.card_message_id.is_(None))
            .values(chat_id=None)
        )
