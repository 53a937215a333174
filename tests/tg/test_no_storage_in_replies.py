"""Issue 14: the replies side of `bot/tg` translates, calls a service, renders and sends; it
never opens a session, touches an ORM row or imports SQLAlchemy or the models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TG = Path(__file__).resolve().parents[2] / "bot" / "tg"
SERVICE_ONLY = (
    "cards.py",
    "corrections.py",
    "jobs.py",
    "outbox.py",
    "polling_lease.py",
    "replies.py",
    "handlers/admin.py",
    "handlers/agent.py",
    "handlers/cases.py",
    "handlers/erasure.py",
    "handlers/shop.py",
    "handlers/supervisor.py",
)
FORBIDDEN_MODULES = ("sqlalchemy", "bot.storage.models")
SESSION_METHODS = {"session", "transaction", "get", "execute", "commit", "add", "add_all", "flush"}


def storage_uses(source: str) -> list[str]:
    """Imports of SQLAlchemy or the models, and session calls (`db.session()`, `session.get`)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            names = []
        found += [f"imports {n}" for n in names if n.startswith(FORBIDDEN_MODULES)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if node.func.attr in SESSION_METHODS and name in ("db", "session", "sessions"):
                found.append(f"calls {name}.{node.func.attr}()")
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from bot.storage.models import Card", ["imports bot.storage.models"]),
        ("import sqlalchemy", ["imports sqlalchemy"]),
        (
            "async def f(s):\n    async with s.db.transaction() as t: pass",
            ["calls db.transaction()"],
        ),
        ("async def f(session):\n    await session.get(A, 1)", ["calls session.get()"]),
        ("from bot.service.cards import load_card", []),
        ("x = context.services.db", []),
        ("d = {}.get('a')", []),
    ],
)
def test_the_checker_itself(source: str, expected: list[str]) -> None:
    assert storage_uses(source) == expected


@pytest.mark.parametrize("relative", SERVICE_ONLY)
def test_the_replies_side_of_telegram_uses_services_only(relative: str) -> None:
    assert storage_uses((TG / relative).read_text(encoding="utf-8")) == []
