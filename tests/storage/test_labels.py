"""Issue 15 in storage: corrections claimed once, and what counts as a label (`shop_labels`).

Every test runs on SQLite and on PostgreSQL (`migrated_url`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta

from bot.core.labels import CardLabel, LabelStrength, ShopLabel
from bot.core.types import Category, Flag, Suggestion
from bot.storage import cards as card_store
from bot.storage import labels as label_store
from bot.storage.copilot import open_platform_case, save_paste
from bot.storage.database import Database
from bot.storage.evidence import append_audit, append_message
from bot.storage.models import CopilotPaste, utcnow
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import verify_chain

KEFU_SAID = CardLabel(Category.NOT_RECEIVED, frozenset({Flag.URGENT}))


@dataclass(frozen=True)
class Carded:
    message_id: int
    card_id: int
    conversation_id: int
    text: str


async def _card(db: Database, number: int, text: str) -> Carded:
    """A buyer message Kefu filed under not_received (urgent), with its card."""
    async with db.transaction() as session:
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=600 + number, display_name=f"买家{number}"
        )
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        message = await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="in",
            chat_id=600 + number,
            telegram_message_id=number,
            text=text,
            sent_at=utcnow(),
            category="not_received",
            flags=["urgent"],
        )
        card, _ = await card_store.create_card(
            session=session,
            message_id=message.id,
            conversation_id=conversation.id,
            suggestions=[Suggestion(kind="quick", text="亲，马上帮您查")],
            language="zh-Hans",
        )
        return Carded(message.id, card.id, conversation.id, text)


async def _outcome(db: Database, carded: Carded, outcome: str) -> None:
    """The audit record a card's outcome writes (as bot/service/outbox.py and replies.py do)."""
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=7,
            action=f"suggestion.{outcome}",
            target=f"card:{carded.card_id}",
            details={"message_id": carded.message_id, "suggestion_index": 1},
        )


async def _correct(
    db: Database,
    carded: Carded,
    category: Category,
    flags: frozenset[Flag] = frozenset(),
    *,
    revision: int = 0,
) -> label_store.CorrectionOutcome:
    async with db.transaction() as session:
        return await label_store.claim_correction(
            session=session,
            target=label_store.card_target(carded.card_id),
            message_id=carded.message_id,
            original=KEFU_SAID,
            expected_revision=revision,
            category=category,
            flags=flags,
            actor_telegram_id=7,
        )


async def _labels(db: Database, **kwargs: object) -> list[ShopLabel]:
    async with db.session() as session:
        return await label_store.shop_labels(session=session, **kwargs)  # type: ignore[arg-type]


def _summary(labels: list[ShopLabel]) -> list[tuple[int, str, list[str], str]]:
    return [
        (label.message_id, label.category.value, sorted(label.flags), label.strength.value)
        for label in labels
    ]


