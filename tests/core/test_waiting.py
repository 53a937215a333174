"""The waiting clock's arithmetic: one acknowledgement and one target check per stretch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.sla import SlaPolicy
from bot.core.types import Language
from bot.core.waiting import ACK, SLA_TARGET, WaitingJob, ack_language, stretch_key, waiting_jobs

SINCE = datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)
POLICY = SlaPolicy(
    warn_after=timedelta(seconds=100),
    target=timedelta(minutes=3),
    ack_after=timedelta(seconds=90),
)


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), 1500),
        (SINCE, 1714550400250),
    ],
)
def test_a_stretch_is_known_by_its_start_in_milliseconds(since: datetime, expected: int) -> None:
    assert stretch_key(since) == expected


@pytest.mark.parametrize(
    ("policy", "language", "expected"),
    [
        (
            POLICY,
            Language.ZH_HANS,
            [
                WaitingJob(
                    ACK, SINCE + timedelta(seconds=90), 7, "ack:7:1714550400250", Language.ZH_HANS
                ),
                WaitingJob(
                    SLA_TARGET,
                    SINCE + timedelta(minutes=3),
                    7,
                    "sla_target:7:1714550400250",
                    target_seconds=180.0,
                ),
            ],
        ),
        (
            SlaPolicy(timedelta(hours=24), timedelta(hours=24), timedelta(hours=1)),
            Language.EN,
            [
                WaitingJob(ACK, SINCE + timedelta(hours=1), 7, "ack:7:1714550400250", Language.EN),
                WaitingJob(
                    SLA_TARGET,
                    SINCE + timedelta(hours=24),
                    7,
                    "sla_target:7:1714550400250",
                    target_seconds=86400.0,
                ),
            ],
        ),
    ],
)
def test_a_waiting_stretch_schedules_an_ack_in_its_language_and_a_target_check(
    policy: SlaPolicy, language: Language, expected: list[WaitingJob]
) -> None:
    assert (
        waiting_jobs(conversation_id=7, since=SINCE, language=language, policy=policy) == expected
    )


def test_two_stretches_of_one_case_have_different_keys() -> None:
    first = waiting_jobs(conversation_id=7, since=SINCE, language=Language.EN, policy=POLICY)
    later = SINCE + timedelta(milliseconds=1)
    second = waiting_jobs(conversation_id=7, since=later, language=Language.EN, policy=POLICY)
    assert {job.dedupe_key for job in first}.isdisjoint(job.dedupe_key for job in second)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("en", Language.EN),
        ("zh-Hans", Language.ZH_HANS),
        ("klingon", Language.ZH_HANT),
        (None, Language.ZH_HANT),
        (3, Language.ZH_HANT),
    ],
)
def test_the_ack_language_is_the_stored_one_or_the_fallback(
    stored: object, expected: Language
) -> None:
    assert ack_language(stored, fallback=Language.ZH_HANT) == expected


@pytest.mark.parametrize(
    ("job", "payload"),
    [
        (WaitingJob(ACK, SINCE, 7, "k", Language.EN), {"language": "en"}),
        (WaitingJob(SLA_TARGET, SINCE, 7, "k", target_seconds=300.0), {"target": 300.0}),
        (WaitingJob(SLA_TARGET, SINCE, 7, "k"), {}),
    ],
)
def test_a_job_carries_its_language_or_the_target_it_holds_the_case_to(
    job: WaitingJob, payload: dict[str, object]
) -> None:
    assert job.payload() == payload
