"""Service levels of the team: first-response and resolution times, suggestion acceptance, and the
tallies behind `kefu report` / `/stats`, folded from streamed rows in bounded memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

# Taobao-style targets: answered within 3 minutes counts; past 100 s the shop is warned.
DEFAULT_TARGET_SECONDS = 180.0
DEFAULT_WARNING_SECONDS = 100.0
# Upper edges (seconds) of the first-response histogram; the last bucket is open-ended.
RESPONSE_EDGES: tuple[float, ...] = (30, 60, 100, 180, 300, 600, 1800, 3600)
# Upper edges (days) of the open-case age buckets.
AGE_EDGES: tuple[float, ...] = (1, 3, 7, 30)
OUTCOMES = ("sent", "edited", "own", "skipped", "escalated")
THREAT_FLAGS = ("threatens_review", "threatens_complaint")


def split_flags(flags: str) -> tuple[str, ...]:
    """The flags of a message as stored (comma-separated) as a tuple."""
    return tuple(f for f in (part.strip() for part in flags.split(",")) if f)


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end`, None when either is missing or the end comes first."""
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds(), 3)


@dataclass(slots=True)
class CaseTimeline:
    """One conversation folded from its messages in order: first buyer message, first answer, counts."""

    first_in: datetime | None = None
    first_response: datetime | None = None
    last_at: datetime | None = None
    messages_in: int = 0
    messages_out: int = 0
    agent_ids: list[int] = field(default_factory=list)

    def add(self, *, direction: str, sent_at: datetime, agent_id: int | None) -> None:
        """Take the next message of the conversation (in sequence order)."""
        if direction == "in":
            self.messages_in += 1
            if self.first_in is None:
                self.first_in = sent_at
        else:
            self.messages_out += 1
            if self.first_in is not None and self.first_response is None:
                self.first_response = max(sent_at, self.first_in)
            if agent_id is not None and agent_id not in self.agent_ids:
                self.agent_ids.append(agent_id)
        if self.last_at is None or sent_at > self.last_at:
            self.last_at = sent_at

    @property
    def first_response_seconds(self) -> float | None:
        """Seconds from the buyer's first message to the team's first answer after it."""
        return seconds(self.first_in, self.first_response)


@dataclass(slots=True)
class SuggestionTally:
    """What became of the suggestions offered on cards: sent as is, edited, own words, skipped..."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: str, count: int = 1) -> None:
        """Count `count` cards with this outcome (open cards are not outcomes and are ignored)."""
        if outcome in OUTCOMES:
            self.counts[outcome] += count

    @property
    def decided(self) -> int:
        """Cards an agent acted on."""
        return sum(self.counts.values())

    @property
    def accepted_as_is(self) -> float | None:
        """Share of decided cards answered with a suggestion unchanged."""
        return self.counts["sent"] / self.decided if self.decided else None

    @property
    def accepted(self) -> float | None:
        """Share of decided cards answered with a suggestion, as is or edited."""
        return (
            (self.counts["sent"] + self.counts["edited"]) / self.decided if self.decided else None
        )

    def summary(self) -> str:
        """`sent/edited/own/skipped/escalated` counts, e.g. `3/1/0/2/0`."""
        return "/".join(str(self.counts[o]) for o in OUTCOMES)


def bucket_index(value: float, edges: Sequence[float]) -> int:
    """The histogram bucket of `value`: i where edges[i-1] < value <= edges[i]; len(edges) beyond."""
    for index, edge in enumerate(edges):
        if value <= edge:
            return index
    return len(edges)


def share_within(values: Iterable[float], limit: float) -> float | None:
    """Share of values at or under `limit`; None when there are none."""
    total = within = 0
    for value in values:
        total += 1
        within += value <= limit
    return within / total if total else None


@dataclass(slots=True)
class ResponseDistribution:
    """First-response times in histogram buckets, with the shares within target and warning."""

    edges: tuple[float, ...] = RESPONSE_EDGES
    target_seconds: float = DEFAULT_TARGET_SECONDS
    warning_seconds: float = DEFAULT_WARNING_SECONDS
    buckets: list[int] = field(default_factory=list)
    total: int = 0
    within_target: int = 0
    within_warning: int = 0
    unanswered: int = 0

    def __post_init__(self) -> None:
        if not self.buckets:
            self.buckets = [0] * (len(self.edges) + 1)

    def add(self, value: float | None) -> None:
        """Count one conversation's first-response time (None: not answered yet)."""
        if value is None:
            self.unanswered += 1
            return
        self.total += 1
        self.buckets[bucket_index(value, self.edges)] += 1
        self.within_target += value <= self.target_seconds
        self.within_warning += value <= self.warning_seconds

    @property
    def target_share(self) -> float | None:
        """Share of answered conversations answered within the target."""
        return self.within_target / self.total if self.total else None

    @property
    def warning_share(self) -> float | None:
        """Share answered within the warning threshold."""
        return self.within_warning / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class MessageFact:
    """What the report needs of one message."""

    conversation_id: int
    direction: str
    sent_at: datetime
    category: str | None
    flags: tuple[str, ...]
    agent_id: int | None


