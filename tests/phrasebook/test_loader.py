"""The shipped phrasebook loads and covers every cell; a broken file fails with file:line: reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.types import Category, Language, Principle
from bot.phrasebook.loader import coverage, load_phrasebook
from bot.phrasebook.ui_texts import REQUIRED_UI
from bot.phrasebook.yamlfile import PhrasebookError


def test_shipped_phrasebook_covers_every_category_language_and_principle() -> None:
    phrasebook = load_phrasebook(DEFAULT_PHRASEBOOK_DIR)
    cells = coverage(phrasebook)
    assert len(cells) == (len(Category) + 1) * len(Language) * len(Principle)
    assert min(cells.values()) >= 1
    for language in Language:
        assert set(phrasebook.playbooks[language]) == set(Category)
        for section, keys in REQUIRED_UI.items():
            for key in keys:
                assert phrasebook.wording.texts[language][f"{section}.{key}"].strip()


def test_shipped_suggestions_pass_the_reply_check() -> None:
    from bot.core.checks import check_reply
    from bot.core.types import Classification

    phrasebook = load_phrasebook(DEFAULT_PHRASEBOOK_DIR)
    for language in Language:
        for category in Category:
            verdict = Classification(category=category, confidence=0.9, language=language)
            for seed in range(3):
                for suggestion in phrasebook.composer.compose(verdict, seed=seed).suggestions:
                    findings = check_reply(
                        suggestion.text, rules=phrasebook.check_rules, buyer=verdict
                    )
                    assert findings == [], (language, category, suggestion.kind, suggestion.text)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    target = tmp_path / "phrasebook"
    shutil.copytree(DEFAULT_PHRASEBOOK_DIR, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    """Replace the first occurrence of `old` outside comment lines."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines):
        if old in line and not line.lstrip().startswith("#"):
            lines[number] = line.replace(old, new, 1)
            path.write_text("\n".join(lines), encoding="utf-8")
            return
    raise AssertionError(f"{old!r} not in {path}")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line and not line.lstrip().startswith("#"):
            return number
    raise AssertionError(needle)


def test_unknown_variable_names_file_and_line(book: Path) -> None:
    replies = book / "replies" / "zh-Hans.yaml"
    _replace(replies, "{buyer_name}", "{buyer_nmae}")
    line = _line_of(replies, "{buyer_nmae}")
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook(book)
    assert (caught.value.path, caught.value.line) == (str(replies), line)
    assert "unknown variable {buyer_nmae}" in str(caught.value)


def test_invalid_yaml_names_the_line(book: Path) -> None:
    ui = book / "ui" / "en.yaml"
    _replace(ui, "category_names:", "category_names: [unclosed")
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook(book)
    assert caught.value.path == str(ui)
    assert caught.value.line is not None
    assert "invalid YAML" in caught.value.reason


def test_duplicate_key_is_refused(book: Path) -> None:
    compose = book / "compose.yaml"
    _replace(
        compose,
        "  default: [quick, full, compensate]",
        "  inquiry: [quick]\n  default: [quick, full, compensate]",
    )
    with pytest.raises(PhrasebookError, match="duplicate key 'inquiry'"):
        load_phrasebook(book)


def test_missing_category_in_playbook(book: Path) -> None:
    playbook = book / "playbooks" / "zh-Hant.yaml"
    _replace(playbook, "  invoice:", "  invoicing:")
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook(book)
    assert caught.value.path == str(playbook)
    assert "invoicing" in caught.value.reason or "invoice" in caught.value.reason


def test_missing_ui_key(book: Path) -> None:
    ui = book / "ui" / "zh-Hans.yaml"
    text = ui.read_text(encoding="utf-8")
    ui.write_text(
        "\n".join(
            line for line in text.splitlines() if not line.strip().startswith("not_allowed:")
        ),
        encoding="utf-8",
    )
    with pytest.raises(PhrasebookError, match=r"card\.not_allowed is missing"):
        load_phrasebook(book)


def test_extortion_may_never_be_offered_compensation(book: Path) -> None:
    _replace(book / "compose.yaml", "extortion: [quick, full]", "extortion: [quick, compensate]")
    with pytest.raises(PhrasebookError, match="never be offered compensation"):
        load_phrasebook(book)


def test_missing_file(book: Path) -> None:
    (book / "checks.yaml").unlink()
    with pytest.raises(PhrasebookError, match="file is missing"):
        load_phrasebook(book)


def test_cli_reports_the_broken_file_in_one_line(book: Path) -> None:
    import os
    import subprocess
    import sys

    _replace(book / "replies" / "en.yaml", "{buyer_name}", "{nobody}")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "phrasebook", "check"],
        env={**os.environ, "KEFU_PHRASEBOOK_DIR": str(book)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"kefu: error: {book / 'replies' / 'en.yaml'}:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("relative", "old", "new", "reason"),
    [
        (
            "ui/en.yaml",
            'Attachment ({kind}) sha256 {sha256}"',
            'Attachment ({kind}) sha256 {sha256} {sha512}"',
            "case.event_attachment: unknown variable {sha512}"
            " (this text receives {kind}, {sha256})",
        ),
        (
            "ui/zh-Hant.yaml",
            "已自動回覆買家（已等待{waited}）",
            "已自動回覆買家（已等待{waited2}）",
            "sla.auto_acked: unknown variable {waited2} (this text receives {waited})",
        ),
        (
            "ui/zh-Hans.yaml",
            "  quality: 质量问题",
            "  quality: 质量问题 {case}",
            "category_names.quality: unknown variable {case} (this text receives no variables)",
        ),
        (
            "playbooks/en.yaml",
            "Marked delivered but not received",
            "Marked delivered for {order_id}",
            "unknown variable {order_id} (playbooks take no variables)",
        ),
    ],
)
def test_defect_11_a_variable_nothing_fills_names_file_line_and_reason(
    book: Path, relative: str, old: str, new: str, reason: str
) -> None:
    path = book / relative
    _replace(path, old, new)
    line = _line_of(path, new)
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook(book)
    assert (caught.value.path, caught.value.line, caught.value.reason) == (str(path), line, reason)


def test_defect_11_phrasebook_check_rejects_an_unfilled_ui_variable(book: Path) -> None:
    import os
    import subprocess
    import sys

    ui = book / "ui" / "en.yaml"
    _replace(ui, 'Attachment ({kind}) sha256 {sha256}"', 'Attachment ({kind}) sha256 {hash256}"')
    line = _line_of(ui, "{hash256}")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "phrasebook", "check"],
        env={**os.environ, "KEFU_PHRASEBOOK_DIR": str(book)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"kefu: error: {ui}:{line}: case.event_attachment: unknown variable {{hash256}}"
        " (this text receives {kind}, {sha256})",
    )


@pytest.mark.parametrize("language", list(Language))
def test_defect_11_shipped_attachment_lines_fill_the_sha256(language: Language) -> None:
    wording = load_phrasebook(DEFAULT_PHRASEBOOK_DIR).wording
    for key in ("case.event_attachment", "export.transcript.attachment"):
        text = wording.text(language, key, kind="photo", sha256="0123abcd")
        assert ("0123abcd" in text, "{" in text) == (True, False), text
