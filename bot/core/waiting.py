"""The waiting clock's arithmetic: a buyer's unanswered message starts a waiting stretch, which
schedules one acknowledgement and one response-target check, each keyed by the stretch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.sla import SlaPolicy
from bot.core.types import Language

ACK = "ack"
SLA_TARGET = "sla_target"
SLA_KINDS = (ACK, SLA_TARGET)  # the jobs a waiting stretch schedules (cancelled when answered)


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """A job a waiting stretch schedules: its kind, when it is due, and its once-only key."""

    kind: str
    due_at: datetime
    conversation_id: int
    dedupe_key: str
    language: Language | None = None  # the acknowledgement's language (its buyer message's)
    target_seconds: float | None = None  # the target a target check holds the case to

    def payload(self) -> dict[str, object]:
        """What the job carries: the acknowledgement's language, the check's target."""
        if self.language is not None:
            return {"language": self.language.value}
        return {"target": self.target_seconds} if self.target_seconds is not None else {}


def stretch_key(since: datetime) -> int:
    """A waiting stretch's identity: when it began, in whole milliseconds."""
    return int(since.timestamp() * 1000)


def waiting_jobs(
    *, conversation_id: int, since: datetime, language: Language, policy: SlaPolicy
) -> list[WaitingJob]:
    """The acknowledgement and target check of the stretch that began at `since`."""
    stretch = stretch_key(since)
    return [
        WaitingJob(
            kind=kind,
            due_at=due,
            conversation_id=conversation_id,
            dedupe_key=f"{kind}:{conversation_id}:{stretch}",
            language=language if kind == ACK else None,
            # The target in force when the buyer began waiting (a /settings change later does
            # not move it): the missed-target alert names this one.
            target_seconds=policy.target.total_seconds() if kind == SLA_TARGET else None,
        )
        for kind, due in ((ACK, since + policy.ack_after), (SLA_TARGET, since + policy.target))
    ]


def ack_language(stored: object, *, fallback: Language) -> Language:
    """The language stored with an acknowledgement job, or `fallback` when none is valid."""
    try:
        return Language(stored) if isinstance(stored, str) else fallback
    except ValueError:
        return fallback
