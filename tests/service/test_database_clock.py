"""Issue 14: every process times buyer messages and follow-ups on the database's clock, so
processes on hosts whose clocks differ agree on when a buyer began waiting and when a follow-up
is due (PostgreSQL, a host three hours behind)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.followups import MOVED_BY, FollowUpRule
from bot.core.types import Language
from bot.service import acks, followups
from bot.service import outbox as service_outbox
from bot.service.intake import inbox as inbox_module
from bot.service.intake.inbox import EvidenceInbox
from bot.service.jobs import due_job
from bot.service.outbox import Delivered, send_reply
from bot.storage import jobs as job_store
from bot.storage import migrate, models
from bot.storage.clock import db_now
from bot.storage.database import Database
from bot.storage.filestore import AttachmentStore
from bot.storage.models import base as models_base
from bot.understanding import load_understanding
from tests.service.seed import BUYER_CHAT, own_reply_intents, seed_card

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"

BEHIND = timedelta(hours=3)
CLOSE = timedelta(minutes=1)
RULE = FollowUpRule.of(["补发"], {"default": 24.0})


@pytest.fixture
async def skewed(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A migrated PostgreSQL database, seen from a host whose clock is three hours behind."""
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    real = datetime.now

    def behind() -> datetime:
        return real(UTC) - BEHIND

    monkeypatch.setattr(inbox_module, "now", behind)
    for module in (models_base, models, service_outbox, followups, acks):
        monkeypatch.setattr(module, "utcnow", behind, raising=False)  # wherever it is read
    return Database.open(postgres_url)


def _buyer_update(update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": BUYER_CHAT, "type": "private"},
            "from": {"id": BUYER_CHAT, "is_bot": False, "first_name": "Ann"},
            "text": "还没收到货",
        },
    }


async def _database_now(db: Database) -> datetime:
    async with db.session() as session:
        return await db_now(session)


async def test_a_buyer_message_arrives_at_the_databases_time(
    skewed: Database, tmp_path: Path
) -> None:
    inbox = EvidenceInbox(sessions=skewed.sessions, store=AttachmentStore(tmp_path))
    payload = _buyer_update(900)
    await inbox.store_batch([payload])
    stored = inbox.payload_of(900)
    assert stored is not None
    await inbox.record(payload, stored[1])
    now = await _database_now(skewed)
    async with skewed.session() as session:
        raw = (await session.execute(text("SELECT received_at FROM raw_updates"))).scalar_one()
        message = (await session.execute(text("SELECT received_at FROM messages"))).scalar_one()
        [replayed] = await inbox.unfinished()
    await skewed.close()
    for moment in (stored[1], _aware(raw), _aware(message), replayed.received_at):
        assert abs(now - _aware(moment)) < CLOSE


async def test_an_update_delivered_again_keeps_the_time_it_first_arrived(
    migrated_url: str, tmp_path: Path
) -> None:
    """A webhook retry reaching another process (or a poll after a crash) stores nothing new,
    and its message is recorded at the time the update first arrived."""
    first_db, second_db = Database.open(migrated_url), Database.open(migrated_url)
    payload = _buyer_update(901)
    first = EvidenceInbox(sessions=first_db.sessions, store=AttachmentStore(tmp_path))
    await first.store_batch([payload])
    await asyncio.sleep(0.05)
    second = EvidenceInbox(sessions=second_db.sessions, store=AttachmentStore(tmp_path))
    await second.store_batch([payload])
    arrived, again = first.payload_of(901), second.payload_of(901)
    await first_db.close()
    await second_db.close()
    assert arrived is not None
    assert again is not None
    assert again[1] == arrived[1]
    assert not second.is_fresh(901)


async def test_a_follow_up_is_due_on_the_databases_clock(skewed: Database) -> None:
    seeded = await seed_card(skewed, waiting=False)
    rows = await own_reply_intents(skewed, seeded, ["我们给您补发"])

    async def send(chat_id: int, chunk: str) -> Delivered:
        return Delivered(chat_id, 11, datetime.now(UTC))

    result = await send_reply(skewed, rows, send=send, rule=RULE)
    assert result.follow_up is not None
    due, job_id = result.follow_up
    booked = await _database_now(skewed)
    moved = await followups.move_follow_up(skewed, actor_telegram_id=7, job_id=job_id, later=True)
    moved_at = await _database_now(skewed)
    await skewed.close()
    assert abs(due - (booked + timedelta(hours=24))) < CLOSE
    assert moved is not None
    assert abs(moved - (moved_at + MOVED_BY)) < CLOSE


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_how_long_a_buyer_waited_is_read_on_the_databases_clock(skewed: Database) -> None:
    """The acknowledgement's and the missed target's "waited" (ten minutes here), not the
    host's idea of it (three hours less: nothing)."""
    seeded = await seed_card(skewed)
    async with skewed.transaction() as session:
        await session.execute(
            text(
                "UPDATE conversations SET waiting_since = clock_timestamp() - interval '10 minutes'"
            )
        )
        await session.execute(text("UPDATE scheduled_jobs SET due_at = created_at"))
        [job] = await job_store.claim_due(session=session, worker="one", kinds=("ack",))
    wording = acks.AckWording(load_understanding(PHRASEBOOK), "Kefu Shop", Language.EN)

    async def send(chat_id: int, chunk: str) -> Delivered:
        return Delivered(chat_id, 12, datetime.now(UTC))

    done = await acks.acknowledge(skewed, due_job(job), wording, send=send, rule=RULE)
    [(missed, _)] = [await acks.take_missed_targets(skewed, preset="taobao")]
    await skewed.close()
    assert done is not None
    assert done.case_id == seeded.conversation_id
    assert done.waited.startswith("10m")
    assert [m.waited[:3] for m in missed] == ["10m"]


async def test_how_long_since_a_buyer_message_arrived_is_measured_on_the_databases_clock(
    skewed: Database, tmp_path: Path
) -> None:
    """The card-posted latency metric: a host three hours behind must not report -3 h."""
    inbox = EvidenceInbox(sessions=skewed.sessions, store=AttachmentStore(tmp_path))
    await inbox.store_batch([_buyer_update(903)])
    stored = inbox.payload_of(903)
    assert stored is not None
    await asyncio.sleep(0.2)
    waited = inbox.seconds_since(stored[1])
    assert 0.2 <= waited < 5.0


async def test_a_process_that_stores_nothing_measures_on_the_databases_clock_too(
    skewed: Database, tmp_path: Path
) -> None:
    """One that only shows cards again (no batch stored) measures the clocks at start-up."""
    inbox = EvidenceInbox(sessions=skewed.sessions, store=AttachmentStore(tmp_path))
    await inbox.measure_clock()
    assert -1.0 < inbox.seconds_since(await _database_now(skewed)) < 5.0  # not -3 h
