"""English urgency by structure: a near time and a need in one short message is urgent.

Written for these tests (none taken from any labelled file). Each row: text, urgent or not,
read by the hand rules alone (`add_deadline_urgency` and the phrase lists together).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.classify import Classifier
from bot.core.types import Flag
from bot.nlp.pipeline import build_classifier

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"

CASES = [
    ("the cake is for my son's party at 4 today and it arrived crushed", True),
    ("we fly out saturday, can the passport wallet still make it?", True),
    ("need the charger before monday or my laptop is dead for work", True),
    ("my expenses are due friday, please send the receipt", True),
    ("the plumber is booked for tomorrow and the tap is missing a part", True),
    ("guests arrive tonight and the duvet you sent is a single", True),
    ("I ordered it on monday and it came on thursday, all good", False),
    ("bought this last friday, the zip already broke", False),
    ("what time do you close today?", False),
    ("tomorrow I will check the parcel again, thanks", False),
    (
        "I have used this blender every morning since monday and I need to say the motor is "
        "loud, the jug is heavy, the lid leaks a little at the seam, the buttons stick and the "
        "manual is useless, it is for my kitchen but I am not happy at all with it",
        False,  # a long review that mentions a day is telling a story
    ),
]


@pytest.fixture(scope="module")
def rules_only() -> Classifier:
    return build_classifier(PHRASEBOOK, learned=False)


@pytest.mark.parametrize(("text", "urgent"), CASES)
def test_a_need_tied_to_a_near_time_is_urgent(
    rules_only: Classifier, text: str, urgent: bool
) -> None:
    assert (Flag.URGENT in rules_only.classify(text).flags) is urgent
