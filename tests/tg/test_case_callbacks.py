"""Case buttons: `cs:` callback ids parsed in keyboards.py, the buttons offered per state, long drafts."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.cases import CaseState, Party
from bot.core.types import Language
from bot.phrasebook.loader import load_phrasebook
from bot.tg.handlers.cases import escaped_chunks
from bot.tg.keyboards import NO_SUCH_ID, CaseAction, case_keyboard, parse_callback
from bot.tg.render import TELEGRAM_LIMIT


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("cs:1:verifying", CaseAction(1, CaseState.VERIFYING)),
        ("cs:12:closed", CaseAction(12, CaseState.CLOSED)),
        ("cs:3:r:courier", CaseAction(3, CaseState.RESPONSIBILITY_DECIDED, Party.COURIER)),
        ("cs:3:responsibility_decided", None),  # a decision always names the party
        ("cs:3:r:moon", None),
        ("cs:3:shipped", None),
        ("cs:x:verifying", CaseAction(NO_SUCH_ID, CaseState.VERIFYING)),  # defect 13.6
        ("cs:3", None),
        ("cs:3:remedy:extra", None),
    ],
)
def test_case_callbacks(data: str, expected: CaseAction | None) -> None:
    assert parse_callback(data) == expected


@pytest.mark.parametrize(
    ("status", "responsibility", "expected"),
    [
        ("new", None, ["cs:5:verifying", "cs:5:resolved", "cs:5:closed"]),
        (
            "verifying",
            None,
            ["cs:5:r:seller", "cs:5:r:courier", "cs:5:r:buyer", "cs:5:resolved", "cs:5:closed"],
        ),
        (
            "responsibility_decided",
            "courier",
            [
                "cs:5:r:seller",
                "cs:5:r:buyer",
                "cs:5:remedy",
                "cs:5:appeal",
                "cs:5:resolved",
                "cs:5:closed",
            ],
        ),
        ("closed", None, ["cs:5:verifying"]),
    ],
)
def test_buttons_offer_the_allowed_next_states(
    status: str, responsibility: str | None, expected: list[str]
) -> None:
    wording = load_phrasebook(DEFAULT_PHRASEBOOK_DIR).wording
    keyboard = case_keyboard(5, status, responsibility, wording=wording, language=Language.EN)
    actual = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert actual == expected
    assert all(len(row) <= 3 for row in keyboard.inline_keyboard)
    assert all(parse_callback(str(data)) is not None for data in actual)


def test_a_long_draft_is_escaped_and_split_under_the_limit() -> None:
    line = "买家说 <不给钱> & 差评 “就给差评” " * 20
    text = "\n".join(f"{n}. {line}" for n in range(40))
    chunks = escaped_chunks(text)
    assert len(chunks) > 1
    assert all(len(chunk) <= TELEGRAM_LIMIT for chunk in chunks)
    assert "<" not in "".join(chunks)
    assert "&lt;不给钱&gt; &amp; 差评" in chunks[0]


def test_a_chunk_that_grows_when_escaped_is_split_again() -> None:
    text = "&" * 4000  # 4000 characters, 20000 once escaped
    chunks = escaped_chunks(text)
    assert all(len(chunk) <= TELEGRAM_LIMIT for chunk in chunks)
    assert "".join(chunks) == "&amp;" * 4000
