"""`kefu report` and `/stats` as PNG charts (matplotlib, Agg); the text is `bot.export.summary`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import itertools

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.core.labels import AccuracyReport
from bot.core.service_levels import (
    AGE_EDGES,
    OUTCOMES,
    RESPONSE_EDGES,
    TeamReport,
    duration_text,
    percent,
)
from bot.export.fonts import cjk_font_path
from bot.export.summary import OTHER, category_label
from bot.export.view import ExportView

OUTCOME_COLOURS = ("#2e7d32", "#9ccc65", "#42a5f5", "#bdbdbd", "#ef6c00")


def _font_family() -> str:
    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def _age_labels(view: ExportView) -> list[str]:
    edges = [int(e) for e in AGE_EDGES]
    labels = [view.r("age_under", days=edges[0])]
    labels += [view.r("age_between", low=lo, high=hi) for lo, hi in itertools.pairwise(edges)]
    labels.append(view.r("age_over", days=edges[-1]))
    return labels


def _response_labels() -> list[str]:
    edges = [duration_text(e) for e in RESPONSE_EDGES]
    return [f"≤{edges[0]}", *(f"≤{e}" for e in edges[1:]), f">{edges[-1]}"]


MAX_BANDS = 8  # bands in the daily chart: the most frequent categories, the rest as "other"


def daily_bands(report: TeamReport) -> list[tuple[str, list[int]]]:
    """Buyer messages per day for each band of the daily chart, every message in exactly one band:
    the most frequent categories, then one `OTHER` band with the rest."""
    days = report.days()
    categories = report.categories()
    kept = categories if len(categories) <= MAX_BANDS else categories[: MAX_BANDS - 1]
    rest = [c for c in categories if c not in kept]

    def per_day(names: list[str]) -> list[int]:
        counts = [report.messages_by_day.get(day) for day in days]
        return [sum(c[name] for name in names) if c else 0 for c in counts]

    bands = [(category, per_day([category])) for category in kept]
    if rest:
        bands.append((OTHER, per_day(rest)))
    return [(name, values) for name, values in bands if any(values)]


def _no_data(ax: Axes, view: ExportView) -> None:
    """An empty panel says so instead of drawing an empty axis."""
    ax.text(
        0.5,
        0.5,
        view.r("no_data"),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=14,
        color="#757575",
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _messages_panel(ax: Axes, report: TeamReport, view: ExportView) -> bool:
    bands = daily_bands(report)
    if not bands:
        return False
    days = [d.strftime("%m-%d") for d in report.days()]
    bottoms = [0] * len(days)
    for category, values in bands:
        colour = "#9e9e9e" if category == OTHER else None
        ax.bar(days, values, bottom=bottoms, label=category_label(view, category), color=colour)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_ylabel(view.r("axis_messages"))
    ax.legend(fontsize=8, ncols=2)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return True


def _responses_panel(ax: Axes, report: TeamReport, view: ExportView) -> bool:
    responses = report.responses
    if not sum(responses.buckets):
        return False
    labels = _response_labels()
    colours = [
        "#2e7d32"
        if (RESPONSE_EDGES[i] if i < len(RESPONSE_EDGES) else float("inf"))
        <= responses.warning_seconds
        else "#f9a825"
        if (RESPONSE_EDGES[i] if i < len(RESPONSE_EDGES) else float("inf"))
        <= responses.target_seconds
        else "#c62828"
        for i in range(len(labels))
    ]
    ax.bar(labels, responses.buckets, color=colours)
    ax.set_ylabel(view.r("axis_conversations"))
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return True


def _acceptance_panel(ax: Axes, report: TeamReport, view: ExportView) -> bool:
    tallies = sorted(report.acceptance.items(), key=lambda item: -item[1].decided)[:8]
    if not tallies:
        return False
    names = [category_label(view, c) for c, _ in tallies]
    lefts = [0.0] * len(tallies)
    for outcome, colour in zip(OUTCOMES, OUTCOME_COLOURS, strict=True):
        shares = [(t.counts[outcome] / t.decided if t.decided else 0.0) * 100 for _, t in tallies]
        ax.barh(names, shares, left=lefts, color=colour, label=view.t(f"outcome.{outcome}"))
        lefts = [a + b for a, b in zip(lefts, shares, strict=True)]
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    ax.invert_yaxis()
    ax.legend(fontsize=8, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.06))
    return True


def _open_cases_panel(ax: Axes, report: TeamReport, view: ExportView) -> bool:
    statuses = sorted(report.open_cases)
    if not statuses:
        return False
    ages = _age_labels(view)
    width = 0.8 / len(statuses)
    for index, status in enumerate(statuses):
        counts = [report.open_cases[status].get(bucket, 0) for bucket in range(len(ages))]
        ax.bar(
            [i + index * width for i in range(len(ages))],
            counts,
            width=width,
            label=view.state(status),
        )
    ax.set_xticks([i + width * (len(statuses) - 1) / 2 for i in range(len(ages))], ages)
    ax.set_ylabel(view.r("axis_cases"))
    ax.legend(fontsize=8)
    return True


def report_figure(report: TeamReport, view: ExportView) -> Figure:
    """Four panels: messages by day and category, first-response times against the target,
    suggestion outcomes per category, open cases by status and age (close it when done)."""
    with _cjk_fonts():
        return _draw_panels(report, view)


def _cjk_fonts() -> AbstractContextManager[None]:
    """Matplotlib settings that draw Chinese: needed while laying out and while saving."""
    family = _font_family()
    return plt.rc_context({"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"]})


def _draw_panels(report: TeamReport, view: ExportView) -> Figure:
    r = view.r
    figure, axes = plt.subplots(2, 2, figsize=(14, 9.5), dpi=100)
    figure.suptitle(r("chart_title"), fontsize=16)
    responses = report.responses
    panels = (
        (axes[0][0], _messages_panel, r("chart_messages"), True),
        (
            axes[0][1],
            _responses_panel,
            r(
                "chart_first_response",
                target=duration_text(responses.target_seconds),
                share=percent(responses.target_share),
            ),
            True,
        ),
        (axes[1][0], _acceptance_panel, r("chart_acceptance"), False),
        (axes[1][1], _open_cases_panel, r("chart_open_cases"), True),
    )
    for ax, draw, title, counts in panels:
        ax.set_title(title)
        if not draw(ax, report, view):
            _no_data(ax, view)
        elif counts:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def draw_report_chart(report: TeamReport, view: ExportView, out: Path) -> Path:
    """The report's four panels as one PNG at `out`."""
    with _cjk_fonts():
        figure = _draw_panels(report, view)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(out, format="png")
        finally:
            plt.close(figure)
    return out


