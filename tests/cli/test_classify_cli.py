"""`kefu classify` and `kefu eval` run as the user runs them: a subprocess on stdin/stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def kefu(
    args: list[str], stdin: str = "", tmp_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("KEFU_PHRASEBOOK_DIR", None)
    if tmp_path is not None:
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path or REPO,
        env=env,
        timeout=60,
        check=False,
    )


def test_classify_streams_one_line_per_input_in_order(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "text": "快递三天了还没收到"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "b", "text": "收到是碎的，我要退货"}, ensure_ascii=False),
        json.dumps({"id": 3}),
        json.dumps({"id": 4, "text": "Where is my order? #112-7734019-5528216"}),
    ]
    result = kefu(["classify"], "\n".join(lines) + "\n", tmp_path)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert [(o["id"], o.get("category"), "error" in o) for o in out] == [
        (1, "not_received", False),
        (None, None, True),
        ("b", "damaged_missing", False),
        (3, None, True),
        (4, "not_received", False),
    ]
    assert set(out[0]) == {
        "id",
        "category",
        "confidence",
        "flags",
        "needs_human",
        "keywords",
        "entities",
    }
    assert "收到" in result.stdout  # ensure_ascii=False


def test_classify_answers_each_line_before_the_next_arrives(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "classify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        proc.stdin.write(json.dumps({"id": 7, "text": "发票抬头开错了"}, ensure_ascii=False) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # would block forever without a flush
        assert (first["id"], first["category"]) == (7, "invoice")
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_eval_prints_scores_for_a_small_file(tmp_path: Path) -> None:
    data = tmp_path / "small.tsv"
    data.write_text(
        "id\ttext\tcategory\tflags\n"
        "t1\t我的快递到哪了\tnot_received\t-\n"
        "t2\t什么时候发货啊\tshipping_delay\turgent\n"
        "t3\t能开发票吗\tinvoice\t-\n"
        "t4\t衣服发错颜色了！！！\twrong_item\tangry\n",
        encoding="utf-8",
    )
    result = kefu(["eval", str(data)], tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    for expected in ("precision", "confusion matrix", "accuracy: ", "macro-F1: ", "flag F1"):
        assert expected in result.stdout
    assert "accuracy: 1.000" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("id\ttext\n1\thello\n", "missing column(s) category")],
)
def test_eval_errors_are_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "data.tsv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = kefu(["eval", str(path)], tmp_path=tmp_path)
    assert (result.returncode, message in result.stderr, len(result.stderr.splitlines())) == (
        2,
        True,
        1,
    )


def test_a_held_out_report_shows_scores_but_no_errors() -> None:
    from bot.cli.classify import format_report
    from bot.core.metrics import Example, evaluate

    scored = [
        Example("还没收到", "not_received", "not_received", 0.9, id="a"),
        Example("碎了", "damaged_missing", "quality", 0.8, id="b"),
    ]
    report = evaluate(scored, labels=["not_received", "damaged_missing", "quality"], worst=5)
    studied, held_out = (
        format_report(report, name="x"),
        format_report(report, name="x", errors=False),
    )
    shown = [
        ("rows: expected" in out, "碎了" in out, "macro-F1" in out, "quality" in out)
        for out in (studied, held_out)
    ]
    assert shown == [(True, True, True, True), (False, False, True, True)]
