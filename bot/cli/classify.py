"""`kefu classify` (JSON lines in, verdicts out) and `kefu eval FILE.tsv` (scores on labelled data)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import CliError, settings
from bot.core.classify import Classifier
from bot.core.metrics import Example, Report, evaluate
from bot.core.types import Category, Classification
from bot.corpus.labels import parse_flags
from bot.nlp.pipeline import build_classifier


def _classifier() -> Classifier:
    return build_classifier(settings().phrasebook_dir)


def verdict(item_id: Any, result: Classification) -> dict[str, Any]:
    """The JSON object `kefu classify` prints for one message."""
    return {
        "id": item_id,
        "category": result.category.value,
        "confidence": result.confidence,
        "flags": result.sorted_flags(),
        "needs_human": result.needs_human,
        "keywords": list(result.keywords),
        "entities": result.entities.as_dict(),
    }


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def classify_command() -> None:
    """Classify JSON lines {"id", "text"} from stdin; one JSON verdict per line, in order."""
    classifier = _classifier()
    for raw in sys.stdin:
        line = raw.strip()
        if not line:  # answered, so output line N still belongs to input line N
            _emit({"id": None, "error": "empty line"})
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            _emit({"id": None, "error": f"invalid JSON: {exc.msg} (column {exc.colno})"})
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            item_id = item.get("id") if isinstance(item, dict) else None
            _emit({"id": item_id, "error": 'expected an object with a string "text"'})
            continue
        _emit(verdict(item.get("id"), classifier.classify(item["text"])))


def read_labelled(path: Path) -> list[dict[str, str]]:
    """Rows of a TSV with `text` and `category` columns (and optional `flags`, `id`)."""
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns = reader.fieldnames or []
        missing = [name for name in ("text", "category") if name not in columns]
        if missing:
            raise CliError(f"{path}: missing column(s) {', '.join(missing)} (need text, category)")
        rows = [dict(row) for row in reader]
    known = {c.value for c in Category}
    for number, row in enumerate(rows, start=2):
        if (row.get("category") or "").strip() not in known:
            raise CliError(f"{path}:{number}: unknown category {row.get('category')!r}")
    return rows


def score(
    classifier: Classifier, items: Iterable[tuple[str, str, str, frozenset[str]]]
) -> tuple[list[Example], list[bool]]:
    """Classify labelled (id, text, category, flags) items: what was said, and needs_human."""
    examples = []
    needs_human = []
    for item_id, text, expected, expected_flags in items:
        result = classifier.classify(text)
        examples.append(
            Example(
                text=text,
                expected=expected,
                predicted=result.category.value,
                confidence=result.confidence,
                expected_flags=expected_flags,
                predicted_flags=frozenset(result.sorted_flags()),
                id=item_id,
            )
        )
        needs_human.append(result.needs_human)
    return examples, needs_human


def format_report(report: Report, *, name: str, errors: bool = True) -> str:
    """The human-readable evaluation printed by `kefu eval`; without `errors`, no confusion
    matrix and no misclassified messages (a held-out split is scored, never studied)."""
    lines = [f"{name}: {report.total} messages", ""]
    lines.append(f"{'category':<18}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for s in report.per_class:
        lines.append(
            f"{s.label:<18}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9}"
        )
    if errors:
        lines += _confusion(report)
    lines += ["", f"{'flag':<22}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for s in (*report.per_flag, report.flag_micro):
        lines.append(
            f"{s.label:<22}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9}"
        )
    if errors:
        lines += _worst(report)
    else:
        lines += ["", "(a held-out split: no confusion matrix, no misclassified messages)"]
    lines += [
        "",
        f"accuracy: {report.accuracy:.3f}",
        f"macro-F1: {report.macro_f1:.3f}",
        f"flag F1 (micro): {report.flag_micro.f1:.3f}",
    ]
    return "\n".join(lines)


def _worst(report: Report) -> list[str]:
    lines = ["", f"worst misclassified ({len(report.worst)}, most confident first)"]
    for e in report.worst:
        text = " ".join(e.text.split())
        text = text if len(text) <= 70 else text[:69] + "…"
        lines.append(
            f"  {e.id or '-':<7} {e.expected} → {e.predicted} ({e.confidence:.2f})  {text}"
        )
    return lines


def _confusion(report: Report) -> list[str]:
    short = {label: label[:6] for label in report.labels}
    lines = ["", "confusion matrix (rows: expected, columns: predicted)"]
    lines.append(" " * 18 + "".join(f"{short[label]:>7}" for label in report.labels))
    for row in report.labels:
        counts = report.confusion[row]
        lines.append(f"{row:<18}" + "".join(f"{counts[col]:>7}" for col in report.labels))
    return lines


def eval_command(
    file: Annotated[Path, typer.Argument(help="TSV with text and category (and flags) columns.")],
    worst: Annotated[int, typer.Option(help="How many misclassified examples to list.")] = 15,
) -> None:
    """Score the classifier on a labelled TSV: per-category P/R/F1, confusion, flags, worst."""
    rows = read_labelled(file)
    examples, _ = score(
        _classifier(),
        (
            (
                row.get("id") or "",
                row["text"] or "",
                row["category"].strip(),
                parse_flags(row.get("flags")),
            )
            for row in rows
        ),
    )
    report = evaluate(examples, labels=[c.value for c in Category], worst=worst)
    typer.echo(format_report(report, name=file.name))


def register(app: typer.Typer) -> None:
    """Add `classify` and `eval` to `app`."""
    app.command(name="classify")(classify_command)
    app.command(name="eval")(eval_command)
