"""Run `kefu` in-process as a user would from a folder of their own: fresh environment, own cwd."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@dataclass(frozen=True)
class Outcome:
    """What a `kefu` command left: exit code, stdout and stderr."""

    code: int
    stdout: str
    stderr: str


Kefu = Callable[..., Outcome]


@pytest.fixture
def kefu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Kefu:
    """`kefu(*args, env={...}, stdin="")` run in `tmp_path` with only the KEFU_* settings given."""
    for name in list(os.environ):
        if name.startswith("KEFU_") and name != "KEFU_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Outcome:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            capsys.readouterr()
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            captured = capsys.readouterr()
        return Outcome(code=code, stdout=captured.out, stderr=captured.err)

    return run


@pytest.fixture
def free_port() -> int:
    """A local TCP port nothing listens on (bound once, then closed)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