def _accuracy_share_panel(ax: Axes, accuracy: AccuracyReport, view: ExportView) -> bool:
    rows = accuracy.rows
    if not rows:
        return False
    names = [
        f"{category_label(view, row.category)} ({row.corrections}/{row.cards})" for row in rows
    ]
    ax.barh(names, [row.share * 100 for row in rows], color="#ef6c00")
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    ax.invert_yaxis()
    return True


def _accuracy_pairs_panel(ax: Axes, accuracy: AccuracyReport, view: ExportView) -> bool:
    pairs = accuracy.pairs
    if not pairs:
        return False
    names = [
        f"{category_label(view, was)} → {category_label(view, should)}" for was, should, _ in pairs
    ]
    ax.barh(names, [count for _, _, count in pairs], color="#42a5f5")
    ax.set_xlabel(view.r("axis_corrections"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.invert_yaxis()
    return True


def accuracy_figure(accuracy: AccuracyReport, view: ExportView) -> Figure:
    """Two panels: the share of each category's cards corrected, and the top corrections."""
    with _cjk_fonts():
        return _draw_accuracy(accuracy, view)


def _draw_accuracy(accuracy: AccuracyReport, view: ExportView) -> Figure:
    figure, axes = plt.subplots(1, 2, figsize=(14, 5.5), dpi=100)
    figure.suptitle(view.r("chart_accuracy_title"), fontsize=16)
    panels = (
        (axes[0], _accuracy_share_panel, view.r("chart_accuracy_share")),
        (axes[1], _accuracy_pairs_panel, view.r("chart_accuracy_pairs")),
    )
    for ax, draw, title in panels:
        ax.set_title(title)
        if not draw(ax, accuracy, view):
            _no_data(ax, view)
    figure.tight_layout()
    return figure


def draw_accuracy_chart(accuracy: AccuracyReport, view: ExportView, out: Path) -> Path:
    """The accuracy chart as one PNG at `out`."""
    with _cjk_fonts():
        figure = _draw_accuracy(accuracy, view)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(out, format="png")
        finally:
            plt.close(figure)
    return out


def accuracy_chart_path(chart: Path) -> Path:
    """Where the accuracy chart goes beside the report's chart: `kefu-accuracy-TIME.png` beside
    the default `kefu-report-TIME.png`, else `NAME-accuracy.png`."""
    suffix = chart.suffix or ".png"
    if chart.stem.startswith("kefu-report-"):
        return chart.with_name(f"kefu-accuracy-{chart.stem.removeprefix('kefu-report-')}{suffix}")
    return chart.with_name(f"{chart.stem}-accuracy{suffix}")
