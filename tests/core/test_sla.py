"""SLA arithmetic: presets, auto-acknowledgement override, wait states, times in the shop's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.sla import (
    WaitState,
    ack_due,
    next_local_time,
    policy_for,
    shop_time,
    target_due,
    wait_state,
    waited_text,
)

T0 = datetime(2026, 11, 11, 15, 59, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("preset", "override", "ack", "target"),
    [
        ("taobao", None, 100, 180),
        ("kuaishou", None, 180, 300),
        ("amazon", None, 86_400, 86_400),
        ("taobao", 5, 5, 180),
        ("amazon", 0.5, 0.5, 86_400),
    ],
)
def test_policies(preset: str, override: float | None, ack: float, target: float) -> None:
    policy = policy_for(preset, ack_after_seconds=override)
    assert ack_due(T0, policy) == T0 + timedelta(seconds=ack)
    assert target_due(T0, policy) == T0 + timedelta(seconds=target)


@pytest.mark.parametrize(
    ("waiting_since", "seconds_later", "expected"),
    [
        (None, 999, WaitState.ANSWERED),
        (T0, 0, WaitState.WITHIN),
        (T0, 99, WaitState.WITHIN),
        (T0, 100, WaitState.WARNING),
        (T0, 179, WaitState.WARNING),
        (T0, 180, WaitState.MISSED),
    ],
)
def test_wait_state_taobao(
    waiting_since: datetime | None, seconds_later: int, expected: WaitState
) -> None:
    now = T0 + timedelta(seconds=seconds_later)
    assert wait_state(waiting_since, now, policy_for("taobao")) == expected


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Shanghai", "2026-11-11 23:59"),
        ("America/Los_Angeles", "2026-11-11 07:59"),
        ("UTC", "2026-11-11 15:59"),
        ("Asia/Taipei", "2026-11-11 23:59"),
    ],
)
def test_stored_utc_shown_in_the_shop_zone(zone: str, expected: str) -> None:
    assert shop_time(T0, zone) == expected


def test_unknown_preset() -> None:
    with pytest.raises(KeyError):
        policy_for("jd")


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, "0s"), (45.9, "45s"), (185, "3m05s"), (7800, "2h10m"), (-3, "0s")]
)
def test_waited_text(seconds: float, expected: str) -> None:
    assert waited_text(seconds) == expected


def test_target_override_pulls_the_warning_in() -> None:
    policy = policy_for("taobao", target_seconds=60)
    assert (policy.target, policy.warn_after, policy.ack_after) == (
        timedelta(seconds=60),
        timedelta(seconds=60),
        timedelta(seconds=60),
    )


@pytest.mark.parametrize(
    ("now", "hour", "weekday", "expected_local"),
    [
        # 2026-11-11 15:59 UTC is 23:59 Wednesday in Shanghai.
        (T0, 9, None, "2026-11-12 09:00"),
        (T0, 23, None, "2026-11-12 23:00"),
        (datetime(2026, 11, 11, 0, 30, tzinfo=UTC), 9, None, "2026-11-11 09:00"),
        (T0, 9, 0, "2026-11-16 09:00"),  # next Monday
        (datetime(2026, 11, 16, 0, 0, tzinfo=UTC), 9, 0, "2026-11-16 09:00"),  # Monday 08:00 local
        (datetime(2026, 11, 16, 2, 0, tzinfo=UTC), 9, 0, "2026-11-23 09:00"),  # Monday 10:00 local
    ],
)
def test_next_local_time(
    now: datetime, hour: int, weekday: int | None, expected_local: str
) -> None:
    due = next_local_time(now, "Asia/Shanghai", hour, weekday=weekday)
    assert shop_time(due, "Asia/Shanghai") == expected_local
    assert due > now
