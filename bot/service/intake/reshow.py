"""Cards a stopped process left in doubt, shown again once the lease on their post ran out.

A process takes a card for posting before the Bot API call and records the Telegram message
after it; killed in between, it leaves the card taken and unrecorded. Nobody may post it while
its taker's lease runs (the taker may be sending it now); after that, one process takes it and
shows it again, marked as a possible repeat, since the first post may or may not have gone out
(not marked when no earlier post can have gone out: the last one ran out of flood-wait
retries, and nothing before it was in doubt).
"""

from __future__ import annotations

from bot.service.intake.cards import reshown_cards
from bot.service.intake.turns import Desk, PendingCard
from bot.storage.card_posting import take_run_out
from bot.storage.database import Database

RESHOW_BATCH = 20  # cards taken again per sweep, so one sweep never holds a long transaction


async def take_run_out_cards(desk: Desk, *, db: Database) -> list[PendingCard]:
    """Take the cards whose taker stopped before recording them, for this process to show
    again (each to one process only); their views, marked as possible repeats (unless only a
    flood wait kept them back)."""
    async with db.transaction() as session:
        card_ids = await take_run_out(session=session, limit=RESHOW_BATCH)
        if not card_ids:
            return []
        return await reshown_cards(desk, session=session, card_ids=card_ids)
