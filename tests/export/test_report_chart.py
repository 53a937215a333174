"""Defect 13.16 (and 13.15's chart legends): the report chart counts every message, names every
band and status in the reader's words, and says "no data" on an empty panel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.core.service_levels import MessageFact, TeamReport
from bot.core.types import Category, Language
from bot.core.wording import Wording
from bot.export.report import report_figure
from bot.export.view import ExportView

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
# Twelve categories over three days, 156 buyer messages; the eight biggest hold 135 of them.
PER_CATEGORY = dict(zip(list(Category), (30, 25, 20, 18, 14, 11, 9, 6, 8, 6, 5, 4), strict=True))


def _busy_week() -> TeamReport:
    report = TeamReport(zone=SHANGHAI)
    conversation = 0
    for category, count in PER_CATEGORY.items():
        for n in range(count):
            conversation += 1
            at = T0 + timedelta(days=n % 3, minutes=n)
            report.add_conversation(
                [
                    MessageFact(conversation, "in", at, category.value, (), None),
                    MessageFact(conversation, "out", at + timedelta(seconds=70), None, (), 7),
                ]
            )
    report.add_open_case("appeal", T0, T0 + timedelta(days=2))
    report.add_open_case("new", T0, T0 + timedelta(days=9))
    return report


@pytest.fixture
def view(wording: Wording) -> ExportView:
    return ExportView(wording=wording, language=Language.ZH_HANS, zone=SHANGHAI)


def _figure(report: TeamReport, view: ExportView) -> Iterator[Figure]:
    figure = report_figure(report, view)
    try:
        yield figure
    finally:
        plt.close(figure)


def _legend(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def _panel_texts(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_defect_13_16_every_message_is_drawn_in_a_band(view: ExportView) -> None:
    report = _busy_week()
    assert report.messages_in == 156
    for figure in _figure(report, view):
        daily = figure.axes[0]
        drawn = sum(bar.get_height() for bars in daily.containers for bar in bars)
        assert drawn == 156
        labels = _legend(daily)
        assert len(labels) == 8
        assert labels[-1] == "其他"  # the five smallest categories, 29 messages
        assert labels[:7] == [view.category(c.value) for c in list(Category)[:7]]
        other = daily.containers[-1]
        assert sum(bar.get_height() for bar in other) == 8 + 6 + 6 + 5 + 4


def test_defect_13_15_open_case_legend_names_the_statuses(view: ExportView) -> None:
    for figure in _figure(_busy_week(), view):
        assert _legend(figure.axes[3]) == ["平台申诉", "新建"]


def test_defect_13_16_empty_panels_say_no_data(view: ExportView) -> None:
    for figure in _figure(TeamReport(zone=SHANGHAI), view):
        for ax in figure.axes:
            assert _panel_texts(ax) == ["暂无数据"]
            assert list(ax.get_yticks()) == []
            assert ax.get_legend() is None


def test_defect_13_16_a_panel_with_data_has_no_no_data_note(view: ExportView) -> None:
    for figure in _figure(_busy_week(), view):
        assert [_panel_texts(ax) for ax in figure.axes] == [[], [], ["暂无数据"], []]
