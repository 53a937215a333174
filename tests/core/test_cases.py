"""Case transitions: every allowed change, and the refused ones with their reasons."""

from __future__ import annotations

import itertools

import pytest

from bot.core.cases import (
    CaseState,
    Party,
    Refusal,
    RefusalReason,
    Transition,
    next_states,
    parse_party,
    parse_state,
    transition,
)

NEW, VER, RD, REM, APP, RES, CLO = (
    "new",
    "verifying",
    "responsibility_decided",
    "remedy",
    "appeal",
    "resolved",
    "closed",
)

# (from, to, responsibility given, responsibility held, responsibility afterwards)
ALLOWED = [
    (NEW, VER, None, None, None),
    (NEW, RES, None, None, None),
    (NEW, CLO, None, None, None),
    (VER, RD, "seller", None, "seller"),
    (VER, RD, "courier", None, "courier"),
    (VER, RD, "buyer", None, "buyer"),
    (VER, RES, None, None, None),
    (VER, CLO, None, None, None),
    (RD, RD, "courier", "seller", "courier"),
    (RD, REM, None, "seller", "seller"),
    (RD, APP, None, "buyer", "buyer"),
    (RD, RES, None, "courier", "courier"),
    (RD, CLO, None, "buyer", "buyer"),
    (REM, APP, None, "seller", "seller"),
    (REM, RES, None, "seller", "seller"),
    (REM, CLO, None, "courier", "courier"),
    (APP, RES, None, "buyer", "buyer"),
    (APP, CLO, None, "buyer", "buyer"),
    (RES, APP, None, "buyer", "buyer"),
    (RES, VER, None, "seller", None),
    (CLO, VER, None, "courier", None),
]


@pytest.mark.parametrize(("source", "target", "given", "held", "after"), ALLOWED)
def test_allowed_transitions(
    source: str, target: str, given: str | None, held: str | None, after: str | None
) -> None:
    actual = transition(source, target, responsibility=given, current_responsibility=held)
    expected = Transition(
        source=CaseState(source),
        target=CaseState(target),
        responsibility=Party(after) if after else None,
    )
    assert actual == expected


ALLOWED_PAIRS = {(source, target) for source, target, *_ in ALLOWED}
NOT_ALLOWED = sorted(
    (source, target)
    for source, target in itertools.product([s.value for s in CaseState], repeat=2)
    if source != target and (source, target) not in ALLOWED_PAIRS
)


def test_the_table_of_refused_pairs_is_what_the_brief_expects() -> None:
    assert len(NOT_ALLOWED) == 7 * 6 - (len(ALLOWED_PAIRS) - 1)  # RD→RD is not a different pair
    for pair in [(NEW, RD), (NEW, APP), (VER, REM), (APP, REM), (CLO, RES), (RES, CLO)]:
        assert pair in NOT_ALLOWED


@pytest.mark.parametrize(("source", "target"), NOT_ALLOWED)
def test_every_other_pair_is_refused_as_not_allowed_from(source: str, target: str) -> None:
    given = "seller" if target == RD else None
    actual = transition(source, target, responsibility=given)
    assert isinstance(actual, Refusal)
    assert (actual.reason, actual.current, actual.target) == (
        RefusalReason.NOT_ALLOWED_FROM,
        source,
        target,
    )
    assert actual.allowed == next_states(source)


REFUSED = [
    # (from, to, responsibility given, held, reason)
    (NEW, NEW, None, None, RefusalReason.ALREADY_IN_STATE),
    (VER, VER, None, None, RefusalReason.ALREADY_IN_STATE),
    (RES, RES, None, "seller", RefusalReason.ALREADY_IN_STATE),
    (CLO, CLO, None, None, RefusalReason.ALREADY_IN_STATE),
    (RD, RD, "seller", "seller", RefusalReason.ALREADY_IN_STATE),
    (RD, RD, None, "seller", RefusalReason.ALREADY_IN_STATE),
    (VER, RD, None, None, RefusalReason.RESPONSIBILITY_REQUIRED),
    (VER, RD, "the moon", None, RefusalReason.UNKNOWN_RESPONSIBILITY),
    (NEW, VER, "seller", None, RefusalReason.RESPONSIBILITY_NOT_EXPECTED),
    (RD, REM, "buyer", "seller", RefusalReason.RESPONSIBILITY_NOT_EXPECTED),
    (NEW, RD, None, None, RefusalReason.NOT_ALLOWED_FROM),
    (APP, VER, None, "buyer", RefusalReason.NOT_ALLOWED_FROM),
    (NEW, "shipped", None, None, RefusalReason.UNKNOWN_STATE),
    ("limbo", VER, None, None, RefusalReason.UNKNOWN_STATE),
]


@pytest.mark.parametrize(("source", "target", "given", "held", "reason"), REFUSED)
def test_refusals_carry_a_reason(
    source: str, target: str, given: str | None, held: str | None, reason: RefusalReason
) -> None:
    actual = transition(source, target, responsibility=given, current_responsibility=held)
    assert isinstance(actual, Refusal)
    assert (actual.reason, actual.current, actual.target) == (reason, source, target)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (NEW, (VER, RES, CLO)),
        (VER, (RD, RES, CLO)),
        (RD, (RD, REM, APP, RES, CLO)),
        (REM, (APP, RES, CLO)),
        (APP, (RES, CLO)),
        (RES, (APP, VER)),
        (CLO, (VER,)),
        ("nonsense", ()),
    ],
)
def test_next_states(current: str, expected: tuple[str, ...]) -> None:
    assert next_states(current) == tuple(CaseState(s) for s in expected)


@pytest.mark.parametrize(
    ("source", "target", "reopened", "finished"),
    [
        (RES, VER, True, False),
        (CLO, VER, True, False),
        (REM, RES, False, True),
        (NEW, VER, False, False),
    ],
)
def test_reopened_and_finished(source: str, target: str, reopened: bool, finished: bool) -> None:
    actual = transition(source, target)
    assert isinstance(actual, Transition)
    assert (actual.reopened, actual.finished) == (reopened, finished)


@pytest.mark.parametrize(
    ("text", "state", "party"),
    [
        ("Verifying", CaseState.VERIFYING, None),
        (" remedy ", CaseState.REMEDY, None),
        ("courier", None, Party.COURIER),
        ("BUYER", None, Party.BUYER),
        ("", None, None),
        ("shipped", None, None),
    ],
)
def test_parsing_names(text: str, state: CaseState | None, party: Party | None) -> None:
    assert (parse_state(text), parse_party(text)) == (state, party)
