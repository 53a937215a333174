"""The team's numbers for `/stats` and `kefu report`: service levels and classifier accuracy."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from bot.core.export_filter import ExportFilter
from bot.core.labels import AccuracyReport, accuracy_report
from bot.core.service_levels import MessageFact, ResponseDistribution, TeamReport
from bot.core.sla import SlaPolicy
from bot.storage.database import Database
from bot.storage.exports.messages import current_head
from bot.storage.exports.reports import (
    check_failures,
    open_cases,
    outcome_counts,
    stream_message_facts,
)
from bot.storage.labels import verdicts
from bot.storage.models import utcnow


async def build_report(
    *,
    db: Database,
    filters: ExportFilter,
    zone: tzinfo,
    now: datetime | None = None,
    policy: SlaPolicy | None = None,
) -> TeamReport:
    """The team's numbers for the filters' range, in one streamed pass plus small aggregates;
    first responses are counted against the shop's target and warning (`policy`, the one in
    force now: /settings sla_target moves it)."""
    report = TeamReport(zone=zone)
    if policy is not None:
        report.responses = ResponseDistribution(
            target_seconds=policy.target.total_seconds(),
            warning_seconds=policy.warn_after.total_seconds(),
        )
    moment = now or utcnow()
    async with db.session() as session:
        head = await current_head(session=session)
        facts = stream_message_facts(session=session, filters=filters, upto=head.seq)
        current: list[MessageFact] = []
        async for fact in facts:
            if current and fact.conversation_id != current[0].conversation_id:
                report.add_conversation(current)
                current = []
            current.append(fact)
        report.add_conversation(current)
        for category, status, count in await outcome_counts(
            session=session, filters=filters, upto=head.seq
        ):
            report.add_outcomes(category, status, count)
        async for agent, rules in check_failures(
            session=session, since=filters.since, until=filters.until, upto=head.seq
        ):
            report.add_check_failure(agent, rules)
        async for status, opened_at in open_cases(session=session, filters=filters):
            report.add_open_case(status, opened_at, moment)
    return report


ACCURACY_DAYS = 30


async def build_accuracy(*, db: Database, until: datetime | None = None) -> AccuracyReport:
    """Cards and corrections per category over the 30 days before `until` (default: now)."""
    end = until or utcnow()
    async with db.session() as session:
        found = await verdicts(
            session=session, since=end - timedelta(days=ACCURACY_DAYS), until=end
        )
    return accuracy_report(found)
