"""The chain-head witness wording (phrasebook/witness.yaml): one template per language."""

from __future__ import annotations

import string
from pathlib import Path

from bot.phrasebook.yamlfile import PhrasebookError, load_yaml

WITNESS_FILE = "witness.yaml"
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
VARIABLES = frozenset({"hash", "seq", "records", "time", "check"})


def load_witness_templates(phrasebook_dir: Path) -> dict[str, str]:
    """Read and check the witness templates; a broken file raises PhrasebookError (file:line)."""
    document = load_yaml(phrasebook_dir / WITNESS_FILE)
    data = document.data
    if not isinstance(data, dict):
        raise PhrasebookError(document.path, 1, "expected a mapping of language to template")
    templates: dict[str, str] = {}
    for language in LANGUAGES:
        template = data.get(language)
        if not isinstance(template, str) or not template.strip():
            raise document.error([language], f"{language}: a non-empty template is required")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        except ValueError as exc:
            raise document.error([language], f"{language}: {exc}") from None
        unknown = sorted(names - VARIABLES)
        if unknown:
            allowed = ", ".join(sorted(VARIABLES))
            raise document.error(
                [language], f"{language}: unknown variable {{{unknown[0]}}} (allowed: {allowed})"
            )
        templates[language] = template
    for key in data:
        if key not in LANGUAGES:
            raise document.error([str(key)], f"unknown language {key!r}")
    return templates
