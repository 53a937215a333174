"""Issue 14: a card taken again whose case now has nobody to show it to (no agent available, no
supervisors' chat, no supervisor or admin) waits like a refused card, instead of being taken and
dropped again by every sweep, on real migrated SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_settings
from bot.service.intake.reshow import take_run_out_cards
from bot.service.intake.turns import Desk
from bot.storage import card_posting
from bot.storage.database import Database
from bot.understanding import Understanding, load_understanding
from tests.storage.test_reply_claims import _seed

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"
FORUM = -100500


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return load_understanding(PHRASEBOOK)


async def test_a_card_with_nobody_to_show_it_to_waits_instead_of_every_sweep(
    db: Database, understanding: Understanding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(card_posting, "REFUSAL_WAITS", (timedelta(hours=1),))
    nobody = Desk(
        settings=load_settings(_env_file=None, routing="agents"), understanding=understanding
    )
    seeded = await _seed(db)
    async with db.transaction() as session:  # taken by a process that stopped, marked 429
        await card_posting.start_posting(session=session, card_ids=[seeded.card_id], chat_id=FORUM)
        await session.execute(
            text("UPDATE cards SET posting_until = NULL, flood_waited = :yes WHERE id = :id"),
            {"yes": True, "id": seeded.card_id},
        )

    first = await take_run_out_cards(nobody, db=db)
    second = await take_run_out_cards(nobody, db=db)

    assert (first, second) == ([], [])  # nothing to show, and not taken again at once
    async with db.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT post_refusals, flood_waited, card_message_id, chat_id FROM cards"
                    " WHERE id = :id"
                ),
                {"id": seeded.card_id},
            )
        ).one()
    assert row.post_refusals == 1
    assert bool(row.flood_waited)  # still certainly never shown: no "may be a repeat" later
    assert (row.card_message_id, row.chat_id) == (None, FORUM)  # still taken, still unposted
