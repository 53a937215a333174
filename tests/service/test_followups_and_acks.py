"""The waiting clock's jobs and follow-ups through the services, on real migrated SQLite and
PostgreSQL: one acknowledgement per waiting stretch, one follow-up draft per due job."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.followups import FollowUpRule
from bot.core.types import Language
from bot.service import acks, followups, jobs
from bot.service.outbox import Delivered, NoAnswer, Refused
from bot.service.waiting import stop_waiting
from bot.storage import jobs as job_store
from bot.storage.database import Database
from bot.understanding import Understanding, load_understanding
from tests.service.seed import POLICY, Seeded, seed_card

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"
RULE = FollowUpRule.of(["补发"], {"default": 24.0})


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return load_understanding(PHRASEBOOK)


async def _scalar_rows(db: Database, sql: str) -> list[object]:
    async with db.session() as session:
        return [row[0] for row in await session.execute(text(sql))]


async def _claim(
    db: Database, kind: str, worker: str = "one", *, days: int = 1
) -> list[jobs.DueJob]:
    """Claim the due jobs of `kind` as a worker would `days` from now."""
    async with db.transaction() as session:
        rows = await job_store.claim_due(
            session=session, worker=worker, kinds=(kind,), now=datetime.now(UTC) + timedelta(days)
        )
        return [jobs.due_job(row) for row in rows]


async def test_a_waiting_stretch_is_scheduled_once_and_cancelled_by_an_answer(
    db: Database,
) -> None:
    seeded = await seed_card(db)
    second = await seed_card(db, text="还在吗")  # same buyer and case: the clock already runs
    assert second.conversation_id == seeded.conversation_id
    kinds = await _scalar_rows(db, "SELECT kind FROM scheduled_jobs ORDER BY id")
    assert kinds == ["ack", "sla_target"]
    [ack] = await _claim(db, "ack")
    assert ack.payload == {"language": "zh-Hans"}
    async with db.transaction() as session:
        await stop_waiting(session=session, conversation_id=seeded.conversation_id)
    statuses = await _scalar_rows(db, "SELECT status FROM scheduled_jobs ORDER BY id")
    assert statuses == ["running", "cancelled"]  # a claimed ack finds nobody waiting
    assert await _scalar_rows(db, "SELECT waiting_since FROM conversations") == [None]


async def test_a_buyer_is_acknowledged_once_however_many_processes_run_the_job(
    db: Database, understanding: Understanding
) -> None:
    await seed_card(db)
    [job] = await _claim(db, "ack")
    sent: list[str] = []

    async def send(chat_id: int, chunk: str) -> Delivered | NoAnswer | Refused:
        sent.append(chunk)
        return Delivered(chat_id, len(sent), datetime.now(UTC))

    wording = acks.AckWording(understanding, "Kefu Shop", Language.EN)
    done = await asyncio.gather(
        *(acks.acknowledge(db, job, wording, send=send, rule=RULE) for _ in range(3))
    )
    acknowledged = [d for d in done if d is not None]
    assert len(sent) == 1
    assert len(acknowledged) == 1
    assert acknowledged[0].result.sent == 1
    assert acknowledged[0].buyer_name == "Ann Lee"
    assert acknowledged[0].card is not None
    assert acknowledged[0].agent is None  # the card was never posted, and no agent assigned
    waiting = await _scalar_rows(db, "SELECT waiting_since IS NOT NULL FROM conversations")
    assert waiting == [True]  # an acknowledgement is no answer: the buyer still waits
    actions = await _scalar_rows(db, "SELECT action FROM audit_log ORDER BY seq")
    assert actions.count("sla.auto_ack") == 1


async def test_missed_targets_are_taken_and_audited_once(db: Database) -> None:
    seeded = await seed_card(db)
    async with db.transaction() as session:
        await session.execute(text("UPDATE scheduled_jobs SET due_at = created_at"))
    taken = await asyncio.gather(
        acks.take_missed_targets(db, preset="taobao"), acks.take_missed_targets(db, preset="taobao")
    )
    missed = [m for found, _supervisors in taken for m in found]
    assert [(m.case, m.buyer_name) for m in missed] == [(seeded.conversation_id, "Ann Lee")]
    # The target in force when the buyer began waiting, stored with its check (a /settings
    # change since does not rewrite history).
    assert missed[0].target_seconds == POLICY.target.total_seconds()
    details = await _scalar_rows(db, "SELECT details FROM audit_log WHERE action = 'sla.missed'")
    assert [json.loads(d)["target"] for d in details] == [POLICY.target.total_seconds()]


async def _follow_up_job(db: Database, seeded: Seeded) -> int:
    async with db.transaction() as session:
        job_id = await job_store.schedule(
            session=session,
            kind="follow_up",
            due_at=datetime.now(UTC),
            conversation_id=seeded.conversation_id,
            card_id=seeded.card_id,
            dedupe_key=f"follow_up:{seeded.card_id}",
        )
    assert job_id is not None
    return job_id


async def test_a_due_follow_up_is_drafted_once_even_when_its_claim_is_taken_over(
    db: Database, understanding: Understanding
) -> None:
    seeded = await seed_card(db, waiting=False)
    await _follow_up_job(db, seeded)
    [slow] = await _claim(db, "follow_up", worker="slow")
    # A day later the slow worker's claim has expired: another takes it over.
    [fresh] = await _claim(db, "follow_up", worker="fresh", days=2)
    draft = await followups.draft_due_follow_up(
        db, fresh, understanding=understanding, shop_name="Kefu Shop"
    )
    late = await followups.draft_due_follow_up(
        db, slow, understanding=understanding, shop_name="Kefu Shop"
    )
    assert late is None
    assert draft is not None
    assert draft.case_id == seeded.conversation_id
    assert draft.text
    kinds = await _scalar_rows(db, "SELECT kind FROM pending_replies")
    assert kinds == ["follow_up"]


@pytest.mark.parametrize("later", [True, False])
async def test_a_follow_up_is_moved_or_cancelled_once(db: Database, later: bool) -> None:
    seeded = await seed_card(db, waiting=False)
    job_id = await _follow_up_job(db, seeded)
    before = datetime.now(UTC)
    first = await followups.move_follow_up(db, actor_telegram_id=7, job_id=job_id, later=later)
    if not later:
        assert (
            await followups.move_follow_up(db, actor_telegram_id=7, job_id=job_id, later=True)
            is None
        )
    assert first is not None
    assert (first - before > timedelta(hours=23)) is later
    status = await _scalar_rows(db, "SELECT status FROM scheduled_jobs")
    assert status == ["pending" if later else "cancelled"]
    action = "followup.later" if later else "followup.cancel"
    assert await _scalar_rows(db, f"SELECT count(*) FROM audit_log WHERE action = '{action}'") == [
        1
    ]
