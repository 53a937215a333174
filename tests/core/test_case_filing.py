"""Which category a case is filed under (one rule for buyers' messages and agents' pastes)."""

from __future__ import annotations

import pytest

from bot.core.case_filing import case_category, case_order_id
from bot.core.types import Category as C


@pytest.mark.parametrize(
    ("current", "incoming", "corrected", "expected"),
    [
        (None, C.RETURN_REFUND, False, C.RETURN_REFUND),  # a new case takes the message's
        (None, C.NOT_RECEIVED, False, C.NOT_RECEIVED),
        (C.RETURN_REFUND, C.DAMAGED_MISSING, False, C.DAMAGED_MISSING),  # the cause shows
        (C.DAMAGED_MISSING, C.RETURN_REFUND, False, C.DAMAGED_MISSING),  # the cause stays
        (C.NOT_RECEIVED, C.QUALITY, False, C.NOT_RECEIVED),  # the first cause stays
        (C.NOT_RECEIVED, C.EXTORTION, False, C.EXTORTION),  # extortion always shows
        (C.RETURN_REFUND, C.EXTORTION, False, C.EXTORTION),
        (C.EXTORTION, C.NOT_RECEIVED, False, C.EXTORTION),
        (C.RETURN_REFUND, C.INVOICE, False, C.RETURN_REFUND),  # two requests: the first stays
        (C.DAMAGED_MISSING, C.RETURN_REFUND, True, C.RETURN_REFUND),  # an agent's correction
        (C.EXTORTION, C.QUALITY, True, C.QUALITY),
    ],
)
def test_case_category(current: C | None, incoming: C, corrected: bool, expected: C) -> None:
    assert case_category(current, incoming, corrected=corrected) == expected


@pytest.mark.parametrize(
    ("current", "found", "expected"),
    [
        (None, (), None),
        (None, ("A1", "A2"), "A1"),
        ("A0", ("A1",), "A0"),
        ("", ("A1",), "A1"),
        (None, ("9" * 80,), "9" * 64),
    ],
)
def test_case_order_id(current: str | None, found: tuple[str, ...], expected: str | None) -> None:
    assert case_order_id(current, found) == expected
