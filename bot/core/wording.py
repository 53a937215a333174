"""Agent- and buyer-facing wording outside replies (labels, warnings, greetings), per language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.compose import fill
from bot.core.types import Language


@dataclass(frozen=True, slots=True)
class Wording:
    """Dotted keys (`console.prompt`, `category_names.quality`) -> text, for each language."""

    texts: Mapping[Language, Mapping[str, str]]
    fallback: Language = Language.ZH_HANS

    def text(self, language: Language, key: str, **variables: object) -> str:
        """The text for `key` in `language` (else the fallback), with `{name}` variables filled."""
        table = self.texts.get(language, {})
        template = table.get(key) or self.texts[self.fallback].get(key) or key
        return fill(template, {name: str(value) for name, value in variables.items()})


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings of strings into dotted keys."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        elif isinstance(value, str):
            flat[dotted] = value
    return flat
