"""Defect 11: the table of variables each UI text receives matches what the code fills in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot
from bot.core.ui_variables import UI_VARIABLES, ui_variables

BOT_DIR = Path(bot.__file__).parent


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("case.event_attachment", frozenset({"kind", "sha256"})),
        ("sla.target_missed", frozenset({"buyer_name", "case", "target", "waited"})),
        ("checks.too_long", frozenset({"length", "word"})),  # the section's `checks.*` entry
        ("category_names.quality", frozenset()),
        ("no_such.key", frozenset()),
    ],
)
def test_ui_variables(key: str, expected: frozenset[str]) -> None:
    assert ui_variables(key) == expected


def _literal_text_calls() -> list[tuple[str, str, set[str]]]:
    """(where, key, keyword names) of every call with a dotted literal key and keyword values."""
    calls: list[tuple[str, str, set[str]]] = []
    for path in sorted(BOT_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.keywords:
                continue
            keys = [
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and "." in arg.value
                and " " not in arg.value
                and "{" not in arg.value
            ]
            names = {keyword.arg for keyword in node.keywords if keyword.arg is not None}
            for key in keys:
                calls.append((f"{path.name}:{node.lineno}", key, names))
    return calls


def test_every_variable_the_code_passes_is_in_the_table() -> None:
    """A `text(language, "a.key", name=...)` call: `name` is declared for that key (or a key
    that ends with it, for wording read under a prefix such as `export.`)."""
    missing = []
    for where, key, names in _literal_text_calls():
        table_keys = [k for k in UI_VARIABLES if k == key or k.endswith(f".{key}")]
        if not table_keys:
            continue  # not a UI key with variables (e.g. a logger name)
        declared = frozenset().union(*(UI_VARIABLES[k] for k in table_keys))
        missing += [(where, key, name) for name in sorted(names - declared)]
    assert missing == []


def test_the_scan_sees_the_calls_that_fill_variables() -> None:
    keys = {key for _, key, _ in _literal_text_calls()}
    assert {"case.event_attachment", "sla.target_missed", "followup.due"} <= keys
