"""The core stays pure: no I/O libraries, no file access (checked on the source's AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bot" / "core"
FORBIDDEN = {
    "telegram",
    "sqlalchemy",
    "jieba",
    "opencc",
    "yaml",
    "httpx",
    "aiohttp",
    "os",
    "pathlib",
    "requests",
    "socket",
    "subprocess",
    "io",
    "shutil",
    "sklearn",
    "numpy",
    "scipy",
}
FORBIDDEN_CALLS = {"open", "__import__", "exec", "eval"}


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def problems(source: str) -> list[str]:
    """The forbidden imports and calls in one module's source."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else None
            if isinstance(func, ast.Attribute) and func.attr in {"open", "read_text", "write_text"}:
                name = func.attr
            if name in FORBIDDEN_CALLS or name in {"read_text", "write_text"}:
                found.append(f"calls {name}()")
            continue
        else:
            continue
        found += [f"imports {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_there_are_core_modules() -> None:
    assert len(core_modules()) >= 3


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os", ["imports os"]),
        ("from pathlib import Path", ["imports pathlib"]),
        ("import jieba.posseg", ["imports jieba.posseg"]),
        ("from yaml import safe_load", ["imports yaml"]),
        ("x = open('f')", ["calls open()"]),
        ("p.read_text()", ["calls read_text()"]),
        ("from bot.core import types", []),
        ("import re", []),
    ],
)
def test_the_checker_itself(source: str, expected: list[str]) -> None:
    assert problems(source) == expected