@dataclass(slots=True)
class TeamReport:
    """Everything `kefu report` and `/stats` show, for one time range."""

    zone: tzinfo
    responses: ResponseDistribution = field(default_factory=ResponseDistribution)
    messages_by_day: dict[date, Counter[str]] = field(default_factory=dict)
    conversations_by_day: Counter[date] = field(default_factory=Counter)
    messages_in: int = 0
    messages_out: int = 0
    conversations: int = 0
    extortion: int = 0
    threats: Counter[str] = field(default_factory=Counter)
    acceptance: dict[str, SuggestionTally] = field(default_factory=dict)
    check_findings: dict[str, Counter[str]] = field(default_factory=dict)
    open_cases: dict[str, Counter[int]] = field(default_factory=dict)

    def day_of(self, moment: datetime) -> date:
        """The shop-local calendar day of a moment."""
        return moment.astimezone(self.zone).date()

    def add_conversation(self, facts: Sequence[MessageFact]) -> None:
        """Fold the messages of one conversation (in sequence order) into the report."""
        if not facts:
            return
        timeline = CaseTimeline()
        for fact in facts:
            timeline.add(direction=fact.direction, sent_at=fact.sent_at, agent_id=fact.agent_id)
            if fact.direction == "in":
                self.messages_in += 1
                day = self.day_of(fact.sent_at)
                self.messages_by_day.setdefault(day, Counter())[fact.category or "unknown"] += 1
                self.extortion += fact.category == "extortion"
                for flag in fact.flags:
                    if flag in THREAT_FLAGS:
                        self.threats[flag] += 1
            else:
                self.messages_out += 1
        if timeline.first_in is not None:
            self.conversations += 1
            self.conversations_by_day[self.day_of(timeline.first_in)] += 1
            self.responses.add(timeline.first_response_seconds)

    def add_outcomes(self, category: str | None, outcome: str, count: int) -> None:
        """Count cards of a category that ended with `outcome`."""
        self.acceptance.setdefault(category or "unknown", SuggestionTally()).add(outcome, count)

    def add_check_failure(self, agent: str, rules: Iterable[str]) -> None:
        """Count the reply-check findings of one failed check by `agent`."""
        tally = self.check_findings.setdefault(agent, Counter())
        for rule in rules:
            tally[rule] += 1

    def add_open_case(self, status: str, opened_at: datetime, now: datetime) -> None:
        """Count one open case by status and age bucket (days since opened)."""
        age_days = max(0.0, (now - opened_at).total_seconds() / 86400)
        self.open_cases.setdefault(status, Counter())[bucket_index(age_days, AGE_EDGES)] += 1

    def days(self) -> list[date]:
        """Every day that has messages or conversations, in order."""
        return sorted(set(self.messages_by_day) | set(self.conversations_by_day))

    def categories(self) -> list[str]:
        """Every category seen in messages or outcomes, most frequent first."""
        totals: Counter[str] = Counter()
        for counter in self.messages_by_day.values():
            totals.update(counter)
        for category in self.acceptance:
            totals[category] += 0
        return [c for c, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]


def percent(share: float | None) -> str:
    """A share as a whole percentage (`87%`), or `-` when there is nothing to measure."""
    return "-" if share is None else f"{round(share * 100)}%"


def duration_text(value: float | None) -> str:
    """Seconds as `45s`, `3m05s` or `2h10m`; `-` for None."""
    if value is None:
        return "-"
    whole = round(value)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def group_by_conversation(facts: Iterable[MessageFact]) -> Iterable[list[MessageFact]]:
    """Consecutive facts of the same conversation as lists (facts come ordered by conversation)."""
    current: list[MessageFact] = []
    for fact in facts:
        if current and fact.conversation_id != current[0].conversation_id:
            yield current
            current = []
        current.append(fact)
    if current:
        yield current


def per_category(tallies: dict[str, SuggestionTally]) -> dict[str, tuple[int, ...]]:
    """Outcome counts per category, in OUTCOMES order (for tables and charts)."""
    return {
        category: tuple(tally.counts[o] for o in OUTCOMES)
        for category, tally in sorted(tallies.items())
    }


def merge_counts(counters: Iterable[Counter[str]]) -> Counter[str]:
    """The sum of several counters."""
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return total


def rules_by_agent(findings: dict[str, Counter[str]]) -> list[tuple[str, int, str]]:
    """(agent, findings, most frequent rule) per agent, most findings first."""
    rows = []
    for agent, counter in findings.items():
        top = counter.most_common(1)[0][0] if counter else ""
        rows.append((agent, sum(counter.values()), top))
    return sorted(rows, key=lambda row: (-row[1], row[0]))
