"""The outbox service on real migrated SQLite and PostgreSQL: each chunk recorded as Telegram
answered it, and the last chunk's record does what the reply does to the case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.core.followups import FollowUpRule
from bot.service.outbox import (
    Delivered,
    NoAnswer,
    Refused,
    SendChunk,
    reconcile_replies,
    send_reply,
)
from bot.storage import outbox
from bot.storage.database import Database
from bot.storage.verify import verify_chain
from tests.service.seed import BUYER_CHAT, own_reply_intents, seed_card

RULE = FollowUpRule.of(["补发"], {"default": 24.0})
SENT_AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def scripted(*answers: Delivered | NoAnswer | Refused) -> tuple[SendChunk, list[str]]:
    """A chunk sender answering as told, one answer per call, recording what it was asked."""
    asked: list[str] = []

    async def send(chat_id: int, chunk: str) -> Delivered | NoAnswer | Refused:
        asked.append(chunk)
        return answers[len(asked) - 1]

    return send, asked


async def _rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    async with db.session() as session:
        return [tuple(row) for row in await session.execute(text(sql))]


async def test_every_chunk_delivered_closes_the_card_stops_the_clock_and_books_a_follow_up(
    db: Database,
) -> None:
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["亲，", "我们给您补发"])
    send, asked = scripted(Delivered(BUYER_CHAT, 11, SENT_AT), Delivered(BUYER_CHAT, 12, SENT_AT))
    result = await send_reply(db, rows, send=send, rule=RULE)
    assert asked == ["亲，", "我们给您补发"]
    assert (result.sent, result.unknown, result.refused, result.taken) == (2, 0, None, False)
    assert await _rows(
        db, "SELECT status, telegram_message_id FROM reply_outbox ORDER BY chunk"
    ) == [
        ("sent", 11),
        ("sent", 12),
    ]
    assert await _rows(db, "SELECT waiting_since FROM conversations") == [(None,)]
    jobs = await _rows(db, "SELECT kind, status FROM scheduled_jobs ORDER BY id")
    assert jobs == [("ack", "cancelled"), ("sla_target", "cancelled"), ("follow_up", "pending")]
    assert result.follow_up is not None
    assert await _rows(db, "SELECT status FROM cards") == [("own",)]
    report = await verify_chain(engine=db.engine, attachments=None)
    assert report.breaks == []


async def test_no_answer_is_sent_id_unknown_and_the_rest_is_not_sent(db: Database) -> None:
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["one", "two"])
    send, asked = scripted(NoAnswer("timed out"))
    result = await send_reply(db, rows, send=send, rule=RULE)
    assert asked == ["one"]
    assert (result.sent, result.unknown, result.reached) == (0, 1, True)
    assert await _rows(db, "SELECT status FROM reply_outbox ORDER BY chunk") == [
        ("unknown",),
        ("failed",),
    ]
    assert await _rows(db, "SELECT waiting_since FROM conversations") == [(None,)]
    assert result.follow_up is None  # no promise in "one"


async def test_a_refused_reply_gives_the_card_back_and_the_buyer_still_waits(
    db: Database,
) -> None:
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["我们给您补发"])
    blocked = Refused(RuntimeError("Forbidden: bot was blocked by the user"), blocked=True)
    send, _ = scripted(blocked)
    result = await send_reply(db, rows, send=send, rule=RULE)
    assert result.refused == blocked
    assert not result.reached
    assert await _rows(db, "SELECT status FROM cards") == [("open",)]
    assert await _rows(db, "SELECT status FROM reply_outbox") == [("failed",)]
    waiting = await _rows(db, "SELECT waiting_since IS NOT NULL FROM conversations")
    assert waiting == [(True,)]
    assert await _rows(db, "SELECT count(*) FROM scheduled_jobs WHERE kind = 'follow_up'") == [(0,)]


async def test_a_chunk_another_process_is_sending_is_left_to_it(db: Database) -> None:
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["one"])
    async with db.transaction() as session:
        assert await outbox.start_sending(session=session, outbox_id=rows[0].id)
    send, asked = scripted()
    result = await send_reply(db, rows, send=send, rule=RULE)
    assert asked == []
    assert result.taken


async def test_a_reply_left_open_by_a_stopped_process_is_finished_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk died while sending (sent, id unknown), the second was never started
    (sent now); a second reconciliation finds nothing left."""
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["one", "two"])
    async with db.transaction() as session:
        assert await outbox.start_sending(session=session, outbox_id=rows[0].id)
        await session.execute(text("UPDATE reply_outbox SET lease_until = created_at"))
    send, asked = scripted(Delivered(BUYER_CHAT, 21, SENT_AT))
    resumed: list[str] = []

    async def on_resumed(reply: object) -> None:
        resumed.append(getattr(reply, "text", ""))

    finished = await reconcile_replies(
        db, send=send, rule=RULE, started_at=datetime.now(UTC), on_resumed=on_resumed
    )
    again = await reconcile_replies(
        db, send=send, rule=RULE, started_at=datetime.now(UTC), on_resumed=on_resumed
    )
    assert (finished, again) == (1, 0)
    assert asked == ["two"]
    assert resumed == ["onetwo"]
    assert await _rows(db, "SELECT status FROM reply_outbox ORDER BY chunk") == [
        ("unknown",),
        ("sent",),
    ]


