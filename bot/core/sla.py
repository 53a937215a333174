"""Quick-response targets: when to acknowledge a waiting buyer, when the target is missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """How long a buyer may wait: auto-acknowledge after `ack_after`, target `target`."""

    warn_after: timedelta
    target: timedelta
    ack_after: timedelta


# The platforms' own yardsticks: Taobao counts replies within 3 minutes (warning at 100 s),
# Kuaishou 3 / 5 minutes, Amazon expects an answer to buyer messages within 24 hours.
PRESETS: dict[str, tuple[timedelta, timedelta]] = {
    "taobao": (timedelta(seconds=100), timedelta(minutes=3)),
    "kuaishou": (timedelta(minutes=3), timedelta(minutes=5)),
    "amazon": (timedelta(hours=24), timedelta(hours=24)),
}


def policy_for(
    preset: str, *, ack_after_seconds: float | None = None, target_seconds: float | None = None
) -> SlaPolicy:
    """The policy of a preset; the acknowledgement comes at the warning, unless overridden."""
    warn, target = PRESETS[preset]
    if target_seconds is not None:
        target = timedelta(seconds=target_seconds)
        warn = min(warn, target)
    ack = timedelta(seconds=ack_after_seconds) if ack_after_seconds is not None else warn
    return SlaPolicy(warn_after=warn, target=target, ack_after=ack)


class WaitState(StrEnum):
    """Where a waiting buyer stands against the policy."""

    ANSWERED = "answered"
    WITHIN = "within"
    WARNING = "warning"
    MISSED = "missed"


def wait_state(waiting_since: datetime | None, now: datetime, policy: SlaPolicy) -> WaitState:
    """Answered (not waiting), within the warning time, past the warning, or past the target."""
    if waiting_since is None:
        return WaitState.ANSWERED
    waited = now - waiting_since
    if waited >= policy.target:
        return WaitState.MISSED
    if waited >= policy.warn_after:
        return WaitState.WARNING
    return WaitState.WITHIN


def ack_due(waiting_since: datetime, policy: SlaPolicy) -> datetime:
    """When the auto-acknowledgement goes out if no agent has answered."""
    return waiting_since + policy.ack_after


def target_due(waiting_since: datetime, policy: SlaPolicy) -> datetime:
    """When the response target is missed."""
    return waiting_since + policy.target


def shop_time(moment: datetime, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp shown in the shop's time zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def waited_text(seconds: float) -> str:
    """A short duration: 45s, 3m05s, 2h10m."""
    whole = int(max(seconds, 0))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def next_local_time(now: datetime, zone: str, hour: int, *, weekday: int | None = None) -> datetime:
    """The next moment after `now` that is `hour`:00 in the shop's zone (on `weekday`, 0=Monday)."""
    local = now.astimezone(ZoneInfo(zone))
    due = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if weekday is not None:
        due += timedelta(days=(weekday - local.weekday()) % 7)
    step = timedelta(days=7 if weekday is not None else 1)
    while due <= local:
        due += step
    return due
