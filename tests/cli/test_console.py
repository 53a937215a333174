"""`kefu console` with piped input: the agent's view, picks and checks, exchanges logged as evidence."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = "还没收到货，订单号 123456789012\n2\n加我微信私下说\n不行，你自己的问题\n/quit\n"


def _console(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "KEFU_LANGUAGE": "en"}
    env.pop("KEFU_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=SCRIPT if args == ("console",) else None,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_console_without_a_database_still_works_and_says_so(tmp_path: Path) -> None:
    result = _console(tmp_path, "console")
    assert result.returncode == 0, result.stderr
    assert "nothing is logged" in result.stdout
    assert (
        "Category: Not received (not_received)" in result.stdout or "not_received" in result.stdout
    )
    assert "[1]" in result.stdout
    assert "[2]" in result.stdout
    assert "Picked #2" in result.stdout
    assert "[flat_refusal]" in result.stdout
    assert "[blames_buyer]" in result.stdout


def test_console_exchanges_are_logged_and_verify(tmp_path: Path) -> None:
    assert _console(tmp_path, "db", "upgrade").returncode == 0
    result = _console(tmp_path, "console")
    assert result.returncode == 0, result.stderr
    assert "Logged as case #1" in result.stdout
    with sqlite3.connect(tmp_path / "kefu.db") as db:
        rows = db.execute(
            "SELECT direction, content_type, suggestion_index, category FROM messages ORDER BY seq"
        ).fetchall()
    buyer_category = rows[2][3]
    assert rows == [
        ("in", "console", None, "not_received"),
        ("out", "console", 2, "not_received"),
        ("in", "console", None, buyer_category),
        ("out", "console", None, buyer_category),  # the agent's own reply
    ]
    verified = _console(tmp_path, "verify")
    assert verified.returncode == 0
    assert verified.stdout.startswith("OK: 4 records")
