"""Case states and the allowed transitions between them: the dispute walk of an after-sale case.

A case moves new → verifying → responsibility_decided (seller / courier / buyer) → remedy →
appeal → resolved, or is closed from any open state. The table below is the whole rule set:

| from                   | allowed targets                                              |
|------------------------|--------------------------------------------------------------|
| new                    | verifying, resolved, closed                                  |
| verifying              | responsibility_decided, resolved, closed                     |
| responsibility_decided | remedy, appeal, resolved, closed; responsibility_decided again with another party |
| remedy                 | appeal, resolved, closed                                     |
| appeal                 | resolved, closed                                             |
| resolved               | appeal, verifying (reopened)                                 |
| closed                 | verifying (reopened)                                         |

Choices worth knowing:
- `new → resolved` and `verifying → resolved`: a plain question, or a problem that verification
  shows is none (the parcel turned up), needs no responsibility decision.
- `resolved → appeal`: the classic 差评师 posts the bad review after the case was settled; the
  shop then appeals to the platform on the same case.
- A finished case (resolved or closed) is reopened by moving it back to `verifying`; the
  decided responsibility is cleared then, since it is decided again. Nothing is lost: every
  change is an audit record.
- Responsibility is given exactly when the target is `responsibility_decided`, and is kept
  through remedy, appeal, resolved and closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class CaseState(StrEnum):
    """Where a case stands (the value stored in `conversations.status`)."""

    NEW = "new"
    VERIFYING = "verifying"
    RESPONSIBILITY_DECIDED = "responsibility_decided"
    REMEDY = "remedy"
    APPEAL = "appeal"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Party(StrEnum):
    """Who is responsible for the problem."""

    SELLER = "seller"
    COURIER = "courier"
    BUYER = "buyer"


class RefusalReason(StrEnum):
    """Why a transition was refused (a wording key under `case.refused.`)."""

    UNKNOWN_STATE = "unknown_state"
    UNKNOWN_RESPONSIBILITY = "unknown_responsibility"
    ALREADY_IN_STATE = "already_in_state"
    NOT_ALLOWED_FROM = "not_allowed_from"
    RESPONSIBILITY_REQUIRED = "responsibility_required"
    RESPONSIBILITY_NOT_EXPECTED = "responsibility_not_expected"
    ANOTHER_CASE_OPEN = "another_case_open"


S = CaseState
ALLOWED: Mapping[CaseState, tuple[CaseState, ...]] = {
    S.NEW: (S.VERIFYING, S.RESOLVED, S.CLOSED),
    S.VERIFYING: (S.RESPONSIBILITY_DECIDED, S.RESOLVED, S.CLOSED),
    S.RESPONSIBILITY_DECIDED: (S.REMEDY, S.APPEAL, S.RESOLVED, S.CLOSED),
    S.REMEDY: (S.APPEAL, S.RESOLVED, S.CLOSED),
    S.APPEAL: (S.RESOLVED, S.CLOSED),
    S.RESOLVED: (S.APPEAL, S.VERIFYING),
    S.CLOSED: (S.VERIFYING,),
}
FINISHED = frozenset({S.RESOLVED, S.CLOSED})
OPEN_STATES = tuple(state for state in CaseState if state not in FINISHED)


@dataclass(frozen=True, slots=True)
class Transition:
    """An allowed change: the case goes from `source` to `target`, responsible party afterwards."""

    source: CaseState
    target: CaseState
    responsibility: Party | None

    @property
    def reopened(self) -> bool:
        """True when a finished case is opened again."""
        return self.source in FINISHED and self.target not in FINISHED

    @property
    def finished(self) -> bool:
        """True when the case ends with this change (resolved or closed)."""
        return self.target in FINISHED


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused change and why; `allowed` lists the targets that would have been accepted."""

    reason: RefusalReason
    current: str
    target: str
    allowed: tuple[CaseState, ...] = ()
    other_case: int | None = None  # the buyer's open case that keeps this one from reopening


def parse_state(value: str | CaseState | None) -> CaseState | None:
    """The state named `value`, or None."""
    try:
        return CaseState((value or "").strip().lower())
    except ValueError:
        return None


def parse_party(value: str | Party | None) -> Party | None:
    """The party named `value`, or None."""
    try:
        return Party((value or "").strip().lower())
    except ValueError:
        return None


def next_states(current: str | CaseState) -> tuple[CaseState, ...]:
    """The states a case in `current` may move to (responsibility_decided again when decided)."""
    state = parse_state(current)
    if state is None:
        return ()
    extra = (S.RESPONSIBILITY_DECIDED,) if state is S.RESPONSIBILITY_DECIDED else ()
    return extra + ALLOWED[state]


def transition(
    current: str | CaseState,
    target: str | CaseState,
    *,
    responsibility: str | Party | None = None,
    current_responsibility: str | Party | None = None,
) -> Transition | Refusal:
    """Check a change of state against the table; the Transition to apply, or a Refusal."""
    source, goal = parse_state(current), parse_state(target)
    party = parse_party(responsibility) if responsibility else None
    if source is None or goal is None:
        return Refusal(RefusalReason.UNKNOWN_STATE, str(current), str(target))
    allowed = next_states(source)
    if responsibility and party is None:
        return Refusal(RefusalReason.UNKNOWN_RESPONSIBILITY, source, goal, allowed)
    held = parse_party(current_responsibility) if current_responsibility else None
    redecided = goal is S.RESPONSIBILITY_DECIDED and party is not None and party is not held
    if source is goal and not redecided:
        return Refusal(RefusalReason.ALREADY_IN_STATE, source, goal, allowed)
    if goal not in allowed:
        return Refusal(RefusalReason.NOT_ALLOWED_FROM, source, goal, allowed)
    if goal is S.RESPONSIBILITY_DECIDED and party is None:
        return Refusal(RefusalReason.RESPONSIBILITY_REQUIRED, source, goal, allowed)
    if goal is not S.RESPONSIBILITY_DECIDED and party is not None:
        return Refusal(RefusalReason.RESPONSIBILITY_NOT_EXPECTED, source, goal, allowed)
    if goal is S.RESPONSIBILITY_DECIDED:
        after = party
    elif goal in (S.NEW, S.VERIFYING):
        after = None
    else:
        after = held
    return Transition(source=source, target=goal, responsibility=after)
