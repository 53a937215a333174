"""Defect 24: the command line's small answers agree with each other and read naturally."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main

from bot.cli import app
from tests.cli.conftest import TOKEN, Kefu

FORMATS = ["csv", "conversations", "xlsx", "jsonl", "html", "bundle"]


@pytest.mark.parametrize("command", ["export", "report"])
def test_defect_24_an_unknown_range_lists_the_valid_ones(kefu: Kefu, command: str) -> None:
    args = ["--format", "csv", "--output", "out.csv"] if command == "export" else []
    result = kefu(command, *args, "--range", "3d")
    assert (result.code, result.stderr) == (
        2,
        "kefu: error: --range must be one of today, 7d, 30d, all, not '3d'\n",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_defect_24_an_unknown_case_is_an_error_in_every_format(
    kefu: Kefu, tmp_path: Path, fmt: str
) -> None:
    assert kefu("db", "upgrade").code == 0
    result = kefu("export", "--format", fmt, "--case", "999", "--output", f"case.{fmt}")
    assert (result.code, result.stderr) == (2, "kefu: error: there is no case 999\n")
    assert not (tmp_path / f"case.{fmt}").exists()


def test_defect_24_settings_show_says_when_the_token_is_not_set(kefu: Kefu) -> None:
    unset = kefu("settings", "show").stdout.splitlines()
    assert "KEFU_BOT_TOKEN=(not set)" in unset
    assert "KEFU_AGENT_CHAT_ID=(not set)" in unset
    shown = kefu("settings", "show", env={"KEFU_BOT_TOKEN": TOKEN}).stdout.splitlines()
    assert "KEFU_BOT_TOKEN=**********" in shown
    assert TOKEN not in "\n".join(shown)


def test_defect_24_classify_answers_a_blank_line_so_outputs_stay_aligned(kefu: Kefu) -> None:
    lines = [
        json.dumps({"id": 1, "text": "快递三天了还没收到"}, ensure_ascii=False),
        "",
        "   ",
        json.dumps({"id": 2, "text": "收到是碎的"}, ensure_ascii=False),
    ]
    result = kefu("classify", stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["id"], a.get("error")) for a in answers] == [
        (1, None),
        (None, "empty line"),
        (None, "empty line"),
        (2, None),
    ]


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]

    def walk(command: object, prefix: list[str]) -> None:
        for name, child in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(child, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "kefu")
def test_defect_24_help_has_no_python_type_placeholders(kefu: Kefu, path: list[str]) -> None:
    result = kefu(*path, "--help")
    assert result.code == 0
    assert re.findall(r"<(?:str|bool|int|float|path|list\[\w+\])>|\{\w+\}", result.stdout) == []


def test_defect_24_help_shows_flags_as_flags_and_values_by_kind(kefu: Kefu) -> None:
    verify = kefu("verify", "--help").stdout
    assert re.search(r"--publish\s+Post the head", verify)
    assert re.search(r"--limit\s+INTEGER\s+Report at most", verify)
    assert re.search(r"--against\s+HASH@SEQ\s+Also check", verify)
    suggest = kefu("suggest", "--help").stdout
    assert re.search(r"Usage: kefu suggest \[OPTIONS\] TEXT *\n", suggest)
    assert re.search(r"--lang\s+TEXT\s+Reply language", suggest)
    assert re.search(r"--json\s+Print JSON", suggest)
    upgrade = kefu("db", "upgrade", "--help").stdout
    assert re.search(r"Usage: kefu db upgrade \[OPTIONS\] \[REVISION\] *\n", upgrade)
    assert re.search(r"--worst\s+INTEGER", kefu("eval", "--help").stdout)
    assert re.search(r"--mirrors\s+PATH", kefu("train", "--help").stdout)
