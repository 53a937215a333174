"""Where a card goes when no agent takes it, and a case's topic target."""

from __future__ import annotations

import pytest

from bot.core.routing import CardTarget, fallback_chat, topic_target
from bot.core.types import Language


@pytest.mark.parametrize(
    ("chat", "supervisors", "admins", "granted", "expected"),
    [
        (-100, [1], [2], [3], -100),  # the supervisors' chat first
        (None, [1, 4], [2], [3], 1),  # else the first configured supervisor
        (None, [], [2], [3], 2),  # else the first configured admin
        (None, [], [], [3, 5], 3),  # else a supervisor granted in chat
        (None, [], [], [], None),  # nobody
    ],
)
def test_fallback_chat(
    chat: int | None,
    supervisors: list[int],
    admins: list[int],
    granted: list[int],
    expected: int | None,
) -> None:
    assert (
        fallback_chat(
            supervisor_chat_id=chat,
            supervisor_ids=supervisors,
            admin_ids=admins,
            granted_supervisors=granted,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (None, CardTarget(-5, None, Language.EN, needs_topic=True)),
        (77, CardTarget(-5, 77, Language.EN, needs_topic=False)),
    ],
)
def test_topic_target(topic: int | None, expected: CardTarget) -> None:
    assert topic_target(agent_chat_id=-5, topic_id=topic, language=Language.EN) == expected
