"""Terminal presentation of an analysis (plain text lines; colour is added by the caller)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.types import Language
from bot.understanding import Analysis, ReplyProblem, Understanding


def analysis_lines(analysis: Analysis, *, understanding: Understanding, ui: Language) -> list[str]:
    """The agent's view of a buyer message as labelled lines, in the agent's language `ui`."""
    words = understanding.phrasebook.wording
    c = analysis.classification

    def label(key: str) -> str:
        return words.text(ui, f"console.{key}")

    lines = [
        f"{label('category')}: {words.text(ui, f'category_names.{c.category.value}')}"
        f" ({c.category.value})  {label('confidence')}: {c.confidence:.2f}",
    ]
    if c.flags:
        names = ", ".join(words.text(ui, f"flag_names.{f}") for f in c.sorted_flags())
        lines.append(f"{label('flags')}: {names}")
    if c.keywords:
        lines.append(f"{label('keywords')}: {', '.join(c.keywords)}")
    for name, values in c.entities.as_dict().items():
        lines.append(
            f"{label('entities')}: {words.text(ui, f'entity_names.{name}')} {', '.join(values)}"
        )
    for key in analysis.composition.warnings:
        lines.append(f"{label('warnings')}: {words.text(ui, f'warnings.{key}')}")
    lines.append(f"{label('suggestions')}:")
    for number, suggestion in enumerate(analysis.composition.suggestions, start=1):
        kind = words.text(ui, f"suggestion_kinds.{suggestion.kind}")
        lines.append(f"  [{number}] ({kind}) {suggestion.text}")
    lines.append(f"{label('playbook')}:")
    for section in ("before_dispute", "after_dispute", "evidence"):
        lines.append(f"  {words.text(ui, f'playbook_sections.{section}')}:")
        lines.extend(f"    - {item}" for item in getattr(analysis.playbook, section))
    return lines


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    """The analysis as a JSON-ready mapping (for `kefu suggest --json`)."""
    c = analysis.classification
    return {
        "text": analysis.text,
        "category": c.category.value,
        "confidence": round(c.confidence, 4),
        "flags": c.sorted_flags(),
        "needs_human": c.needs_human,
        "keywords": list(c.keywords),
        "entities": c.entities.as_dict(),
        "language": analysis.composition.language.value,
        "warnings": list(analysis.composition.warnings),
        "suggestions": [{"kind": s.kind, "text": s.text} for s in analysis.composition.suggestions],
        "playbook": {
            "before_dispute": list(analysis.playbook.before_dispute),
            "after_dispute": list(analysis.playbook.after_dispute),
            "evidence": list(analysis.playbook.evidence),
        },
    }


def problem_lines(problems: list[ReplyProblem]) -> list[str]:
    """One line per reply-check finding: rule id and reason."""
    return [f"  - [{p.finding.rule}] {p.reason}" for p in problems]


def dumps(payload: object) -> str:
    """Compact JSON with Chinese kept readable."""
    return json.dumps(payload, ensure_ascii=False)
