"""`kefu report` and `/stats`: the team's numbers as text and as one PNG chart (matplotlib, Agg)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import itertools

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.ticker import MaxNLocator

from bot.core.service_levels import (
    AGE_EDGES,
    OUTCOMES,
    RESPONSE_EDGES,
    THREAT_FLAGS,
    TeamReport,
    duration_text,
    percent,
    rules_by_agent,
)
from bot.export.fonts import cjk_font_path
from bot.export.view import ExportView

OUTCOME_COLOURS = ("#2e7d32", "#9ccc65", "#42a5f5", "#bdbdbd", "#ef6c00")


def _font_family() -> str:
    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def report_text(
    report: TeamReport, view: ExportView, *, since: datetime | None, until: datetime | None
) -> str:
    """The summary a supervisor reads (also the weekly message)."""
    r = view.r
    period = f"{view.local(since)[:10] or '…'} – {view.local(until)[:10] or r('now')}"
    lines = [r("title", period=period), ""]
    lines.append(
        r(
            "volume",
            messages_in=report.messages_in,
            messages_out=report.messages_out,
            conversations=report.conversations,
        )
    )
    responses = report.responses
    lines.append(
        r(
            "first_response",
            target=duration_text(responses.target_seconds),
            target_share=percent(responses.target_share),
            warning=duration_text(responses.warning_seconds),
            warning_share=percent(responses.warning_share),
            unanswered=responses.unanswered,
        )
    )
    lines.append(
        r(
            "threats",
            extortion=report.extortion,
            review=report.threats[THREAT_FLAGS[0]],
            complaint=report.threats[THREAT_FLAGS[1]],
        )
    )
    if report.acceptance:
        lines += ["", r("acceptance_title")]
        for category, tally in sorted(report.acceptance.items(), key=lambda item: -item[1].decided):
            lines.append(
                r(
                    "acceptance_line",
                    category=view.category(category) or category,
                    accepted=percent(tally.accepted),
                    as_is=percent(tally.accepted_as_is),
                    sent=tally.counts["sent"],
                    edited=tally.counts["edited"],
                    own=tally.counts["own"],
                    skipped=tally.counts["skipped"],
                    escalated=tally.counts["escalated"],
                )
            )
    if report.check_findings:
        lines += ["", r("checks_title")]
        for agent, total, top in rules_by_agent(report.check_findings):
            rule = r(f"rule_names.{top}") if top else "-"
            rule = top if rule == f"report.rule_names.{top}" else rule
            lines.append(r("checks_line", agent=agent or "-", findings=total, rule=rule))
    if report.open_cases:
        lines += ["", r("open_title")]
        for status, ages in sorted(report.open_cases.items()):
            old = sum(n for bucket, n in ages.items() if bucket >= 3)
            lines.append(r("open_line", status=status, cases=sum(ages.values()), old=old))
    return "\n".join(lines)


def _age_labels(view: ExportView) -> list[str]:
    edges = [int(e) for e in AGE_EDGES]
    labels = [view.r("age_under", days=edges[0])]
    labels += [view.r("age_between", low=lo, high=hi) for lo, hi in itertools.pairwise(edges)]
    labels.append(view.r("age_over", days=edges[-1]))
    return labels


def _response_labels() -> list[str]:
    edges = [duration_text(e) for e in RESPONSE_EDGES]
    return [f"≤{edges[0]}", *(f"≤{e}" for e in edges[1:]), f">{edges[-1]}"]


def draw_report_chart(report: TeamReport, view: ExportView, out: Path) -> Path:
    """Four panels in one PNG: messages by day and category, first-response times against the
    target, suggestion outcomes per category, open cases by status and age."""
    family = _font_family()
    r = view.r
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"]}):
        figure, axes = plt.subplots(2, 2, figsize=(14, 9.5), dpi=100)
        figure.suptitle(r("chart_title"), fontsize=16)

        ax = axes[0][0]
        days = report.days()
        categories = report.categories()[:8]
        bottoms = [0] * len(days)
        for category in categories:
            values = [
                report.messages_by_day[day][category] if day in report.messages_by_day else 0
                for day in days
            ]
            ax.bar(
                [d.strftime("%m-%d") for d in days],
                values,
                bottom=bottoms,
                label=view.category(category) or category,
            )
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        ax.set_title(r("chart_messages"))
        ax.set_ylabel(r("axis_messages"))
        if categories:
            ax.legend(fontsize=8, ncols=2)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)

        ax = axes[0][1]
        responses = report.responses
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
        ax.set_title(
            r(
                "chart_first_response",
                target=duration_text(responses.target_seconds),
                share=percent(responses.target_share),
            )
        )
        ax.set_ylabel(r("axis_conversations"))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)

        ax = axes[1][0]
        tallies = sorted(report.acceptance.items(), key=lambda item: -item[1].decided)[:8]
        names = [view.category(c) or c for c, _ in tallies]
        lefts = [0.0] * len(tallies)
        for outcome, colour in zip(OUTCOMES, OUTCOME_COLOURS, strict=True):
            shares = [
                (t.counts[outcome] / t.decided if t.decided else 0.0) * 100 for _, t in tallies
            ]
            ax.barh(names, shares, left=lefts, color=colour, label=view.t(f"outcome.{outcome}"))
            lefts = [a + b for a, b in zip(lefts, shares, strict=True)]
        ax.set_title(r("chart_acceptance"))
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
        ax.invert_yaxis()
        if tallies:
            ax.legend(fontsize=8, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.06))

        ax = axes[1][1]
        ages = _age_labels(view)
        statuses = sorted(report.open_cases)
        width = 0.8 / max(1, len(statuses))
        for index, status in enumerate(statuses):
            counts = [report.open_cases[status].get(bucket, 0) for bucket in range(len(ages))]
            ax.bar([i + index * width for i in range(len(ages))], counts, width=width, label=status)
        ax.set_xticks([i + width * (len(statuses) - 1) / 2 for i in range(len(ages))], ages)
        ax.set_title(r("chart_open_cases"))
        ax.set_ylabel(r("axis_cases"))
        if statuses:
            ax.legend(fontsize=8)

        for panel in (axes[0][0], axes[0][1], axes[1][1]):
            panel.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, format="png")
        plt.close(figure)
    return out
