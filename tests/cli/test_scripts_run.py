"""Defect 25: `scripts/run` says what it is doing, step by step, instead of 80 silent seconds.

The script runs for real in a copy of the project whose `scripts/bootstrap` and `.venv/bin/kefu`
are stand-ins (a real install takes minutes): the stand-in bootstrap does what the real one leaves
behind (a venv python and the install stamp), the stand-in kefu records how it was called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BOOTSTRAP = """#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .venv/bin
[ -x .venv/bin/python ] || { printf '#!/bin/sh\\n' > .venv/bin/python; chmod +x .venv/bin/python; }
touch .venv/.kefu-installed
cp scripts/kefu-stand-in .venv/bin/kefu
"""
KEFU = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../../kefu-calls"
if [ "$*" = "settings has-token" ]; then exit "${HAS_TOKEN_EXIT:-1}"; fi
if [ "$*" = "db upgrade" ]; then echo "database at revision 0004 (head)"; fi
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "kefu"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "run", project / "scripts" / "run")
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    for name, text in (("bootstrap", BOOTSTRAP), ("kefu-stand-in", KEFU)):
        (project / "scripts" / name).write_text(text)
        (project / "scripts" / name).chmod(0o755)
    return project


def _run(project: Path, *, has_token: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["scripts/run"],
        cwd=project,
        env={**os.environ, "HAS_TOKEN_EXIT": "0" if has_token else "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def test_defect_25_first_run_says_each_step(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = _run(project, has_token=False)
    assert result.stderr.splitlines() == [
        "kefu: creating the virtual environment in .venv (first run only)",
        "kefu: installing Kefu and its dependencies into .venv (a minute or two the first time)",
        "kefu: migrating the database (kefu db upgrade)",
        "database at revision 0004 (head)",
        "kefu: no KEFU_BOT_TOKEN is set: create a bot with @BotFather, put its token in .env as"
        " KEFU_BOT_TOKEN=... and run this again",
        "kefu: until then, starting the offline console (practice mode: nothing goes into the"
        " evidence log)",
    ]
    assert (project / "kefu-calls").read_text().splitlines() == [
        "db upgrade",
        "settings has-token",
        "console",
    ]


def test_defect_25_later_runs_skip_the_install_lines_and_start_the_bot(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, has_token=False)
    (project / "kefu-calls").unlink()
    result = _run(project, has_token=True)
    assert result.stderr.splitlines() == [
        "kefu: migrating the database (kefu db upgrade)",
        "database at revision 0004 (head)",
        "kefu: starting the bot (Ctrl-C stops it)",
    ]
    assert (project / "kefu-calls").read_text().splitlines() == [
        "db upgrade",
        "settings has-token",
        "run",
    ]