BOT = CORE.parent
TRAINING_ONLY = {"sklearn", "scipy", "numpy"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_trainer_imports_the_training_libraries() -> None:
    """scikit-learn is a dev extra: the running bot must never need it."""
    offenders = [
        str(path.relative_to(BOT))
        for path in sorted(BOT.rglob("*.py"))
        if "training" not in path.relative_to(BOT).parts and _imports(path) & TRAINING_ONLY
    ]
    assert offenders == []


# Issue 14: the import contract. Each library has its adapter packages; nothing imports
# python-telegram-bot's private modules. Imports under `if TYPE_CHECKING:` count too (use the
# aliases the adapter exports, e.g. `bot.storage.database.Session`).
ALLOWED_IMPORTERS: dict[str, tuple[str, ...]] = {
    "telegram": ("tg/", "app.py"),
    "sqlalchemy": ("storage/",),
    "alembic": ("storage/",),
    "jieba": ("nlp/",),
    "opencc": ("nlp/",),
    "yaml": ("phrasebook/",),
    "typer": ("cli/",),
    "prometheus_client": ("observability/",),
}


def _all_imports(source: str) -> list[str]:
    """Every absolute module name imported anywhere in `source` (TYPE_CHECKING blocks too)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def contract_breaches(relative: str, source: str) -> list[str]:
    """The imports of the module at `relative` (path under bot/) that the contract forbids."""
    found: list[str] = []
    for name in _all_imports(source):
        parts = name.split(".")
        allowed = ALLOWED_IMPORTERS.get(parts[0])
        if allowed is not None and not relative.startswith(allowed):
            found.append(f"{relative} imports {name}")
        if parts[0] == "telegram" and any(part.startswith("_") for part in parts[1:]):
            found.append(f"{relative} imports private {name}")
    return found


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("tg/inbox.py", "from telegram import Update", []),
        ("app.py", "import telegram.ext", []),
        ("storage/x.py", "from telegram import Bot", ["storage/x.py imports telegram"]),
        (
            "tg/x.py",
            "from telegram._utils.types import ODVInput",
            ["tg/x.py imports private telegram._utils.types"],
        ),
        ("tg/x.py", "import sqlalchemy", ["tg/x.py imports sqlalchemy"]),
        (
            "tg/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sqlalchemy import Row",
            ["tg/x.py imports sqlalchemy"],
        ),
        ("nlp/segment.py", "import jieba", []),
        ("cli/x.py", "import yaml", ["cli/x.py imports yaml"]),
        ("observability/metrics.py", "import prometheus_client", []),
        ("tg/x.py", "import prometheus_client", ["tg/x.py imports prometheus_client"]),
    ],
)
def test_issue_14_the_contract_checker_itself(
    relative: str, source: str, expected: list[str]
) -> None:
    assert contract_breaches(relative, source) == expected


def test_issue_14_each_library_is_imported_only_by_its_adapter() -> None:
    """telegram: bot/tg and app.py; sqlalchemy: bot/storage; jieba/opencc: bot/nlp; yaml:
    bot/phrasebook; typer: bot/cli; prometheus_client: bot/observability; no telegram._*."""
    breaches = [
        breach
        for path in sorted(BOT.rglob("*.py"))
        for breach in contract_breaches(
            path.relative_to(BOT).as_posix(), path.read_text(encoding="utf-8")
        )
    ]
    assert breaches == []


# Issue 14: bot/tg translates updates, renders and sends; the ORM stays behind bot/service and
# bot/storage. A tg module imports no `bot.storage.models` and calls no session method itself.
SESSION_METHODS = {
    "get",
    "commit",
    "execute",
    "add",
    "add_all",
    "flush",
    "merge",
    "refresh",
    "delete",
    "scalar",
    "scalars",
    "rollback",
}

# tg modules that still touch sessions or ORM rows: each leaves this set when its business moves
# to bot/service (issue 14). Intake, replies, the waiting clock and follow-ups have moved.
STILL_USING_SESSIONS: set[str] = set()


def orm_uses(source: str) -> list[str]:
    """`bot.storage.models` imports and `session.<method>(...)` calls in a module's source."""
    found = [
        f"imports {name}" for name in _all_imports(source) if name.startswith("bot.storage.models")
    ]
    tree = ast.parse(source)
    sessions = {"session"} | _opened_sessions(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if named in sessions and node.func.attr in SESSION_METHODS:
            found.append(f"calls session.{node.func.attr}()")
    return found


def _opened_sessions(tree: ast.AST) -> set[str]:
    """Names bound by `async with X.session() as NAME` or `X.transaction() as NAME`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.AsyncWith | ast.With):
            continue
        for item in node.items:
            call = item.context_expr
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in {"session", "transaction"}
                and isinstance(item.optional_vars, ast.Name)
            ):
                names.add(item.optional_vars.id)
    return names


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from bot.storage.models import Card", ["imports bot.storage.models"]),
        ("import bot.storage.models as m", ["imports bot.storage.models"]),
        ("await session.get(Card, 1)", ["calls session.get()"]),
        ("await self.session.commit()", ["calls session.commit()"]),
        (
            "await session.execute(q)\nsession.add(row)",
            ["calls session.execute()", "calls session.add()"],
        ),
        (
            "async def f(db):\n    async with db.session() as s:\n        await s.execute(q)",
            ["calls session.execute()"],
        ),
        (
            "async def f(db):\n    async with db.transaction() as tx:\n        tx.add(row)",
            ["calls session.add()"],
        ),
        ("from bot.storage.cards import PostedCard", []),
        ("await record_posted(db=db, session=s)", []),
        ("cache.get(1)", []),
    ],
)
def test_issue_14_the_orm_checker_itself(source: str, expected: list[str]) -> None:
    assert sorted(orm_uses(source)) == sorted(expected)


def test_issue_14_tg_modules_leave_the_orm_to_services_and_storage() -> None:
    """No tg module outside STILL_USING_SESSIONS imports ORM models or calls session methods."""
    uses = {
        relative: orm_uses(path.read_text(encoding="utf-8"))
        for path in sorted((BOT / "tg").rglob("*.py"))
        if (relative := path.relative_to(BOT).as_posix()) not in STILL_USING_SESSIONS
    }
    assert "tg/inbox.py" in uses
    assert "tg/handlers/cases.py" in uses
    assert {relative: found for relative, found in uses.items() if found} == {}


def test_bot_has_no_relative_imports() -> None:
    """The import checks read absolute module names: a relative import would slip past them."""
    relative = [
        str(path.relative_to(BOT))
        for path in sorted(BOT.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []


def test_issue_14_the_allow_list_only_names_modules_that_still_need_it() -> None:
    """A module that no longer touches the ORM leaves STILL_USING_SESSIONS (it only shrinks)."""
    clean = sorted(
        relative
        for relative in STILL_USING_SESSIONS
        if not (BOT / relative).exists()
        or not orm_uses((BOT / relative).read_text(encoding="utf-8"))
    )
    assert clean == []


def test_issue_14_services_do_not_reach_into_telegram() -> None:
    """bot/service returns data to send; it imports neither python-telegram-bot nor bot.tg."""
    offenders = [
        f"{path.relative_to(BOT).as_posix()} imports {name}"
        for path in sorted((BOT / "service").rglob("*.py"))
        for name in _all_imports(path.read_text(encoding="utf-8"))
        if name.split(".")[0] == "telegram" or name.startswith("bot.tg")
    ]
    assert offenders == []
