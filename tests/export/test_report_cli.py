"""Defect 13.16: `kefu report` writes its chart under the data folder (or --output), never into
whatever folder it happens to be run from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.export.conftest import Shop

PNG = b"\x89PNG\r\n\x1a\n"


def _kefu_report(shop: Shop, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for name in list(env):
        if name.startswith("KEFU_"):
            env.pop(name)
    env["KEFU_DATABASE_URL"] = str(shop.settings.database_url)
    env["KEFU_DATA_DIR"] = str(shop.settings.data_dir)
    env["XDG_CACHE_HOME"] = str(cwd.parent / "cache")
    env["MPLCONFIGDIR"] = str(cwd.parent / "mpl")
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", "--range", "all", "--language", "en", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        check=False,
    )


def test_defect_13_16_report_chart_goes_to_the_data_exports_folder(
    shop: Shop, tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    done = _kefu_report(shop, cwd)
    assert done.returncode == 0, done.stderr
    assert list(cwd.iterdir()) == []
    charts = list((shop.settings.data_dir / "exports").glob("kefu-report-*.png"))
    assert len(charts) == 1
    assert charts[0].read_bytes()[:8] == PNG
    assert done.stderr.strip().endswith(f"chart: {charts[0]}")
    assert "Team report" in done.stdout


def test_defect_13_16_report_output_option_names_the_file(shop: Shop, tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    target = tmp_path / "charts" / "week.png"
    done = _kefu_report(shop, cwd, "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == PNG
    assert list(cwd.iterdir()) == []
    assert not (shop.settings.data_dir / "exports").exists()


def test_issue_15_report_writes_the_accuracy_chart_beside_the_report(
    shop: Shop, tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    target = tmp_path / "charts" / "week.png"
    done = _kefu_report(shop, cwd, "--output", str(target))
    assert done.returncode == 0, done.stderr
    accuracy = tmp_path / "charts" / "week-accuracy.png"
    assert accuracy.read_bytes()[:8] == PNG
    assert f"accuracy chart: {accuracy}" in done.stderr
    assert "Category accuracy as the agents judged it, last 30 days" in done.stdout


def test_issue_15_training_export_refuses_other_filters_in_one_line(
    shop: Shop, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env["KEFU_DATABASE_URL"] = str(shop.settings.database_url)
    env["KEFU_DATA_DIR"] = str(shop.settings.data_dir)
    out = tmp_path / "labels.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "export",
            "--format",
            "training",
            "--case",
            "1",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode != 0
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "--format training takes --range, --since, --until, --category and --flag only, not --case"
        )
    )
    assert not out.exists()
