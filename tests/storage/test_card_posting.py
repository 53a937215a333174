"""Issue 14: a card is taken for posting once, before the Bot API call. An update delivered again
while another process is still carding it, or replayed at start-up after a crash mid-post, finds
the card taken and does not post it a second time; Telegram's refusal gives the card back."""

from __future__ import annotations

from bot.storage import card_posting
from bot.storage import cards as card_store
from bot.storage.database import Database
from tests.storage.test_reply_claims import _seed

FORUM = -1001


async def test_a_card_is_taken_for_posting_once(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    taken = []
    for _ in range(2):  # two processes, one after the other
        async with db.transaction() as session:
            taken.append(
                await card_posting.start_posting(
                    session=session, card_ids=[seeded.card_id], chat_id=FORUM
                )
            )
    async with db.session() as session:
        found = await card_store.card_context(session=session, card_id=seeded.card_id)
    await db.close()
    assert taken == [{seeded.card_id}, set()]
    assert found is not None
    assert card_posting.post_in_doubt(found.card)  # taken, never recorded: not posted again


async def test_a_refused_card_may_be_posted_again_and_a_posted_one_is_not_in_doubt(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    seeded = await _seed(db)
    async with db.transaction() as session:
        await card_posting.start_posting(session=session, card_ids=[seeded.card_id], chat_id=FORUM)
        await card_posting.posting_refused(session=session, card_ids=[seeded.card_id])
    async with db.transaction() as session:
        again = await card_posting.start_posting(
            session=session, card_ids=[seeded.card_id], chat_id=FORUM
        )
        await card_store.mark_cards_posted(
            session=session,
            posted=[card_store.PostedCard(seeded.card_id, FORUM, 77, None, "<b>card</b>")],
        )
    async with db.session() as session:
        found = await card_store.card_context(session=session, card_id=seeded.card_id)
    await db.close()
    assert again == {seeded.card_id}
    assert found is not None
    assert (found.card.card_message_id, card_posting.post_in_doubt(found.card)) == (77, False)
