"""Roles from settings and chat grants; Telegram language codes to Kefu's languages."""

from __future__ import annotations

import pytest

from bot.core.language import language_for
from bot.core.roles import Role, effective_role
from bot.core.types import Language

SETTINGS = {"admins": {1}, "supervisors": {2}, "agents": {3}}


@pytest.mark.parametrize(
    ("user_id", "granted", "expected"),
    [
        (1, None, Role.ADMIN),
        (2, None, Role.SUPERVISOR),
        (3, None, Role.AGENT),
        (4, None, Role.BUYER),
        (4, Role.AGENT, Role.AGENT),
        (3, Role.SUPERVISOR, Role.SUPERVISOR),
        (1, Role.AGENT, Role.ADMIN),  # a grant never lowers a configured role
    ],
)
def test_effective_role(user_id: int, granted: Role | None, expected: Role) -> None:
    assert effective_role(user_id, granted=granted, **SETTINGS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("agent", Role.AGENT), (" Supervisor ", Role.SUPERVISOR), ("admin", Role.ADMIN)],
)
def test_parse_role(text: str, expected: Role) -> None:
    assert Role.parse(text) == expected


def test_parse_unknown_role() -> None:
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        Role.parse("boss")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, Language.ZH_HANS),
        ("", Language.ZH_HANS),
        ("zh-hans", Language.ZH_HANS),
        ("zh-CN", Language.ZH_HANS),
        ("zh", Language.ZH_HANS),
        ("zh-hant", Language.ZH_HANT),
        ("zh-TW", Language.ZH_HANT),
        ("zh_HK", Language.ZH_HANT),
        ("en", Language.EN),
        ("en-US", Language.EN),
        ("ru", Language.ZH_HANS),
    ],
)
def test_language_for(code: str | None, expected: Language) -> None:
    assert language_for(code, Language.ZH_HANS) == expected


def test_language_fallback_is_the_setting() -> None:
    assert language_for("de", Language.EN) == Language.EN
