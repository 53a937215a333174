"""`kefu console` with piped input: the agent's view, picks and checks, exchanges logged as evidence.

Defect 19: by default the console logs to a practice database, never the evidence log; `--record`
logs for real. Defect 20: a number with no such suggestion, a reply that fails the check (until
confirmed) and console commands are never logged.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.console import ConsoleLog, ConsoleLoop, practice_log
from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.labels import CardLabel
from bot.core.types import Category, Flag, Language
from bot.understanding import Analysis, Understanding, load_understanding

BUYER = "还没收到货，订单号 123456789012"
OFF_PLATFORM = "加我微信私下说"
BAD_REPLY = "不行，你自己的问题"  # a flat refusal that blames the buyer
SCRIPT = f"{BUYER}\n2\n{OFF_PLATFORM}\n{BAD_REPLY}\ny\n/quit\n"
MESSAGES = "SELECT direction, content_type, suggestion_index, text FROM messages ORDER BY seq"


def _console(data_dir: Path, *args: str, script: str = SCRIPT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "KEFU_LANGUAGE": "en"}
    env.pop("KEFU_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=script if args[0] == "console" else None,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _rows(database: Path, query: str = MESSAGES) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as db:
        return db.execute(query).fetchall()


def test_console_shows_the_agents_view_picks_and_checks(tmp_path: Path) -> None:
    result = _console(tmp_path, "console")
    assert result.returncode == 0, result.stderr
    assert "Category: Not received (not_received)" in result.stdout
    assert "[1]" in result.stdout
    assert "[2]" in result.stdout
    assert "Picked #2" in result.stdout
    assert "[flat_refusal]" in result.stdout
    assert "[blames_buyer]" in result.stdout


def test_defect_19_console_logs_to_a_practice_database_and_says_so(tmp_path: Path) -> None:
    assert _console(tmp_path, "db", "upgrade").returncode == 0
    result = _console(tmp_path, "console")
    assert result.returncode == 0, result.stderr
    practice = tmp_path / "practice.db"
    assert result.stdout.splitlines()[2] == (
        f"Practice mode: this session is logged in the practice database {practice},"
        " not in the evidence log. To log for real, run: kefu console --record"
    )
    assert _rows(tmp_path / "kefu.db") == []  # the evidence log is untouched
    assert [row[:3] for row in _rows(practice)] == [
        ("in", "console", None),
        ("out", "console", 2),
        ("in", "console", None),
        ("out", "console", None),
    ]
    verified = _console(tmp_path, "verify")
    assert verified.stdout.startswith("OK: 0 records")


def test_defect_19_console_record_logs_to_the_evidence_log_and_verifies(tmp_path: Path) -> None:
    assert _console(tmp_path, "db", "upgrade").returncode == 0
    result = _console(tmp_path, "console", "--record")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2] == (
        f"Recording: this session is logged as evidence in {(tmp_path / 'kefu.db').resolve()},"
        " for good (the evidence log is append-only)."
    )
    assert "Logged as case #1" in result.stdout
    rows = _rows(tmp_path / "kefu.db", MESSAGES.replace("text", "category"))
    buyer_category = rows[2][3]
    assert rows == [
        ("in", "console", None, "not_received"),
        ("out", "console", 2, "not_received"),
        ("in", "console", None, buyer_category),
        ("out", "console", None, buyer_category),  # the agent's own reply, confirmed
    ]
    assert not (tmp_path / "practice.db").exists()
    verified = _console(tmp_path, "verify")
    assert verified.returncode == 0
    assert verified.stdout.startswith("OK: 4 records")


# Defect 20: the console loop itself, on a real (practice) database.


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return load_understanding(DEFAULT_PHRASEBOOK_DIR)


@pytest.fixture
def log(tmp_path: Path) -> ConsoleLog:
    """The console's practice database in tmp_path, migrated (closed when the session ends)."""
    return practice_log(tmp_path)


def _session(understanding: Understanding, log: ConsoleLog, *lines: str) -> list[str]:
    """Run the console on these input lines; the printed lines."""
    pending = list(lines)
    printed: list[str] = []

    def read(prompt: str) -> str:
        if not pending:
            raise EOFError
        return pending.pop(0)

    loop = ConsoleLoop(
        understanding,
        ui=Language.EN,
        read=read,
        write=lambda text, style="": printed.append(text),
        log=log,
    )
    try:
        loop.run()
    finally:
        log.close()
    return printed


def _logged(tmp_path: Path) -> list[tuple[object, ...]]:
    return [row[:4] for row in _rows(tmp_path / "practice.db")]


def test_defect_20_a_number_with_no_such_suggestion_is_refused_and_not_logged(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, BUYER, "7", "")
    assert (
        "There is no suggestion #7 (there are 3): type a number from the list, your own reply,"
        " or Enter to skip. Nothing was logged." in printed
    )
    assert _logged(tmp_path) == [("in", "console", None, BUYER)]


