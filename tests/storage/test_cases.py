"""Cases on real migrated SQLite and PostgreSQL: facts from the log, audited status changes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.appeal import draft_appeal
from bot.core.cases import CaseState, Party, Refusal, RefusalReason, Transition
from bot.core.roles import Role
from bot.core.types import Language, Suggestion
from bot.phrasebook.loader import load_phrasebook
from bot.storage import case_log, cases
from bot.storage.agents import upsert_agent
from bot.storage.cards import create_card
from bot.storage.engine import make_sessionmaker
from bot.storage.evidence import append_attachment, append_audit, append_message, chain_head
from bot.storage.models import AuditEntry, Conversation, Message
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from bot.storage.verify import verify_chain

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
EXTORTION = "不给我200元我就给差评"
SHA = "5e" * 32
AGENT = 9001


async def _case(engine: AsyncEngine, telegram_user_id: int = 501, name: str = "小王") -> int:
    """A conversation with a buyer's complaint, a reply, an extortion message and a photo."""
    async with make_sessionmaker(engine).begin() as session:
        buyer = await get_or_create_buyer(
            session=session, telegram_user_id=telegram_user_id, display_name=name
        )
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        first = await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="in",
            text="运单号 SF1234567890123 显示签收了，我没收到",
            sent_at=T0,
            category="not_received",
        )
        await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="out",
            text="非常抱歉，我马上联系快递核实。",
            sent_at=T0 + timedelta(minutes=1),
        )
        await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=buyer.id,
            direction="in",
            text=EXTORTION,
            sent_at=T0 + timedelta(minutes=5),
            category="extortion",
            flags=["threatens_review", "wants_compensation"],
        )
        await append_attachment(
            session=session,
            message_id=first.id,
            kind="photo",
            telegram_file_id="f1",
            status="stored",
            sha256=SHA,
        )
        await append_attachment(
            session=session,
            message_id=first.id,
            kind="document",
            telegram_file_id="f2",
            status="failed",
            error="timeout",
        )
        await append_audit(
            session=session,
            actor_telegram_id=None,
            action="suggestion.sent",
            target="card:1",  # part of a case's timeline only if card 1 is one of its cards
        )
        return conversation.id


async def _change(
    engine: AsyncEngine, case_id: int, target: str, responsibility: str | None = None
) -> Transition | Refusal | None:
    async with make_sessionmaker(engine).begin() as session:
        return await cases.change_status(
            session=session,
            conversation_id=case_id,
            target=target,
            responsibility=responsibility,
            actor_telegram_id=AGENT,
        )


async def _conversation(engine: AsyncEngine, case_id: int) -> Conversation:
    async with make_sessionmaker(engine)() as session:
        found = await session.get(Conversation, case_id)
        assert found is not None
        return found


async def _case_audits(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, object]]]:
    async with make_sessionmaker(engine)() as session:
        rows = (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.target == f"case:{case_id}")
                .order_by(AuditEntry.seq)
            )
        ).scalars()
        return [(r.action, json.loads(r.details)) for r in rows]


async def test_a_case_walks_through_its_states_and_every_change_is_audited(
    engine: AsyncEngine,
) -> None:
    case_id = await _case(engine)
    walk = [
        ("verifying", None),
        ("responsibility_decided", "buyer"),
        ("appeal", None),
        ("resolved", None),
    ]
    outcomes = [await _change(engine, case_id, target, party) for target, party in walk]
    resolved = await _conversation(engine, case_id)
    reopened = await _change(engine, case_id, "verifying")
    after = await _conversation(engine, case_id)

    assert outcomes == [
        Transition(CaseState.NEW, CaseState.VERIFYING, None),
        Transition(CaseState.VERIFYING, CaseState.RESPONSIBILITY_DECIDED, Party.BUYER),
        Transition(CaseState.RESPONSIBILITY_DECIDED, CaseState.APPEAL, Party.BUYER),
        Transition(CaseState.APPEAL, CaseState.RESOLVED, Party.BUYER),
    ]
    assert (resolved.status, resolved.responsibility) == ("resolved", "buyer")
    assert resolved.closed_at is not None
    assert resolved.closed_at >= resolved.opened_at
    assert reopened == Transition(CaseState.RESOLVED, CaseState.VERIFYING, None)
    assert (after.status, after.responsibility, after.closed_at) == ("verifying", None, None)
    assert await _case_audits(engine, case_id) == [
        ("case.status", {"from": "new", "to": "verifying", "responsibility": None}),
        (
            "case.status",
            {"from": "verifying", "to": "responsibility_decided", "responsibility": "buyer"},
        ),
        (
            "case.status",
            {"from": "responsibility_decided", "to": "appeal", "responsibility": "buyer"},
        ),
        ("case.status", {"from": "appeal", "to": "resolved", "responsibility": "buyer"}),
        ("case.status", {"from": "resolved", "to": "verifying", "responsibility": None}),
    ]
    report = await verify_chain(engine=engine, attachments=None)
    assert report.breaks == []


