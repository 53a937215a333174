"""Defect 13.15: every status, party, category and rule a person reads is in the reader's words.

Each output is rendered from the real migrated log (SQLite and PostgreSQL): the HTML transcript,
the JPEG pages and the PDF (what their drawing calls receive), the report text and the chart's
legends. None may show an id such as `new`, `seller` or `no_apology`, nor `key=value` pairs.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from matplotlib import pyplot as plt
from PIL import ImageDraw
from reportlab import platypus

from bot.core.cases import CaseState, Party
from bot.core.export_filter import ExportFilter, ExportFormat
from bot.core.roles import Role
from bot.core.types import Category, Flag, Language
from bot.export import pages
from bot.export.report import report_figure
from bot.export.service import ExportRequest, write_export
from bot.export.stats import build_report
from bot.export.summary import report_text
from bot.export.transcript import TranscriptCase, build_case
from bot.export.view import make_view
from bot.storage import cases as case_store
from bot.storage.exports.case_file import load_case
from bot.storage.filestore import AttachmentStore
from tests.export.conftest import Shop

RULES = (
    "flat_refusal",
    "blames_buyer",
    "no_apology",
    "no_remedy",
    "banned_superlative",
    "off_platform",
    "cash_for_review",
    "leaks_pii",
    "too_long",
)
PLATFORMS = ("telegram", "taobao", "kuaishou", "amazon")
IDS = sorted(
    {
        *(s.value for s in CaseState),
        *(p.value for p in Party),
        *(c.value for c in Category),
        *(f.value for f in Flag),
        *RULES,
        *PLATFORMS,
        "unknown",
        "None",
    },
    key=len,
    reverse=True,
)
RAW_ID = re.compile(r"(?<![A-Za-z_])(" + "|".join(IDS) + r")(?![A-Za-z_])")
KEY_VALUE = re.compile(r"[a-z_]+=")


def raw_ids(text: str) -> list[str]:
    """Every id or `key=value` pair a reader would see in `text`."""
    return RAW_ID.findall(text) + KEY_VALUE.findall(text)


class _Visible(HTMLParser):
    """The text a browser shows (no style, no attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("style", "script", "title")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "script", "title")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


async def _walk_case(shop: Shop) -> None:
    """Case one goes new → verifying → responsibility decided (seller) → remedy; one refusal."""
    steps = [
        ("verifying", None),
        ("remedy", None),  # refused: responsibility first
        ("responsibility_decided", "seller"),
        ("remedy", None),
    ]
    for target, party in steps:
        async with shop.db.transaction() as session:
            await case_store.change_status(
                session=session,
                conversation_id=shop.case_one,
                target=target,
                responsibility=party,
                actor_telegram_id=9002,
            )


async def _transcript(shop: Shop, language: Language) -> TranscriptCase:
    async with shop.db.session() as session:
        case = await load_case(session=session, conversation_id=shop.case_one)
    assert case is not None
    view = make_view(shop.settings, shop.wording, language, redact=False)
    return build_case(case, view, attachment_path=AttachmentStore(shop.settings.data_dir).path_for)


HISTORY_ZH = [
    "新建 → 核实中",
    "核实中 → 补救中",  # the refused change
    "核实中 → 已定责（责任：卖家）",
    "已定责 → 补救中",
    "问题：没有道歉、生硬拒绝",
    "建议 1, 用时 2m00s",
]


def _assert_worded(text: str, expected: list[str]) -> None:
    assert raw_ids(text) == []
    assert [phrase for phrase in expected if phrase not in text] == []


async def test_defect_13_15_html_transcript_names_statuses_parties_and_rules(shop: Shop) -> None:
    await _walk_case(shop)
    out = io.BytesIO()
    await write_export(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        request=ExportRequest(
            format=ExportFormat.HTML,
            filters=ExportFilter(case=shop.case_one),
            actor_telegram_id=9002,
            actor_role=Role.SUPERVISOR,
            language=Language.ZH_HANS,
        ),
        out=out,
    )
    html = out.getvalue().decode("utf-8")
    _assert_worded(visible_text(html), HISTORY_ZH)
    assert "<td>状态</td><td>补救中</td>" in html


