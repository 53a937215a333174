"""Taking a card for posting before the Bot API call, so it is posted once across processes.

`start_posting` sets the card's chat (only where none is set yet) and a lease on its post
(`posting_until`, on the database's clock) in a statement committed before the send: of two
processes carding one update (it was delivered again), one takes it. The taker renews the lease
while it sends (`renew_posting`). A card taken but never recorded as posted (`post_in_doubt`)
belonged to a process that stopped mid-send, or is being sent now: it is not posted again
while the lease runs; once it has run out, `take_run_out` gives it to one process, which shows
it again as a possible repeat (Telegram may show the first), unless only a flood wait kept
it back (`flood_waited`: a 429 shows nothing). A card Telegram refused (the agents' chat gone,
the bot removed from it) stays taken too and is tried again after a wait that grows with the
refusals so far (`posting_refused`), so it reaches the agents once the chat works again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import renewal
from bot.storage.clock import lease_end
from bot.storage.models import Card, Conversation
from bot.storage.models.cases import CLOSED_STATUSES

_CARDS: Table = Card.__table__  # type: ignore[assignment]
_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]

POSTING_LEASE = timedelta(seconds=60)
# After its nth refusal (or time with nobody to show it to) a card is tried again this much later (then hourly).
REFUSAL_WAITS = tuple(timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 30, 60))


def refusal_wait(refusals: int) -> timedelta:
    """How long a card refused `refusals` times so far waits before it is tried again."""
    return REFUSAL_WAITS[min(max(refusals, 1), len(REFUSAL_WAITS)) - 1]


def posting_lease() -> timedelta:
    """How long a taker owns a card's post (read at call time, so a test process may shorten it)."""
    return POSTING_LEASE


def post_in_doubt(card: Card) -> bool:
    """Whether the card's post started (`start_posting`) but was never recorded: its process
    is sending it now or stopped in between (Telegram may show it). Not posted again at once."""
    return card.chat_id is not None and card.card_message_id is None


async def start_posting(
    *, session: AsyncSession, card_ids: Sequence[int], chat_id: int
) -> set[int]:
    """Take the cards for posting to `chat_id` (committed before the Bot API call); the ids
    taken. A card another process is posting (a replayed update), or posted, is not taken."""
    until = lease_end(session, posting_lease())
    taken = await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id.in_(list(card_ids)), _CARDS.c.chat_id.is_(None))
        .values(chat_id=chat_id, posting_until=until)
        .returning(_CARDS.c.id)
    )
    return set(taken.scalars())


async def renew_posting(*, session: AsyncSession, card_ids: Sequence[int]) -> None:
    """The taker is still sending these cards: their leases run a full lease from now (never
    shortened: a refused card's longer wait, recorded meanwhile, stays)."""
    if card_ids:
        until = lease_end(session, posting_lease())
        await session.execute(
            update(_CARDS)
            .where(
                _CARDS.c.id.in_(list(card_ids)),
                _CARDS.c.card_message_id.is_(None),
                _CARDS.c.posting_until.is_(None) | (_CARDS.c.posting_until < until),
            )
            .values(posting_until=until)
        )


def _run_out(now: datetime) -> ColumnElement[bool]:
    """Taken, never recorded, its lease run out (or from before leases), its case still open."""
    open_case = (
        select(_CONVERSATIONS.c.id)
        .where(
            _CONVERSATIONS.c.id == _CARDS.c.conversation_id,
            _CONVERSATIONS.c.status.not_in(CLOSED_STATUSES),
        )
        .exists()
    )
    return (
        _CARDS.c.card_message_id.is_(None)
        & _CARDS.c.chat_id.is_not(None)
        & (_CARDS.c.status == "open")
        & (_CARDS.c.posting_until.is_(None) | (_CARDS.c.posting_until < now))
        & open_case
    )


async def take_run_out(*, session: AsyncSession, limit: int) -> list[int]:
    """Take up to `limit` cards whose taker stopped before recording them (their lease ran
    out) for this process to show again; the ids taken, oldest first, each by one process."""
    return await renewal.take_run_out(
        session=session,
        table=_CARDS,
        run_out=_run_out,
        lease_column="posting_until",
        lease=posting_lease(),
        limit=limit,
    )


async def posting_flood_waited(*, session: AsyncSession, card_ids: Sequence[int]) -> None:
    """These cards' posts ran out of flood-wait retries: nothing went out. They stay taken and
    are shown again once their lease runs out, unmarked (`take_flood_waited`)."""
    await renewal.mark_flood_waited(
        session=session, table=_CARDS, ids=card_ids, message_column="card_message_id"
    )


async def take_flood_waited(*, session: AsyncSession, card_ids: Sequence[int]) -> set[int]:
    """Of cards taken to be shown again, those whose last post was a flood wait (certainly not
    shown, so not a possible repeat); their mark is cleared for the attempt starting now."""
    return await renewal.take_flood_waited(session=session, table=_CARDS, ids=card_ids)


async def move_posting(*, session: AsyncSession, card_id: int, chat_id: int) -> None:
    """A card taken again goes where its case is routed now (its agent may have changed)."""
    await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id == card_id, _CARDS.c.card_message_id.is_(None))
        .values(chat_id=chat_id)
    )


async def posting_refused(
    *, session: AsyncSession, card_ids: Sequence[int]
) -> dict[int, timedelta]:
    """Telegram refused these cards: they stay taken, and are tried again (by the run-out
    sweep, by whichever process) once a wait growing with their refusals so far has run out;
    the wait of each card."""
    if not card_ids:
        return {}
    counted = await session.execute(
        update(_CARDS)
        .where(_CARDS.c.id.in_(list(card_ids)), _CARDS.c.card_message_id.is_(None))
        .values(post_refusals=_CARDS.c.post_refusals + 1)
        .returning(_CARDS.c.id, _CARDS.c.post_refusals)
    )
    waits = {card_id: refusal_wait(refusals) for card_id, refusals in counted.tuples()}
    for wait in set(waits.values()):
        await session.execute(
            update(_CARDS)
            .where(_CARDS.c.id.in_([i for i, w in waits.items() if w == wait]))
            .values(posting_until=lease_end(session, wait))
        )
    return waits
