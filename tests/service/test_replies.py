"""Replies on cards through the service, on real migrated SQLite and PostgreSQL: every claim is
won once, whatever the number of presses, agents or processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.core.followups import FollowUpRule
from bot.core.roles import Role
from bot.service import replies
from bot.service.cards import load_card
from bot.service.outbox import Delivered, NoAnswer, Refused, SendChunk
from bot.service.replies import Actor, Draft
from bot.storage.database import Database
from tests.service.seed import BUYER_CHAT, seed_card

RULE = FollowUpRule.of(["补发"], {"default": 24.0})
ANN = Actor(7, "Agent Ann", Role.AGENT)
BOB = Actor(8, "Agent Bob", Role.AGENT)


def counting_sender() -> tuple[SendChunk, list[str]]:
    sent: list[str] = []

    async def send(chat_id: int, chunk: str) -> Delivered | NoAnswer | Refused:
        await asyncio.sleep(0.01)
        sent.append(chunk)
        return Delivered(chat_id, 100 + len(sent), datetime.now(UTC))

    return send, sent


def suggestion(index: int | None = 1, text: str = "亲，可以开的") -> Draft:
    return Draft(text, (text,), index, edited=False)


async def _scalar_rows(db: Database, sql: str) -> list[object]:
    async with db.session() as session:
        return [row[0] for row in await session.execute(text(sql))]


async def test_two_agents_sending_one_suggestion_at_once_send_it_once(db: Database) -> None:
    seeded = await seed_card(db)
    found = await load_card(db, seeded.card_id)
    assert found is not None
    send, sent = counting_sender()
    outcomes = await asyncio.gather(
        replies.deliver(db, ANN, found, suggestion(), send=send, rule=RULE),
        replies.deliver(db, BOB, found, suggestion(), send=send, rule=RULE),
    )
    assert sent == ["亲，可以开的"]
    delivered = [o for o in outcomes if o.result is not None]
    refused = [o for o in outcomes if o.result is None]
    assert len(delivered) == 1
    assert len(refused) == 1
    assert refused[0].handled is not None
    assert refused[0].handled.status == "sent"
    assert refused[0].handled.agent_name in ("Agent Ann", "Agent Bob")
    assert await _scalar_rows(db, "SELECT count(*) FROM reply_outbox") == [1]


async def test_an_agents_own_words_go_out_on_a_card_already_handled(db: Database) -> None:
    seeded = await seed_card(db)
    found = await load_card(db, seeded.card_id)
    assert found is not None
    send, sent = counting_sender()
    first = await replies.deliver(db, ANN, found, suggestion(), send=send, rule=RULE)
    own = await replies.deliver(db, BOB, found, suggestion(None, "稍等"), send=send, rule=RULE)
    assert (first.outcome, own.outcome) == ("sent", "own")
    assert own.result is not None
    assert own.result.sent == 1
    assert sent == ["亲，可以开的", "稍等"]
    assert await _scalar_rows(db, "SELECT status FROM cards") == ["sent"]


async def test_a_checked_draft_is_taken_once_however_often_it_is_confirmed(db: Database) -> None:
    seeded = await seed_card(db)
    pending = await replies.hold_for_confirmation(
        db, ANN, seeded.card_id, suggestion(None, "差评就退款"), rules=["blame"]
    )
    taken = await asyncio.gather(
        *(replies.take_pending(db, ANN, pending, confirm=True) for _ in range(3))
    )
    drafts = [t for t in taken if t is not None]
    assert len(drafts) == 1
    assert (drafts[0].card_id, drafts[0].text, drafts[0].outcome) == (
        seeded.card_id,
        "差评就退款",
        None,
    )
    assert await replies.take_pending(db, ANN, pending, confirm=False) is None
    actions = await _scalar_rows(db, "SELECT action FROM audit_log ORDER BY seq")
    assert actions.count("reply.check_failed") == 1
    assert "reply.cancelled" not in actions


async def test_an_edit_prompt_is_found_where_it_was_shown_and_answered_once(db: Database) -> None:
    seeded = await seed_card(db)
    await replies.record_edit_prompt(
        db, ANN, seeded.card_id, text="亲，可以开的", index=1, chat_id=-100, message_id=55
    )
    assert await replies.edit_prompt_at(db, chat_id=-100, message_id=56) is None
    prompt = await replies.edit_prompt_at(db, chat_id=-100, message_id=55)
    assert prompt is not None
    assert (prompt.card_id, prompt.text, prompt.index) == (seeded.card_id, "亲，可以开的", 1)
    first, found = await replies.take_edit_prompt(db, prompt)
    second, _ = await replies.take_edit_prompt(db, prompt)
    assert (first, second) == (True, False)
    assert found is not None
    assert found.card.id == seeded.card_id
    assert found.buyer.telegram_user_id == BUYER_CHAT


@pytest.mark.parametrize(
    ("outcome", "still_waiting"), [("no_reply", False), ("skipped", True), ("escalated", True)]
)
async def test_closing_a_card_is_claimed_once_and_only_no_reply_stops_the_clock(
    db: Database, outcome: str, still_waiting: bool
) -> None:
    seeded = await seed_card(db)
    found = await load_card(db, seeded.card_id)
    assert found is not None
    first = await replies.finish_card(db, ANN, found, outcome=outcome)
    second = await replies.finish_card(db, BOB, found, outcome="skipped")
    assert first == (True, None)
    assert second[0] is False
    assert second[1] is not None
    assert (second[1].status, second[1].agent_name) == (outcome, "Agent Ann")
    waiting = await _scalar_rows(db, "SELECT waiting_since IS NOT NULL FROM conversations")
    assert waiting == [still_waiting]
