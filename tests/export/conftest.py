"""A small shop log built through the repository functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.config import Settings, load_settings
from bot.core.roles import Role
from bot.core.types import Suggestion
from bot.core.wording import Wording
from bot.phrasebook.loader import load_phrasebook
from bot.storage import cards as card_store
from bot.storage.agents import upsert_agent
from bot.storage.database import Database
from bot.storage.evidence import append_attachment, append_audit, append_message, append_raw_update
from bot.storage.filestore import AttachmentStore
from bot.storage.repository import get_or_create_buyer, open_conversation_for

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
PHONE = "13812345678"
ADDRESS = "浙江省杭州市西湖区文三路100号"
BUYER_NAME = "李小明"


@dataclass
class Shop:
    """The seeded log and what the tests need to know about it."""

    db: Database
    settings: Settings
    wording: Wording
    store: AttachmentStore
    case_one: int
    case_two: int
    texts: list[str]  # every message text in sequence order
    photo_sha256: str


def _photo() -> bytes:
    image = Image.new("RGB", (320, 240), (200, 60, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def wording() -> Wording:
    """The real phrasebook wording."""
    return load_phrasebook(Path(__file__).resolve().parents[2] / "phrasebook").wording


@pytest.fixture
async def shop(migrated_url: str, tmp_path: Path, wording: Wording) -> AsyncIterator[Shop]:
    """Two cases: a parcel not received (with a threat, a photo and replies), and an extortion."""
    data_dir = tmp_path / "data"
    settings = load_settings(
        _env_file=None, data_dir=data_dir, database_url=migrated_url, timezone="Asia/Shanghai"
    )
    store = AttachmentStore(data_dir)
    db = Database.open(migrated_url)
    texts: list[str] = []
    async with db.transaction() as session:
        agent = await upsert_agent(
            session=session, telegram_user_id=9001, role=Role.AGENT, display_name="王客服"
        )
        await upsert_agent(
            session=session, telegram_user_id=9002, role=Role.SUPERVISOR, display_name="赵主管"
        )
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=42, display_name=BUYER_NAME
        )
        case = await open_conversation_for(session=session, buyer_id=buyer.id)
        case.order_id = "1234567890123456789"
        case.category = "not_received"
        case.assigned_agent_id = agent.id
        case.opened_at = T0

        async def buyer_says(
            text: str, at: datetime, update_id: int, category: str, flags: str
        ) -> int:
            await append_raw_update(
                session=session,
                update_id=update_id,
                payload={
                    "update_id": update_id,
                    "message": {"text": text, "from": {"id": 42, "first_name": BUYER_NAME}},
                },
                received_at=at,
            )
            stored = await append_message(
                session=session,
                conversation_id=case.id,
                buyer_id=buyer.id,
                direction="in",
                text=text,
                sent_at=at,
                received_at=at,
                chat_id=42,
                telegram_message_id=update_id,
                update_id=update_id,
                category=category,
                flags=flags,
            )
            texts.append(text)
            return stored.id

        first = await buyer_says(
            f"还没收到货，我叫{BUYER_NAME}，电话{PHONE}，地址{ADDRESS}",
            T0,
            501,
            "not_received",
            "urgent",
        )
        card, _ = await card_store.create_card(
            session=session,
            message_id=first,
            conversation_id=case.id,
            suggestions=[Suggestion(kind="quick", text="亲，马上为您查询物流")],
            language="zh-Hans",
        )
        reply = "亲，马上为您查询物流"
        await append_message(
            session=session,
            conversation_id=case.id,
            buyer_id=buyer.id,
            direction="out",
            text=reply,
            sent_at=T0 + timedelta(minutes=2),
            suggestion_index=1,
            suggestion_edited=False,
            agent_id=agent.id,
            category="not_received",
        )
        texts.append(reply)
        await append_audit(
            session=session,
            actor_telegram_id=9001,
            action="suggestion.sent",
            target=f"card:{card.id}",
            details={"message_id": first, "suggestion_index": 1, "latency_seconds": 120.0},
            created_at=T0 + timedelta(minutes=2),
        )
        await card_store.close_card(session=session, card=card, status="sent", agent_id=agent.id)

        second = await buyer_says(
            "再不处理就给差评！照片看快递盒",
            T0 + timedelta(minutes=5),
            502,
            "bad_review",
            "angry,threatens_review",
        )
        photo = _photo()
        digest = store.put(photo)
        await append_attachment(
            session=session,
            message_id=second,
            kind="photo",
            telegram_file_id="photo-1",
            status="stored",
            sha256=digest,
            size=len(photo),
            mime_type="image/jpeg",
            stored_path=store.relative_path(digest),
            created_at=T0 + timedelta(minutes=5),
        )
        card2, _ = await card_store.create_card(
            session=session,
            message_id=second,
            conversation_id=case.id,
            suggestions=[],
            language="zh-Hans",
        )
        await append_audit(
            session=session,
            actor_telegram_id=9001,
            action="reply.check_failed",
            target=f"card:{card2.id}",
            details={"rules": ["no_apology", "flat_refusal"], "pending": 1},
            created_at=T0 + timedelta(minutes=8),
        )
        own = "非常抱歉给您带来不便，已为您补发"
        await append_message(
            session=session,
            conversation_id=case.id,
            buyer_id=buyer.id,
            direction="out",
            text=own,
            sent_at=T0 + timedelta(minutes=10),
            agent_id=agent.id,
            category="bad_review",
        )
        texts.append(own)
        await card_store.close_card(session=session, card=card2, status="own", agent_id=agent.id)

        other = await get_or_create_buyer(
            session=session, telegram_user_id=43, display_name="Alice Brown"
        )
        case_two = await open_conversation_for(session=session, buyer_id=other.id)
        case_two.opened_at = T0 + timedelta(days=1)
        case_two.category = "extortion"
        text = "Pay me 500 or I post a bad review. Call +1 415 555 0100, Alice Brown"
        stored = await append_message(
            session=session,
            conversation_id=case_two.id,
            buyer_id=other.id,
            direction="in",
            text=text,
            sent_at=T0 + timedelta(days=1),
            category="extortion",
            flags="threatens_review,wants_compensation",
        )
        texts.append(text)
        card3, _ = await card_store.create_card(
            session=session,
            message_id=stored.id,
            conversation_id=case_two.id,
            suggestions=[],
            language="en",
        )
        await card_store.close_card(
            session=session, card=card3, status="escalated", agent_id=agent.id
        )
        case_one_id, case_two_id = case.id, case_two.id
    yield Shop(
        db=db,
        settings=settings,
        wording=wording,
        store=store,
        case_one=case_one_id,
        case_two=case_two_id,
        texts=texts,
        photo_sha256=digest,
    )
    await db.close()