@pytest.mark.parametrize(
    "answer",
    [Delivered(BUYER_CHAT, 31, SENT_AT), NoAnswer("timed out"), Refused(RuntimeError("Bad"))],
    ids=["delivered", "no-answer", "refused"],
)
async def test_an_answer_after_another_process_closed_the_reply_does_not_finish_it_twice(
    db: Database, migrated_url: str, answer: Delivered | NoAnswer | Refused
) -> None:
    """The send hung past its lease; another process reconciled the reply ("sent, id unknown",
    the card's audit, the follow-up). When the answer comes at last, the first process records
    only what the evidence needs and leaves the reply to the other: one audit, one follow-up."""
    seeded = await seed_card(db)
    rows = await own_reply_intents(db, seeded, ["我们给您补发"])
    other = Database.open(migrated_url)
    reconciled: list[int] = []

    async def told(reply: object) -> None:
        pass

    async def hung_send(chat_id: int, chunk: str) -> Delivered | NoAnswer | Refused:
        async with other.transaction() as session:  # the lease ran out meanwhile
            await session.execute(text("UPDATE reply_outbox SET lease_until = created_at"))
        nothing, _ = scripted()
        reconciled.append(
            await reconcile_replies(
                other, send=nothing, rule=RULE, started_at=datetime.now(UTC), on_resumed=told
            )
        )
        return answer

    result = await send_reply(db, rows, send=hung_send, rule=RULE)
    await other.close()
    assert reconciled == [1]
    # What Telegram answered is counted (an acknowledgement's line on the card relies on it);
    # `taken` says the other process finished the reply and reports it.
    counted = (
        (1, 0, None)
        if isinstance(answer, Delivered)
        else (0, 1, None)
        if isinstance(answer, NoAnswer)
        else (0, 0, answer)
    )
    assert (result.sent, result.unknown, result.refused) == counted
    assert result.taken
    assert await _rows(db, "SELECT status FROM reply_outbox") == [("unknown",)]
    audits = await _rows(
        db, "SELECT action FROM audit_log WHERE action LIKE 'suggestion.%' ORDER BY seq"
    )
    assert audits == [("suggestion.own",)]
    follow_ups = "SELECT count(*) FROM scheduled_jobs WHERE kind = 'follow_up'"
    assert await _rows(db, follow_ups) == [(1,)]
    report = await verify_chain(engine=db.engine, attachments=None)
    assert report.breaks == []