async def test_issue_15_correction_beats_confirmation_and_skip_edit_own_give_none(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    confirmed = await _card(db, 1, "快递三天没动了")
    corrected_then_sent = await _card(db, 2, "口红断了")
    sent_then_corrected = await _card(db, 3, "漏液了")
    skipped = await _card(db, 4, "好的")
    edited = await _card(db, 5, "什么时候发货")
    own = await _card(db, 6, "在吗")
    await _outcome(db, confirmed, "sent")
    assert (await _correct(db, corrected_then_sent, Category.QUALITY)).written
    await _outcome(db, corrected_then_sent, "sent")
    await _outcome(db, sent_then_corrected, "sent")
    assert (
        await _correct(db, sent_then_corrected, Category.DAMAGED_MISSING, frozenset({Flag.ANGRY}))
    ).written
    await _outcome(db, skipped, "skipped")
    await _outcome(db, edited, "edited")
    await _outcome(db, own, "own")
    labels = await _labels(db)
    report = await verify_chain(engine=db.engine, attachments=None)
    await db.close()
    assert _summary(labels) == [
        (confirmed.message_id, "not_received", ["urgent"], "confirmation"),
        (corrected_then_sent.message_id, "quality", [], "correction"),
        (sent_then_corrected.message_id, "damaged_missing", ["angry"], "correction"),
    ]
    assert [label.text for label in labels] == ["快递三天没动了", "口红断了", "漏液了"]
    assert [label.weight for label in labels] == [1.0, 3.0, 3.0]
    assert report.ok


async def test_issue_15_the_newest_correction_of_a_message_wins(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    carded = await _card(db, 1, "漏液了")
    first = await _correct(db, carded, Category.QUALITY)
    second = await _correct(db, carded, Category.DAMAGED_MISSING, revision=1)
    labels = await _labels(db)
    async with db.session() as session:
        stored = await label_store.corrections_of(
            session=session, target=label_store.card_target(carded.card_id)
        )
    await db.close()
    assert (first.status, second.status) == ("corrected", "corrected")
    assert second.previous == CardLabel(Category.QUALITY, frozenset(), 1)
    assert _summary(labels) == [(carded.message_id, "damaged_missing", [], "correction")]
    assert [c.category for c in stored] == [Category.QUALITY, Category.DAMAGED_MISSING]


async def test_issue_15_a_correction_record_keeps_the_contract(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    carded = await _card(db, 1, "漏液了")
    await _correct(db, carded, Category.QUALITY, frozenset({Flag.WANTS_COMPENSATION, Flag.ANGRY}))
    async with db.session() as session:
        from sqlalchemy import text

        [row] = (
            await session.execute(
                text("SELECT actor_telegram_id, target, details FROM audit_log WHERE action = :a"),
                {"a": "card.corrected"},
            )
        ).all()
    await db.close()
    assert (row.actor_telegram_id, row.target) == (7, f"card:{carded.card_id}")
    assert json.loads(row.details) == {
        "message_id": carded.message_id,
        "old_category": "not_received",
        "new_category": "quality",
        "old_flags": ["urgent"],
        "new_flags": ["angry", "wants_compensation"],
    }


async def test_issue_15_a_second_press_on_the_same_picture_writes_nothing(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    carded = await _card(db, 1, "漏液了")
    outcomes = [await _correct(db, carded, Category.QUALITY) for _ in range(2)]
    unchanged = await _correct(db, carded, Category.QUALITY, revision=1)
    async with db.session() as session:
        stored = await label_store.corrections_of(
            session=session, target=label_store.card_target(carded.card_id)
        )
    await db.close()
    assert [o.status for o in outcomes] == ["corrected", "stale"]
    assert unchanged.status == "unchanged"
    assert len(stored) == 1


async def test_issue_15_two_processes_correcting_at_once_leave_one_correction(
    migrated_url: str,
) -> None:
    setup = Database.open(migrated_url)
    carded = await _card(setup, 1, "漏液了")
    await setup.close()
    dbs = [Database.open(migrated_url) for _ in range(4)]
    wanted = [Category.QUALITY, Category.DAMAGED_MISSING, Category.WRONG_ITEM, Category.QUALITY]
    outcomes = await asyncio.gather(
        *(_correct(db, carded, category) for db, category in zip(dbs, wanted, strict=True))
    )
    async with dbs[0].session() as session:
        stored = await label_store.corrections_of(
            session=session, target=label_store.card_target(carded.card_id)
        )
    report = await verify_chain(engine=dbs[0].engine, attachments=None)
    for db in dbs:
        await db.close()
    assert sorted(o.status for o in outcomes) == ["corrected", "stale", "stale", "stale"]
    assert len(stored) == 1
    assert report.ok


async def test_issue_15_labels_since_a_time_and_never_a_corrected_confirmation(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    old = await _card(db, 1, "快递三天没动了")
    assert (await _correct(db, old, Category.SHIPPING_DELAY)).written
    cut = utcnow()
    await _outcome(db, old, "sent")  # after the cut, but the message was corrected
    new = await _card(db, 2, "口红断了")
    await _outcome(db, new, "sent")
    labels = await _labels(db, since=cut)
    everything = await _labels(db, since=cut - timedelta(days=1))
    await db.close()
    assert _summary(labels) == [(new.message_id, "not_received", ["urgent"], "confirmation")]
    assert [label.strength for label in everything] == [
        LabelStrength.CORRECTION,
        LabelStrength.CONFIRMATION,
    ]


async def test_issue_15_a_copilot_paste_corrected_before_it_is_logged_is_labelled(
    migrated_url: str,
) -> None:
    db = Database.open(migrated_url)
    async with db.transaction() as session:
        paste = await save_paste(
            session=session,
            agent_telegram_id=7,
            chat_id=7,
            telegram_message_id=40,
            text="起球了",
            buyer_label="",
            original_sent_at=None,
            order_id=None,
            suggestions=[],
        )
        paste_id = paste.id
    async with db.transaction() as session:
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.paste_target(paste_id),
            message_id=None,
            original=KEFU_SAID,
            expected_revision=0,
            category=Category.QUALITY,
            flags=frozenset(),
            actor_telegram_id=7,
            extra={"paste": paste_id},
        )
    before = await _labels(db)
    async with db.transaction() as session:  # the agent logs it under a case (copilot "log")
        case = await open_platform_case(
            session=session, platform="taobao", buyer_label="", order_id=None, agent_id=None
        )
        record = await append_message(
            session=session,
            conversation_id=case.id,
            buyer_id=case.buyer_id,
            direction="in",
            text="起球了",
            content_type="pasted",
            sent_at=utcnow(),
            category="not_received",
        )
        stored = await session.get(CopilotPaste, paste_id)
        assert stored is not None
        stored.message_id = record.id
    after = await _labels(db)
    await db.close()
    assert outcome.written
    assert before == []  # no message yet: nothing to learn from
    assert _summary(after) == [(record.id, "quality", [], "correction")]


async def test_issue_15_verdicts_count_cards_and_corrections(migrated_url: str) -> None:
    db = Database.open(migrated_url)
    cards = [await _card(db, n, f"消息{n}") for n in range(1, 5)]
    await _correct(db, cards[0], Category.QUALITY)
    await _correct(db, cards[1], Category.NOT_RECEIVED, frozenset())  # flags only
    async with db.session() as session:
        found = await label_store.verdicts(
            session=session, since=utcnow() - timedelta(days=30), until=utcnow()
        )
        none = await label_store.verdicts(
            session=session, since=utcnow() + timedelta(days=1), until=None
        )
    await db.close()
    assert found == [
        ("not_received", "quality"),
        ("not_received", "not_received"),
        ("not_received", None),
        ("not_received", None),
    ]
    assert none == []
