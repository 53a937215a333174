"""`kefu train`, `kefu corpus …` and `kefu phrasebook check` as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.test_classify_cli import REPO, kefu


def test_phrasebook_check_reports_the_learned_weights(tmp_path: Path) -> None:
    done = kefu(["phrasebook", "check"], tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "learned weights zh:" in done.stdout
    assert "learned weights en:" in done.stdout


def test_a_broken_weights_file_stops_the_check_with_file_and_line(tmp_path: Path) -> None:
    copy = tmp_path / "phrasebook"
    subprocess.run(["cp", "-r", str(REPO / "phrasebook"), str(copy)], check=True)
    weights = copy / "weights" / "en.tsv"
    weights.write_text(weights.read_text(encoding="utf-8") + "w:oops\tquality=x\n", "utf-8")
    lines = weights.read_text(encoding="utf-8").count("\n")
    done = subprocess.run(
        [*kefu_command(), "phrasebook", "check"],
        capture_output=True,
        text=True,
        env=env_with(phrasebook=copy, tmp_path=tmp_path),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode != 0
    assert f"en.tsv:{lines}: 'x' is not a number" in done.stderr


def test_corpus_agreement_needs_no_texts(tmp_path: Path) -> None:
    done = kefu(["corpus", "agreement", "--corpus", str(REPO / "corpus")], tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "zh: " in done.stdout
    assert "Cohen's κ" in done.stdout


def test_train_without_mirrors_says_what_it_needs(tmp_path: Path) -> None:
    done = kefu(["train", "--data", str(tmp_path)], tmp_path=tmp_path)
    assert done.returncode == 2
    assert "--mirrors" in done.stderr
    assert "Traceback" not in done.stderr


def test_train_with_an_empty_mirrors_folder_names_the_missing_repository(tmp_path: Path) -> None:
    done = kefu(["train", "--mirrors", str(tmp_path), "--data", str(tmp_path)], tmp_path=tmp_path)
    assert done.returncode == 2
    assert "no mirror of " in done.stderr
    assert str(tmp_path) in done.stderr


def kefu_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "bot"]


def env_with(*, phrasebook: Path, tmp_path: Path) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "PYTHONIOENCODING": "utf-8",
        "KEFU_PHRASEBOOK_DIR": str(phrasebook),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
