"""What an export or report covers: filters, the common time ranges, and their short ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum


class ExportFormat(StrEnum):
    """The export formats."""

    CSV = "csv"
    CONVERSATIONS = "conversations"
    XLSX = "xlsx"
    JSONL = "jsonl"
    HTML = "html"
    BUNDLE = "bundle"
    TRAINING = "training"


FILE_SUFFIX: dict[ExportFormat, str] = {
    ExportFormat.CSV: ".csv",
    ExportFormat.CONVERSATIONS: ".csv",
    ExportFormat.XLSX: ".xlsx",
    ExportFormat.JSONL: ".jsonl",
    ExportFormat.HTML: ".html",
    ExportFormat.BUNDLE: ".zip",
    ExportFormat.TRAINING: ".jsonl",
}

# The filters a training export honours (the shop's labels by the time they were given,
# their category and flag); it refuses the others.
TRAINING_FILTERS = frozenset({"since", "until", "category", "flag"})


def unsupported_filters(filters: ExportFilter, fmt: ExportFormat) -> list[str]:
    """The filters set that the format cannot honour (only the training export has such)."""
    if fmt is not ExportFormat.TRAINING:
        return []
    return [name for name in filters.describe() if name not in TRAINING_FILTERS]


class TimeRange(StrEnum):
    """The common ranges offered as buttons: today, the last 7 or 30 days, everything."""

    TODAY = "today"
    DAYS_7 = "7d"
    DAYS_30 = "30d"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which records an export covers; None means "any". Times are aware, `until` exclusive.

    `buyer` is Kefu's buyer id, `buyer_telegram_id` the buyer's Telegram user id, `case` a
    conversation id, `agent` an agent's Telegram user id.
    """

    since: datetime | None = None
    until: datetime | None = None
    buyer: int | None = None
    buyer_telegram_id: int | None = None
    case: int | None = None
    order_id: str | None = None
    category: str | None = None
    flag: str | None = None
    agent: int | None = None
    platform: str | None = None

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("export filter times must be timezone-aware")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("the start of the range must be before its end")

    def describe(self) -> dict[str, str | int]:
        """The filters that are set, JSON-ready (times in UTC ISO-8601), for the audit record."""
        out: dict[str, str | int] = {}
        for key, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, datetime):
                out[key] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                out[key] = value
        return out

    def with_range(self, since: datetime | None, until: datetime | None) -> ExportFilter:
        """The same filter over another time range."""
        return replace(self, since=since, until=until)


def range_bounds(
    preset: TimeRange, *, now: datetime, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """(since, until) of a preset in the shop's time zone: today starts at local midnight."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if preset is TimeRange.ALL:
        return None, None
    local_midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    days = {TimeRange.TODAY: 0, TimeRange.DAYS_7: 6, TimeRange.DAYS_30: 29}[preset]
    since = local_midnight - timedelta(days=days)
    return since.astimezone(UTC), None


def parse_day(text: str, *, zone: tzinfo) -> datetime:
    """`YYYY-MM-DD` (local midnight) or an ISO-8601 time (local when it has no zone) -> aware."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2026-11-20 or 2026-11-20T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


# callback_data of the supervisors' buttons: x:<format or "stats">:<range>, at most 64 bytes.
CALLBACK_PREFIX = "x"
STATS = "stats"


def export_callback(kind: ExportFormat | str, preset: TimeRange) -> str:
    """The callback id of an export (a format) or statistics (`stats`) button."""
    return f"{CALLBACK_PREFIX}:{kind}:{preset.value}"


def parse_export_callback(data: str) -> tuple[ExportFormat | str, TimeRange] | None:
    """The (format or `stats`, range) of a supervisors' button, or None when it is not one."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX:
        return None
    try:
        preset = TimeRange(parts[2])
        kind: ExportFormat | str = STATS if parts[1] == STATS else ExportFormat(parts[1])
    except ValueError:
        return None
    return kind, preset


FILTER_WORDS = ("case", "buyer", "order", "category", "flag", "agent", "platform")


def parse_export_words(
    words: list[str], *, now: datetime, zone: tzinfo
) -> tuple[ExportFormat, TimeRange, ExportFilter]:
    """`/export FORMAT [RANGE] [case=N] [buyer=N|tg:N] [order=ID] ...` -> (format, range, filter).

    Raises ValueError for anything it does not understand.
    """
    if not words:
        raise ValueError("no format given")
    fmt = ExportFormat(words[0].lower())
    preset = TimeRange.ALL
    values: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            preset = TimeRange(word.lower())
            continue
        if key not in FILTER_WORDS or not value:
            raise ValueError(f"unknown filter {word!r}")
        values[key] = value
    since, until = range_bounds(preset, now=now, zone=zone)
    buyer = values.get("buyer")
    return (
        fmt,
        preset,
        ExportFilter(
            since=since,
            until=until,
            case=int(values["case"]) if "case" in values else None,
            buyer=int(buyer) if buyer is not None and not buyer.startswith("tg:") else None,
            buyer_telegram_id=int(buyer[3:])
            if buyer is not None and buyer.startswith("tg:")
            else None,
            order_id=values.get("order"),
            category=values.get("category"),
            flag=values.get("flag"),
            agent=int(values["agent"]) if "agent" in values else None,
            platform=values.get("platform"),
        ),
    )
