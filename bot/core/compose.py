"""Reply composition: 2-3 distinct suggestions from a classification, a phrasebook and known facts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from bot.core.types import Category, Classification, Flag, Language, Principle, Suggestion

GENERAL = "general"  # reply parts for messages the classifier is unsure of
VARIABLES = frozenset(
    {"buyer_name", "order_id", "tracking_no", "shop_name", "agent_name", "amount", "courier"}
)

_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.S)
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:，。！？；：、）)])")
_DOUBLE_SPACE = re.compile(r"[ \t]{2,}")
_EMPTY_BRACKETS = re.compile(r"[（(]\s*[）)]")


@dataclass(frozen=True, slots=True)
class ReplyBook:
    """One language's reply parts: category id (or `general`) -> principle -> variants."""

    language: Language
    parts: Mapping[str, Mapping[Principle, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class StylePlan:
    """Which principles make each suggestion style, and which styles each category offers."""

    styles: Mapping[str, tuple[Principle, ...]]
    plans: Mapping[str, tuple[str, ...]]  # category id, `general` or `default` -> style names

    def styles_for(self, key: str) -> tuple[str, ...]:
        """The style names offered for a category id (or `general`)."""
        return self.plans.get(key, self.plans["default"])


@dataclass(frozen=True, slots=True)
class Composition:
    """The suggestions for one buyer message and the warning keys to show the agent."""

    suggestions: tuple[Suggestion, ...]
    warnings: tuple[str, ...] = ()
    language: Language = Language.ZH_HANS


@dataclass(frozen=True, slots=True)
class Composer:
    """Builds suggestions in the buyer's language from reply books and a style plan."""

    books: Mapping[Language, ReplyBook]
    plan: StylePlan
    warn_flags: frozenset[Flag] = field(default_factory=lambda: frozenset(Flag))
    # Below this confidence a message the classifier flags for a human gets the general parts;
    # above it, the category's own replies (with the needs-human warning on the card).
    general_below: float = 0.4

    def compose(
        self,
        classification: Classification,
        *,
        variables: Mapping[str, str | None] | None = None,
        language: Language | None = None,
        seed: int = 0,
    ) -> Composition:
        """Suggestions for `classification`, filled from `variables`; seed picks among variants."""
        lang = language or classification.language
        book = self.books.get(lang) or self.books[Language.ZH_HANS]
        key = _parts_key(classification, self.general_below)
        known = {name: value for name, value in (variables or {}).items() if value}
        suggestions: list[Suggestion] = []
        seen: set[str] = set()
        for offset, style in enumerate(self.plan.styles_for(key)):
            text = _join(
                (
                    fill(_pick(book.parts[key][principle], seed + offset + index), known)
                    for index, principle in enumerate(self.plan.styles[style])
                ),
                lang,
            )
            if text and text not in seen:
                seen.add(text)
                suggestions.append(Suggestion(kind=style, text=text))
        return Composition(
            suggestions=tuple(suggestions),
            warnings=_warnings(classification, self.warn_flags),
            language=lang,
        )


def _parts_key(classification: Classification, general_below: float) -> str:
    if classification.category is Category.EXTORTION:
        return Category.EXTORTION.value
    unsure = classification.needs_human and classification.confidence < general_below
    return GENERAL if unsure else classification.category.value


def _warnings(classification: Classification, warn_flags: frozenset[Flag]) -> tuple[str, ...]:
    keys: list[str] = []
    if classification.category is Category.EXTORTION:
        keys.append("extortion")
    if classification.needs_human:
        keys.append("needs_human")
    keys.extend(flag.value for flag in sorted(classification.flags) if flag in warn_flags)
    return tuple(keys)


def _pick(variants: tuple[str, ...], seed: int) -> str:
    return variants[seed % len(variants)] if variants else ""


def _join(parts: Iterable[str], language: Language) -> str:
    pieces = [part.strip() for part in parts if part.strip()]
    return (" " if language is Language.EN else "").join(pieces)


def fill(template: str, variables: Mapping[str, str]) -> str:
    """Fill `{name}` variables; `[[...]]` segments with a missing variable are dropped whole."""
    if not any(variables.get(name) for name in _names(template)):
        return _filled_empty(template)  # most replies name nothing the message gave
    return _fill(template, variables)


@lru_cache(maxsize=4096)
def _names(template: str) -> tuple[str, ...]:
    return tuple(_VARIABLE.findall(template))


@lru_cache(maxsize=4096)
def _filled_empty(template: str) -> str:
    return _fill(template, {})


def _fill(template: str, variables: Mapping[str, str]) -> str:
    def optional(match: re.Match[str]) -> str:
        inner = match.group(1)
        names = _VARIABLE.findall(inner)
        return inner if all(variables.get(name) for name in names) else ""

    text = _OPTIONAL.sub(optional, template)
    text = _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _DOUBLE_SPACE.sub(" ", text).strip()


def variables_in(template: str) -> list[str]:
    """The `{name}` variables a template uses, in order of appearance."""
    return _VARIABLE.findall(template)


def template_problems(template: str) -> list[str]:
    """What is wrong with a reply template: unknown variables, stray braces, unclosed `[[`."""
    problems = [
        f"unknown variable {{{name}}}"
        for name in _VARIABLE.findall(template)
        if name not in VARIABLES
    ]
    stripped = _VARIABLE.sub("", template)
    if "{" in stripped or "}" in stripped:
        problems.append("a brace that is not part of a {variable}")
    if template.count("[[") != template.count("]]") or _OPTIONAL.sub("", template).count("[[") > 0:
        problems.append("an optional segment [[...]] is not closed")
    return problems
