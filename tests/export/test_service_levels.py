"""Pure metrics and filters behind exports and reports (tables of inputs and expected outputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.export_filter import (
    ExportFilter,
    ExportFormat,
    TimeRange,
    export_callback,
    parse_export_callback,
    parse_export_words,
    range_bounds,
)
from bot.core.service_levels import (
    CaseTimeline,
    MessageFact,
    ResponseDistribution,
    SuggestionTally,
    TeamReport,
    bucket_index,
    duration_text,
    percent,
    share_within,
)

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([("in", 0), ("out", 95)], 95.0),
        ([("out", 0), ("in", 10), ("in", 20), ("out", 200)], 190.0),
        ([("in", 0), ("in", 50)], None),
        ([("out", 0)], None),
        ([], None),
    ],
)
def test_first_response(messages: list[tuple[str, float]], expected: float | None) -> None:
    timeline = CaseTimeline()
    for direction, offset in messages:
        timeline.add(direction=direction, sent_at=_at(offset), agent_id=7)
    assert timeline.first_response_seconds == expected


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["sent", "sent", "edited", "skipped"], (4, 0.5, 0.75, "2/1/0/1/0")),
        (["own", "escalated", "open"], (2, 0.0, 0.0, "0/0/1/0/1")),
        ([], (0, None, None, "0/0/0/0/0")),
    ],
)
def test_suggestion_tally(outcomes: list[str], expected: tuple[object, ...]) -> None:
    tally = SuggestionTally()
    for outcome in outcomes:
        tally.add(outcome)
    assert (tally.decided, tally.accepted_as_is, tally.accepted, tally.summary()) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (30, 0), (31, 1), (100, 2), (180, 3), (181, 4), (3600, 7), (3601, 8)],
)
def test_bucket_index(value: float, expected: int) -> None:
    assert bucket_index(value, (30, 60, 100, 180, 300, 600, 1800, 3600)) == expected


@pytest.mark.parametrize(
    ("values", "limit", "expected"),
    [([10, 200, 100], 100, 2 / 3), ([], 100, None), ([500], 180, 0.0)],
)
def test_share_within(values: list[float], limit: float, expected: float | None) -> None:
    assert share_within(values, limit) == expected


def test_response_distribution_against_targets() -> None:
    distribution = ResponseDistribution()
    for value in (50, 120, 400, None):
        distribution.add(value)
    assert (
        distribution.total,
        distribution.unanswered,
        distribution.target_share,
        distribution.warning_share,
    ) == (3, 1, 2 / 3, 1 / 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "-"), (45, "45s"), (185, "3m05s"), (7800, "2h10m")],
)
def test_duration_text(value: float | None, expected: str) -> None:
    assert duration_text(value) == expected


@pytest.mark.parametrize(("share", "expected"), [(None, "-"), (0.874, "87%"), (1.0, "100%")])
def test_percent(share: float | None, expected: str) -> None:
    assert percent(share) == expected


def test_team_report_days_threats_and_open_cases() -> None:
    report = TeamReport(zone=SHANGHAI)
    late = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # already the 21st in Shanghai
    report.add_conversation(
        [
            MessageFact(1, "in", late, "extortion", ("threatens_review",), None),
            MessageFact(1, "out", late + timedelta(seconds=90), "extortion", (), 3),
        ]
    )
    report.add_open_case("new", T0, T0 + timedelta(days=4))
    assert (report.messages_in, report.messages_out, report.conversations) == (1, 1, 1)
    assert [str(d) for d in report.days()] == ["2026-11-21"]
    assert (report.extortion, report.threats["threatens_review"]) == (1, 1)
    assert report.responses.buckets[2] == 1
    assert report.open_cases == {"new": {2: 1}}


@pytest.mark.parametrize(
    ("preset", "expected_since"),
    [
        (TimeRange.TODAY, datetime(2026, 11, 19, 16, 0, tzinfo=UTC)),
        (TimeRange.DAYS_7, datetime(2026, 11, 13, 16, 0, tzinfo=UTC)),
        (TimeRange.DAYS_30, datetime(2026, 10, 21, 16, 0, tzinfo=UTC)),
        (TimeRange.ALL, None),
    ],
)
def test_range_bounds_use_local_midnight(
    preset: TimeRange, expected_since: datetime | None
) -> None:
    since, until = range_bounds(preset, now=T0, zone=SHANGHAI)
    assert (since, until) == (expected_since, None)


@pytest.mark.parametrize(
    ("kind", "preset"),
    [(ExportFormat.CONVERSATIONS, TimeRange.DAYS_30), ("stats", TimeRange.TODAY)],
)
def test_callbacks_round_trip_within_64_bytes(kind: ExportFormat | str, preset: TimeRange) -> None:
    data = export_callback(kind, preset)
    assert len(data.encode()) <= 64
    assert parse_export_callback(data) == (kind, preset)


@pytest.mark.parametrize("data", ["x:pdf:7d", "x:csv:9d", "c:1:s:1", "x:csv", ""])
def test_foreign_callbacks_are_not_exports(data: str) -> None:
    assert parse_export_callback(data) is None


def test_export_words() -> None:
    fmt, preset, filters = parse_export_words(
        ["CSV", "7d", "case=12", "buyer=tg:42", "flag=threatens_review"], now=T0, zone=SHANGHAI
    )
    assert (fmt, preset) == (ExportFormat.CSV, TimeRange.DAYS_7)
    assert filters == ExportFilter(
        since=datetime(2026, 11, 13, 16, 0, tzinfo=UTC),
        case=12,
        buyer_telegram_id=42,
        flag="threatens_review",
    )


@pytest.mark.parametrize("words", [[], ["pdf"], ["csv", "yesterday"], ["csv", "colour=red"]])
def test_bad_export_words(words: list[str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case fails differently; any ValueError is the refusal)
        parse_export_words(words, now=T0, zone=SHANGHAI)


def test_filter_describes_itself_for_the_audit_record() -> None:
    assert ExportFilter(since=T0, case=3).describe() == {"since": "2026-11-20T01:00:00Z", "case": 3}
