"""Issue 15 parts 2 and 5: the training export (the shop's labels) and accuracy in the report."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.core.export_filter import ExportFilter, ExportFormat
from bot.core.labels import CardLabel
from bot.core.roles import Role
from bot.core.types import Category, Flag, Language
from bot.export.report import accuracy_figure
from bot.export.service import ChainBroken, ExportRequest, stats_summary, write_export
from bot.export.stats import build_accuracy
from bot.export.summary import accuracy_text
from bot.export.view import make_view
from bot.storage import labels as label_store
from bot.storage.models import utcnow
from tests.export.conftest import ADDRESS, BUYER_NAME, PHONE, T0, Shop


def _request(**kwargs: Any) -> ExportRequest:
    return ExportRequest(
        format=ExportFormat.TRAINING,
        filters=kwargs.pop("filters", ExportFilter()),
        actor_telegram_id=9002,
        actor_role=Role.SUPERVISOR,
        language=Language.ZH_HANS,
        **kwargs,
    )


async def _export(shop: Shop, request: ExportRequest) -> tuple[list[dict[str, Any]], int]:
    out = io.BytesIO()
    rows = await write_export(
        db=shop.db, settings=shop.settings, wording=shop.wording, request=request, out=out
    )
    return [json.loads(line) for line in out.getvalue().decode().splitlines()], rows


async def _message_ids(shop: Shop) -> list[int]:
    async with shop.db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM messages WHERE direction = 'in' ORDER BY seq")
        )
        return [int(row.id) for row in rows]


async def _correct_threat(shop: Shop) -> int:
    """An agent corrects the second buyer message (bad_review) to a complaint, flags kept."""
    second = (await _message_ids(shop))[1]
    async with shop.db.transaction() as session:
        [card_id] = (
            await session.execute(text("SELECT id FROM cards WHERE message_id = :m"), {"m": second})
        ).scalars()
        outcome = await label_store.claim_correction(
            session=session,
            target=label_store.card_target(int(card_id)),
            message_id=second,
            original=CardLabel(Category.BAD_REVIEW, frozenset({Flag.ANGRY, Flag.THREATENS_REVIEW})),
            expected_revision=0,
            category=Category.COMPLAINT,
            flags=frozenset({Flag.ANGRY, Flag.THREATENS_REVIEW}),
            actor_telegram_id=9001,
        )
    assert outcome.written
    return second


async def test_issue_15_training_export_writes_the_shops_labels(shop: Shop) -> None:
    second = await _correct_threat(shop)
    first = (await _message_ids(shop))[0]
    lines, rows = await _export(shop, _request())
    for line in lines:
        line.pop("time")
    assert rows == 2
    assert lines == [
        {
            "record": "label",
            "message_id": first,
            "text": shop.texts[0],
            "category": "not_received",
            "flags": ["urgent"],
            "strength": "confirmation",
            "weight": 1.0,
        },
        {
            "record": "label",
            "message_id": second,
            "text": "再不处理就给差评！照片看快递盒",
            "category": "complaint",
            "flags": ["angry", "threatens_review"],
            "strength": "correction",
            "weight": 3.0,
        },
    ]


async def test_issue_15_training_export_is_redacted_and_audited(shop: Shop) -> None:
    await _correct_threat(shop)
    lines, _rows = await _export(shop, _request(redact=True))
    first = lines[0]["text"]
    assert (PHONE in first, BUYER_NAME in first, ADDRESS in first) == (False, False, False)
    assert first == "还没收到货，我叫李**，电话***********，地址***"
    assert lines[0]["time"].endswith("+08:00")
    async with shop.db.engine.connect() as conn:
        [details] = (
            await conn.execute(
                text("SELECT details FROM audit_log WHERE action = 'export.created'")
            )
        ).scalars()
    audit = json.loads(details)
    assert (audit["format"], audit["rows"], audit["redact"]) == ("training", 2, True)


async def test_issue_15_training_export_filters_by_category_and_refuses_others(
    shop: Shop,
) -> None:
    await _correct_threat(shop)
    lines, rows = await _export(shop, _request(filters=ExportFilter(category="complaint")))
    assert (rows, [line["category"] for line in lines]) == (1, ["complaint"])
    with pytest.raises(ValueError, match="cannot filter by case"):
        await _export(shop, _request(filters=ExportFilter(case=1)))


async def test_issue_15_training_export_refuses_a_broken_chain(shop: Shop) -> None:
    from tests.export.test_export_hardening import _tamper

    await _tamper(shop)
    with pytest.raises(ChainBroken):
        await _export(shop, _request())
    lines, rows = await _export(shop, _request(allow_broken=True))
    assert lines[0]["record"] == "chain_broken"
    assert rows == 1


async def test_issue_15_accuracy_counts_cards_corrections_and_pairs(shop: Shop) -> None:
    await _correct_threat(shop)
    # The seeded messages are from 2026-11-20/21: the 30 days up to a week later hold them.
    accuracy = await build_accuracy(db=shop.db, until=T0 + timedelta(days=7))
    assert [(r.category, r.cards, r.corrections, r.share) for r in accuracy.rows] == [
        ("bad_review", 1, 1, 1.0),
        ("extortion", 1, 0, 0.0),
        ("not_received", 1, 0, 0.0),
    ]
    assert accuracy.pairs == (("bad_review", "complaint", 1),)
    view = make_view(shop.settings, shop.wording, Language.ZH_HANS, redact=False)
    assert accuracy_text(accuracy, view).splitlines() == [
        "近 30 天坐席判定的分类准确度（卡片 · 被更正 · 占比）：",
        "• 评价/差评：1 · 1 · 100%",
        "• 差评师/勒索：1 · 0 · 0%",
        "• 未收到货：1 · 0 · 0%",
        "最常见的更正（原分类 → 应为）：",
        "• 评价/差评 → 投诉/服务态度：1",
    ]
    figure = accuracy_figure(accuracy, view)
    share, pairs = figure.axes
    assert [t.get_text() for t in share.get_yticklabels()] == [
        "评价/差评 (1/1)",
        "差评师/勒索 (0/1)",
        "未收到货 (0/1)",
    ]
    assert [bar.get_width() for bar in share.containers[0]] == [100.0, 0.0, 0.0]
    assert [t.get_text() for t in pairs.get_yticklabels()] == ["评价/差评 → 投诉/服务态度"]


async def test_issue_15_stats_add_the_accuracy_text_and_chart(shop: Shop, tmp_path: Any) -> None:
    await _correct_threat(shop)
    text_out, charts = await stats_summary(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        language=Language.ZH_HANS,
        filters=ExportFilter(until=T0 + timedelta(days=7)),
        actor_role=Role.SUPERVISOR,
        actor_telegram_id=9002,
        directory=tmp_path,
        now=utcnow(),
    )
    assert "• 评价/差评 → 投诉/服务态度：1" in text_out
    assert [chart.name for chart in charts] == ["kefu-report.png", "kefu-accuracy.png"]
    assert all(chart.stat().st_size > 10_000 for chart in charts)
