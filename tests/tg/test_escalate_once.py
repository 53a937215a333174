"""An escalation goes to the supervisors only when this press claimed the card: a card given
back (or taken) meanwhile tells nobody (review finding, issue 14)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from telegram import User

from bot.core.roles import Role
from bot.service import replies as reply_service
from bot.tg import replies


class RecordingBot:
    """Records every sendMessage."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def send_message(self, *, chat_id: int, text: str) -> None:
        self.sent.append(chat_id)


@pytest.mark.parametrize("claimed", [False, True])
async def test_escalate_tells_the_supervisors_only_after_a_claim(
    monkeypatch: pytest.MonkeyPatch, claimed: bool
) -> None:
    async def finish_card(*_args: Any, **_kwargs: Any) -> tuple[bool, None]:
        return claimed, None  # not claimed, and nobody handled it: the card was given back

    async def mark_card(*_args: Any) -> None:
        return None

    monkeypatch.setattr(reply_service, "finish_card", finish_card)
    monkeypatch.setattr(replies, "mark_card", mark_card)
    bot = RecordingBot()
    services = SimpleNamespace(
        db=None,
        language_of=lambda _code: "zh-Hans",
        default_language="zh-Hans",
        text=lambda _language, key, **_vars: key,
        settings=SimpleNamespace(supervisor_chat_id=-100, supervisor_ids=()),
    )
    context = cast(Any, SimpleNamespace(services=services, bot=bot))
    found = cast(Any, SimpleNamespace(card=SimpleNamespace(id=7, html="card")))
    user = User(id=1, first_name="A", is_bot=False)
    answer = await replies._escalate(context, user, Role.AGENT, found)
    assert answer is None
    assert bot.sent == ([-100] if claimed else [])
