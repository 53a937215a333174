"""`kefu train`, `kefu corpus …` and `kefu phrasebook check` as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.cli.train import weights_version
from bot.training.dataset import Example
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


def test_the_weights_version_names_the_data_the_rules_the_fitting_and_the_seed(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-zh.yaml").write_text("categories:\n  quality:\n    坏了: 1\n", encoding="utf-8")
    data = [Example("c1", "坏了", "quality", frozenset(), "zh", "g1", "train", "corpus")]
    first = weights_version("zh", data, rules, 1)
    assert weights_version("zh", data, rules, 1) == first  # deterministic
    assert weights_version("zh", data, rules, 2) != first
    assert weights_version("zh", [*data, *data], rules, 1) != first
    fitted = weights_version("zh", data, rules, 1, fitting="TrainConfig(min_source_rows=300)")
    assert fitted != first  # fitted another way (e.g. another needs-human rule): another version
    assert fitted != weights_version("zh", data, rules, 1, fitting="TrainConfig(min_source_rows=1)")
    (rules / "10-zh.yaml").write_text("categories:\n  quality:\n    坏了: 2\n", encoding="utf-8")
    assert weights_version("zh", data, rules, 1) != first  # a rule changed: not the same weights


def test_a_test_split_lists_no_errors_unless_asked(tmp_path: Path) -> None:
    # Refused before any text is read: a held-out split's errors must not guide changes.
    for split in ("test", "test2"):
        done = kefu(
            ["corpus", "eval", "--split", split, "--worst", "5", "--mirrors", str(tmp_path)],
            tmp_path=tmp_path,
        )
        assert (done.returncode, "--show-errors" in done.stderr) == (2, True), done.stderr
    train = kefu(
        ["corpus", "eval", "--split", "train", "--worst", "5", "--mirrors", str(tmp_path)],
        tmp_path=tmp_path,
    )
    assert (train.returncode, "no mirror of " in train.stderr) == (2, True), train.stderr


def test_a_weights_file_names_the_library_versions_it_was_fitted_with() -> None:
    from importlib.metadata import version

    from bot.cli.train import _weights_header
    from bot.core.learned import LearnedWeights, LinearModel
    from bot.training.fit import CvResult, Trained

    model = LinearModel(("quality",), (0.0,), {"w:坏": ((0, 1.0),)})
    trained = Trained(
        weights=LearnedWeights(language="zh", categories=model),
        chosen=CvResult(c=1.0, balanced=False, accuracy=0.5, macro_f1=0.5),
    )
    fitted = [line for line in _weights_header("zh", 1, trained) if line.startswith("Fitted")]
    assert fitted == [
        f"Fitted with scikit-learn {version('scikit-learn')}, numpy {version('numpy')},"
        f" scipy {version('scipy')} (other versions fit other numbers)."
    ]


def test_show_errors_lifts_the_refusal_and_an_unknown_split_is_named(tmp_path: Path) -> None:
    mirrors = ["--mirrors", str(tmp_path)]
    shown = kefu(
        ["corpus", "eval", "--split", "test", "--worst", "5", "--show-errors", *mirrors],
        tmp_path=tmp_path,
    )
    unknown = kefu(["corpus", "eval", "--split", "TEST", *mirrors], tmp_path=tmp_path)
    assert (shown.returncode, "no mirror of " in shown.stderr) == (2, True), shown.stderr
    assert (unknown.returncode, "--split must be one of" in unknown.stderr) == (2, True)