async def test_a_refused_change_leaves_the_case_and_records_the_reason(engine: AsyncEngine) -> None:
    case_id = await _case(engine)
    before = await _conversation(engine, case_id)
    refused = await _change(engine, case_id, "remedy")
    no_party = await _change(engine, case_id, "verifying", "seller")
    after = await _conversation(engine, case_id)

    assert isinstance(refused, Refusal)
    assert isinstance(no_party, Refusal)
    assert (refused.reason, no_party.reason) == (
        RefusalReason.NOT_ALLOWED_FROM,
        RefusalReason.RESPONSIBILITY_NOT_EXPECTED,
    )
    assert (after.status, after.responsibility, after.updated_at) == (
        "new",
        None,
        before.updated_at,
    )
    assert await _case_audits(engine, case_id) == [
        (
            "case.refused",
            {"from": "new", "to": "remedy", "reason": "not_allowed_from", "responsibility": None},
        ),
        (
            "case.refused",
            {
                "from": "new",
                "to": "verifying",
                "reason": "responsibility_not_expected",
                "responsibility": "seller",
            },
        ),
    ]


async def test_an_unknown_case_is_none(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        facts = await cases.case_facts(session=session, conversation_id=404)
    assert facts is None
    assert await _change(engine, 404, "verifying") is None


async def test_case_facts_read_the_log(engine: AsyncEngine) -> None:
    case_id = await _case(engine)
    await _change(engine, case_id, "verifying")
    await _change(engine, case_id, "responsibility_decided", "buyer")
    async with make_sessionmaker(engine)() as session:
        record = await cases.case_facts(session=session, conversation_id=case_id, timeline_length=4)
        head = await chain_head(session=session)
    assert record is not None
    facts = record.facts

    assert [(m.direction, m.text) for m in facts.messages] == [
        ("in", "运单号 SF1234567890123 显示签收了，我没收到"),
        ("out", "非常抱歉，我马上联系快递核实。"),
        ("in", EXTORTION),
    ]
    assert facts.messages[2].flags == ("threatens_review", "wants_compensation")
    assert facts.messages[0].at == T0
    assert (facts.messages_all, facts.messages_in, facts.attachments_all) == (3, 2, 2)
    assert [(a.kind, a.sha256, a.status) for a in facts.attachments] == [
        ("photo", SHA, "stored"),
        ("document", None, "failed"),
    ]
    assert [(e.action, e.state, e.responsibility) for e in facts.events] == [
        ("case.status", "verifying", None),
        ("case.status", "responsibility_decided", "buyer"),
    ]
    assert (facts.status, facts.responsibility, facts.category) == (
        "responsibility_decided",
        "buyer",
        "extortion",  # the conversation has no category yet: extortion beats the rest
    )
    assert (facts.chain_seq, facts.chain_hash) == (head.seq, head.hash)
    assert facts.tracking_numbers == ("SF1234567890123",)
    assert [(e.kind, e.action or e.text) for e in record.timeline] == [
        ("attachment", "photo"),
        ("attachment", "document"),
        ("audit", "case.status"),
        ("audit", "case.status"),
    ]
    assert record.buyer.display_name == "小王"

    wording = load_phrasebook(DEFAULT_PHRASEBOOK_DIR).wording
    draft = draft_appeal(
        facts, wording, shop_language=Language.ZH_HANS, zone=ZoneInfo("Asia/Shanghai")
    )
    assert f"· 2026-11-22 14:05「{EXTORTION}」" in draft
    assert "· 2026-11-22 14:00 买家首次联系" in draft
    assert "图片 / 文件 1 个，sha256：5e5e5e5e5e5e" in draft
    assert f"第 {head.seq} 条记录，哈希 {head.hash}" in draft


async def test_a_long_case_reads_its_first_newest_and_quoted_messages(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_log, "HEAD_MESSAGES", 2)
    monkeypatch.setattr(case_log, "TAIL_MESSAGES", 2)
    async with make_sessionmaker(engine).begin() as session:
        buyer = await get_or_create_buyer(session=session, telegram_user_id=7, display_name="B")
        conversation = await open_conversation_for(session=session, buyer_id=buyer.id)
        for n in range(10):
            await append_message(
                session=session,
                conversation_id=conversation.id,
                buyer_id=buyer.id,
                direction="in",
                text=f"m{n}",
                sent_at=T0 + timedelta(minutes=n),
                category="extortion" if n == 5 else "inquiry",
            )
    async with make_sessionmaker(engine)() as session:
        record = await cases.case_facts(session=session, conversation_id=conversation.id)
    assert record is not None
    assert [m.text for m in record.facts.messages] == ["m0", "m1", "m5", "m8", "m9"]
    assert (record.facts.messages_all, record.facts.messages_in) == (10, 10)


async def test_open_cases_for_an_agent_and_for_a_supervisor(engine: AsyncEngine) -> None:
    first = await _case(engine, 601, "甲")
    second = await _case(engine, 602, "乙")
    third = await _case(engine, 603, "丙")
    finished = await _case(engine, 604, "丁")
    async with make_sessionmaker(engine).begin() as session:
        other = await upsert_agent(session=session, telegram_user_id=1234, role=Role.AGENT)
        me = await upsert_agent(session=session, telegram_user_id=AGENT, role=Role.AGENT)
        for case_id, agent in ((first, me), (second, other)):
            conversation = await session.get(Conversation, case_id)
            assert conversation is not None
            conversation.assigned_agent_id = agent.id
    await _change(engine, finished, "closed")
    await _change(engine, first, "verifying")  # the newest change comes first

    async with make_sessionmaker(engine)() as session:
        mine = await cases.open_cases(session=session, agent_telegram_id=AGENT)
        everyone = await cases.open_cases(session=session, agent_telegram_id=None)
        newest = await cases.open_cases(session=session, agent_telegram_id=None, limit=1)
    assert [c.id for c, _ in mine] == [first, third]
    assert [c.id for c, _ in everyone] == [first, second, third]  # assigning touched second
    assert [(c.id, b.display_name) for c, b in newest] == [(first, "甲")]


async def test_two_agents_changing_one_case_at_once_are_serialised(engine: AsyncEngine) -> None:
    case_id = await _case(engine)
    outcomes = await asyncio.gather(
        _change(engine, case_id, "verifying"), _change(engine, case_id, "verifying")
    )
    kinds = sorted(type(o).__name__ for o in outcomes)
    refused = next(o for o in outcomes if isinstance(o, Refusal))
    assert kinds == ["Refusal", "Transition"]
    assert refused.reason is RefusalReason.ALREADY_IN_STATE
    assert [a for a, _ in await _case_audits(engine, case_id)] == ["case.status", "case.refused"]


async def test_card_outcomes_are_part_of_the_case_events(engine: AsyncEngine) -> None:
    case_id = await _case(engine)
    other = await _case(engine, telegram_user_id=777, name="小李")
    async with make_sessionmaker(engine).begin() as session:
        cards = []
        for conversation_id in (case_id, other):
            first = (
                await session.execute(
                    select(Message.id)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.seq)
                    .limit(1)
                )
            ).scalar_one()
            card, _ = await create_card(
                session=session,
                message_id=first,
                conversation_id=conversation_id,
                suggestions=[Suggestion("quick", "您好")],
                language="zh-Hans",
            )
            cards.append(card.id)
        for card_id, action in zip(cards, ("suggestion.sent", "suggestion.skipped"), strict=True):
            await append_audit(
                session=session, actor_telegram_id=AGENT, action=action, target=f"card:{card_id}"
            )
    async with make_sessionmaker(engine)() as session:
        record = await cases.case_facts(session=session, conversation_id=case_id)
    assert record is not None
    # Card 1 is this case's card: its audit rows (two from the fixtures, one above) belong to the
    # case; card 2's (the other case's) do not.
    assert [e.action for e in record.facts.events] == ["suggestion.sent"] * 3
