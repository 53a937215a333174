"""Defect 21: checks.yaml's structure word lists are data, validated with file:line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.checks import check_reply
from bot.phrasebook.checks_file import load_check_rules
from bot.phrasebook.yamlfile import PhrasebookError


@pytest.fixture
def checks(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_PHRASEBOOK_DIR, tmp_path / "phrasebook")
    return tmp_path / "phrasebook" / "checks.yaml"


def _edit(path: Path, old: str, new: str) -> int:
    """Replace `old` in the first line that holds it (stripped, from its start) with `new`;
    return that line's number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith(old):
            lines[number - 1] = line.replace(old, new)
            path.write_text("\n".join(lines), encoding="utf-8")
            return number
    raise AssertionError(f"{old!r} not in {path}")


def test_defect_21_a_shop_extends_the_lists(checks: Path) -> None:
    draft = "这不是俺们的问题"
    assert check_reply(draft, rules=load_check_rules(checks.parent)) == []
    _edit(checks, "shop_pronouns: [我们, 我們,", "shop_pronouns: [俺们, 我们, 我們,")
    [finding] = check_reply(draft, rules=load_check_rules(checks.parent))
    assert (finding.rule, finding.detail) == ("flat_refusal", "不是俺们的问题")


def test_defect_21_punctuation_in_a_word_names_file_and_line(checks: Path) -> None:
    line = _edit(checks, "- 没看清", "- 没，看清")
    with pytest.raises(PhrasebookError) as caught:
        load_check_rules(checks.parent)
    assert (caught.value.path, caught.value.line) == (str(checks), line)
    assert caught.value.reason.startswith("structure.careless_acts: '没，看清' must be words")


def test_defect_21_an_empty_list_names_file_and_line(checks: Path) -> None:
    text = checks.read_text(encoding="utf-8")
    start = text.index("  blame_verbs: [")
    end = text.index("]", start) + 1
    checks.write_text(text[:start] + "  blame_verbs: []" + text[end:], encoding="utf-8")
    line = text[:start].count("\n") + 1
    with pytest.raises(PhrasebookError) as caught:
        load_check_rules(checks.parent)
    assert (caught.value.path, caught.value.line) == (str(checks), line)
    assert "structure.blame_verbs" in caught.value.reason


def test_defect_21_a_bad_window_names_file_and_line(checks: Path) -> None:
    line = _edit(checks, "window: 3", "window: 0")
    with pytest.raises(PhrasebookError) as caught:
        load_check_rules(checks.parent)
    assert (caught.value.path, caught.value.line) == (str(checks), line)
    assert "structure.window" in caught.value.reason