async def test_defect_13_15_jpeg_pages_draw_the_status_words(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _walk_case(shop)
    drawn: list[str] = []
    original = ImageDraw.ImageDraw.text

    def recording(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kw: Any) -> None:
        drawn.append(str(text))
        original(self, xy, text, *args, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", recording)
    case = await _transcript(shop, Language.ZH_HANS)
    pages.draw_pages(case, page_label=lambda n, total: f"{n}/{total}")
    page_text = "\n".join(drawn)
    # Long history lines wrap, so compare with the line breaks taken out.
    _assert_worded(page_text, [])
    joined = page_text.replace("\n", "")
    assert [phrase for phrase in [*HISTORY_ZH, "状态: 补救中"] if phrase not in joined] == []


async def test_defect_13_15_pdf_paragraphs_use_the_status_words(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _walk_case(shop)
    written: list[str] = []
    original = platypus.Paragraph.__init__

    def recording(self: platypus.Paragraph, text: str, *args: Any, **kw: Any) -> None:
        written.append(text)
        original(self, text, *args, **kw)

    monkeypatch.setattr(platypus.Paragraph, "__init__", recording)
    case = await _transcript(shop, Language.ZH_HANS)
    pages.write_pdf([case], io.BytesIO())
    pdf_text = re.sub(r"<[^>]+>", "", "\n".join(written))  # Paragraph markup is not text
    _assert_worded(pdf_text, [*HISTORY_ZH, "状态: 补救中"])


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            Language.ZH_HANS,
            ["最常见：没有道歉", "• 补救中：1 件", "• 新建：1 件", "• 未收到货：100%"],
        ),
        (Language.EN, ["most often: no apology", "• Remedy under way: 1", "• New: 1"]),
    ],
)
async def test_defect_13_15_report_text_names_statuses_and_rules(
    shop: Shop, language: Language, expected: list[str]
) -> None:
    await _walk_case(shop)
    report = await build_report(
        db=shop.db, filters=ExportFilter(), zone=ZoneInfo(shop.settings.timezone)
    )
    view = make_view(shop.settings, shop.wording, language, redact=False)
    text = report_text(report, view, since=None, until=None)
    # English wording may use a word that is also an id ("Platform appeal"): check only Chinese.
    if language is Language.ZH_HANS:
        assert raw_ids(text) == []
    assert [phrase for phrase in expected if phrase not in text] == [], text


async def test_defect_13_15_chart_legends_name_statuses_and_categories(shop: Shop) -> None:
    await _walk_case(shop)
    report = await build_report(db=shop.db, filters=ExportFilter(), zone=ZoneInfo("Asia/Shanghai"))
    view = make_view(shop.settings, shop.wording, Language.ZH_HANS, redact=False)
    figure = report_figure(report, view)
    try:
        legends = [
            [text.get_text() for text in legend.get_texts()] if legend else []
            for legend in (ax.get_legend() for ax in figure.axes)
        ]
    finally:
        plt.close(figure)
    assert legends[0] == ["评价/差评", "差评师/勒索", "未收到货"]
    assert legends[3] == ["新建", "补救中"]
    assert raw_ids("\n".join(label for labels in legends for label in labels)) == []


async def test_the_report_counts_first_responses_against_the_shops_target_now(shop: Shop) -> None:
    """/settings sla_target moves the yardstick of /stats and kefu report too."""
    await _walk_case(shop)
    zone = ZoneInfo("Asia/Shanghai")
    tight = shop.settings.model_copy(update={"sla_target_seconds": 0.001})
    loose = shop.settings.model_copy(update={"sla_target_seconds": 86400})
    reports = [
        await build_report(db=shop.db, filters=ExportFilter(), zone=zone, policy=s.sla_policy)
        for s in (tight, loose)
    ]
    assert [r.responses.target_seconds for r in reports] == [0.001, 86400.0]
    assert reports[1].responses.total > 0
    assert (reports[0].responses.target_share, reports[1].responses.target_share) == (0.0, 1.0)