def test_defect_20_after_a_wrong_number_the_agent_can_still_pick(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    _session(understanding, log, BUYER, "0", "1")
    suggestion = understanding.analyse(BUYER).composition.suggestions[0].text
    assert _logged(tmp_path) == [
        ("in", "console", None, BUYER),
        ("out", "console", 1, suggestion),
    ]


def test_defect_20_a_reply_that_fails_the_check_waits_for_confirmation(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, OFF_PLATFORM, BAD_REPLY, "", "")
    assert "Reply check found problems:" in printed
    assert "Cancelled: nothing was logged. Write another reply, pick a number," in printed[-2]
    assert _logged(tmp_path) == [("in", "console", None, OFF_PLATFORM)]


def test_defect_20_a_confirmed_reply_is_logged_once(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    _session(understanding, log, OFF_PLATFORM, BAD_REPLY, "y")
    assert _logged(tmp_path) == [
        ("in", "console", None, OFF_PLATFORM),
        ("out", "console", None, BAD_REPLY),
    ]


def test_defect_20_console_commands_are_never_logged(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, "/help", "/foo", BUYER, "/help", "", "/quit")
    assert (
        printed.count(
            "Console commands (never logged): /help shows this, /quit leaves, /wrong CATEGORY"
            " [+FLAG] [-FLAG] corrects the last buyer message's category (and flags) and shows its"
            " suggestions. As the agent: a number picks that suggestion, other text is your own"
            " reply (checked first), Enter skips."
        )
        == 2
    )
    assert (
        "Unknown console command /foo: the commands are /help, /quit and /wrong CATEGORY"
        " (nothing was logged)" in printed
    )
    assert _logged(tmp_path) == [("in", "console", None, BUYER)]


def test_defect_20_a_buyer_message_that_starts_with_a_slash_is_a_message(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    """Only a lone `/word` is a console command; `/help 快递没到` is what a buyer wrote."""
    _session(understanding, log, "/help 快递三天没到", "")
    assert _logged(tmp_path) == [("in", "console", None, "/help 快递三天没到")]


# Issue 15: `/wrong CATEGORY` corrects the last buyer message; never logged as a message.

CORRECTIONS = (
    "SELECT actor_telegram_id, target, details FROM audit_log WHERE action = 'card.corrected'"
)


def test_issue_15_console_wrong_corrects_and_shows_the_new_suggestions(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, BUYER, "/wrong quality +angry", "1")
    assert "Category corrected: Not received → Quality issue" in printed
    assert "Category: Quality issue (quality)  Confidence: 1.00" in printed
    quality = understanding.analyse_corrected(
        BUYER, CardLabel(Category.QUALITY, frozenset({Flag.ANGRY}))
    )
    first = quality.composition.suggestions[0].text
    assert f"  [1] ({_kind(understanding, quality)}) {first}" in printed
    assert _logged(tmp_path) == [("in", "console", None, BUYER), ("out", "console", 1, first)]
    [(actor, target, details)] = _rows(tmp_path / "practice.db", CORRECTIONS)
    [(message_id,)] = _rows(
        tmp_path / "practice.db", "SELECT id FROM messages WHERE direction = 'in'"
    )
    assert (actor, target) == (None, f"message:{message_id}")
    assert json.loads(str(details)) == {
        "message_id": message_id,
        "old_category": "not_received",
        "new_category": "quality",
        "old_flags": [],
        "new_flags": ["angry"],
        "via": "console",
    }
    [(category,)] = _rows(tmp_path / "practice.db", "SELECT category FROM conversations")
    assert category == "quality"


def _kind(understanding: Understanding, analysis: Analysis) -> str:
    kind = analysis.composition.suggestions[0].kind
    return understanding.phrasebook.wording.text(Language.EN, f"suggestion_kinds.{kind}")


def test_issue_15_console_wrong_by_name_in_chinese(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, BUYER, "/wrong 质量问题", "")
    assert "Category corrected: Not received → Quality issue" in printed
    assert len(_rows(tmp_path / "practice.db", CORRECTIONS)) == 1


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("/wrong nonsense", "Unknown category or flag nonsense: categories not_received,"),
        ("/wrong quality +furious", "Unknown category or flag +furious: categories not_received,"),
        ("/wrong", "Usage: /wrong CATEGORY [+FLAG] [-FLAG], the category by id or name:"),
        ("/wrong not_received", "Nothing changed: the message is already Not received"),
    ],
)
def test_issue_15_console_wrong_refuses_bad_input_and_logs_nothing(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path, command: str, says: str
) -> None:
    printed = _session(understanding, log, BUYER, command, "")
    assert [line for line in printed if line.startswith(says)] != []
    assert _rows(tmp_path / "practice.db", CORRECTIONS) == []
    assert _logged(tmp_path) == [("in", "console", None, BUYER)]


def test_issue_15_console_wrong_before_any_message_is_refused(
    understanding: Understanding, log: ConsoleLog, tmp_path: Path
) -> None:
    printed = _session(understanding, log, "/wrong quality")
    assert "There is no buyer message to correct yet. Nothing was logged." in printed
    assert _logged(tmp_path) == []
