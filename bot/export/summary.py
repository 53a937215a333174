"""`kefu report` and `/stats` as text: volume, first response, threats, suggestions taken,
check findings, open cases and the classifier's accuracy, in the reader's language."""

from __future__ import annotations

from datetime import datetime

from bot.core.labels import AccuracyReport
from bot.core.service_levels import THREAT_FLAGS, TeamReport, duration_text, percent, rules_by_agent
from bot.export.view import ExportView

OTHER = "__other__"  # the daily chart's band of the less frequent categories


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
    lines += _acceptance_lines(report, view)
    lines += _check_lines(report, view)
    lines += _open_case_lines(report, view)
    return "\n".join(lines)


def _acceptance_lines(report: TeamReport, view: ExportView) -> list[str]:
    """How often each category's suggestions were taken, most decided first (none: no lines)."""
    if not report.acceptance:
        return []
    lines = ["", view.r("acceptance_title")]
    for category, tally in sorted(report.acceptance.items(), key=lambda item: -item[1].decided):
        lines.append(
            view.r(
                "acceptance_line",
                category=category_label(view, category),
                accepted=percent(tally.accepted),
                as_is=percent(tally.accepted_as_is),
                sent=tally.counts["sent"],
                edited=tally.counts["edited"],
                own=tally.counts["own"],
                skipped=tally.counts["skipped"],
                escalated=tally.counts["escalated"],
            )
        )
    return lines


def _check_lines(report: TeamReport, view: ExportView) -> list[str]:
    """Reply-check findings per agent with the most frequent rule (none: no lines)."""
    if not report.check_findings:
        return []
    lines = ["", view.r("checks_title")]
    for agent, total, top in rules_by_agent(report.check_findings):
        rule = view.rule(top) if top else "-"
        lines.append(view.r("checks_line", agent=agent or "-", findings=total, rule=rule))
    return lines


def _open_case_lines(report: TeamReport, view: ExportView) -> list[str]:
    """Open cases per status, and how many are over a week old (none: no lines)."""
    if not report.open_cases:
        return []
    lines = ["", view.r("open_title")]
    for status, ages in sorted(report.open_cases.items()):
        old = sum(n for bucket, n in ages.items() if bucket >= 3)
        lines.append(
            view.r("open_line", status=view.state(status), cases=sum(ages.values()), old=old)
        )
    return lines


def category_label(view: ExportView, category: str) -> str:
    """A category's name in the chart and text, with words for "other" and "not classified"."""
    if category == OTHER:
        return view.r("other_categories")
    if not category or category == "unknown":
        return view.r("uncategorised")
    return view.category(category)


def accuracy_text(accuracy: AccuracyReport, view: ExportView) -> str:
    """Per category: cards, corrections and the share corrected; then the top corrections."""
    r = view.r
    lines = [r("accuracy_title")]
    if not accuracy.rows:
        return "\n".join([*lines, r("no_data")])
    for row in accuracy.rows:
        lines.append(
            r(
                "accuracy_line",
                category=category_label(view, row.category),
                cards=row.cards,
                corrections=row.corrections,
                share=percent(row.share),
            )
        )
    if accuracy.pairs:
        lines.append(r("accuracy_pairs_title"))
        for was, should_be, count in accuracy.pairs:
            lines.append(
                r(
                    "accuracy_pair_line",
                    was=category_label(view, was),
                    should_be=category_label(view, should_be),
                    count=count,
                )
            )
    return "\n".join(lines)
