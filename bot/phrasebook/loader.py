"""Load and validate the phrasebook's reply, playbook, wording, style and check files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.core.checks import CheckRules
from bot.core.compose import (
    GENERAL,
    Composer,
    ReplyBook,
    StylePlan,
    template_problems,
    variables_in,
)
from bot.core.types import Category, Flag, Language, Playbook, Principle
from bot.core.wording import Wording
from bot.phrasebook.checks_file import load_check_rules
from bot.phrasebook.files import (
    LANGUAGES,
    check_language,
    language_file,
    parse_file,
    require_file,
)
from bot.phrasebook.ui_texts import load_wording
from bot.phrasebook.yamlfile import PhrasebookError, YamlDocument

REPLY_KEYS = (*(c.value for c in Category), GENERAL)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyFile(_Strict):
    """Schema of replies/<language>.yaml."""

    language: Language
    categories: dict[str, dict[Principle, list[str]]]

    @model_validator(mode="after")
    def _complete(self) -> ReplyFile:
        for key in REPLY_KEYS:
            if key not in self.categories:
                raise ValueError(f"category {key!r} is missing")
        for key, parts in self.categories.items():
            if key not in REPLY_KEYS:
                raise ValueError(f"unknown category {key!r}")
            for principle in Principle:
                if not parts.get(principle):
                    raise ValueError(f"{key}: principle {principle.value!r} has no text")
        return self


class PlaybookEntry(_Strict):
    """One category's checklist."""

    before_dispute: list[str] = Field(min_length=1)
    after_dispute: list[str] = Field(min_length=1)
    evidence: list[str] = Field(min_length=1)


class PlaybookFile(_Strict):
    """Schema of playbooks/<language>.yaml."""

    language: Language
    categories: dict[Category, PlaybookEntry]

    @field_validator("categories")
    @classmethod
    def _all_categories(cls, value: dict[Category, PlaybookEntry]) -> dict[Category, PlaybookEntry]:
        missing = [c.value for c in Category if c not in value]
        if missing:
            raise ValueError(f"categories missing: {', '.join(missing)}")
        return value


class ComposeFile(_Strict):
    """Schema of compose.yaml."""

    styles: dict[str, list[Principle]]
    plans: dict[str, list[str]]
    warn_flags: list[Flag] = []
    follow_up_hours: dict[str, float] = {"default": 24.0}
    general_below: float = Field(default=0.4, ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> ComposeFile:
        if "default" not in self.follow_up_hours:
            raise ValueError("follow_up_hours: a `default` is required")
        unknown = [k for k in self.follow_up_hours if k not in (*REPLY_KEYS, "default")]
        if unknown or any(h <= 0 for h in self.follow_up_hours.values()):
            raise ValueError(
                f"follow_up_hours: unknown categories {unknown} or a non-positive time"
            )
        if "default" not in self.plans:
            raise ValueError("plans: a `default` plan is required")
        for key, styles in self.plans.items():
            if key not in (*REPLY_KEYS, "default"):
                raise ValueError(f"plans: unknown category {key!r}")
            unknown = [s for s in styles if s not in self.styles]
            if unknown or not styles:
                raise ValueError(f"plans.{key}: unknown or no styles {unknown}")
        if any("compensate" in self.styles.get(s, []) for s in self.plans.get("extortion", [])):
            raise ValueError("plans.extortion: extortion must never be offered compensation")
        return self


@dataclass(frozen=True)
class Phrasebook:
    """Everything the phrasebook says, validated and turned into core objects."""

    directory: Path
    composer: Composer
    check_rules: CheckRules
    playbooks: dict[Language, dict[Category, Playbook]]
    wording: Wording
    replies: dict[Language, ReplyBook]
    follow_up_hours: dict[str, float]

    def playbook(self, category: Category, language: Language) -> Playbook:
        """The checklist for `category` in `language`."""
        return self.playbooks[language][category]


def _load_replies(directory: Path) -> dict[Language, ReplyBook]:
    books: dict[Language, ReplyBook] = {}
    for language in LANGUAGES:
        document, parsed = parse_file(language_file(directory, "replies", language), ReplyFile)
        check_language(document, parsed.language, language)
        for key, parts in parsed.categories.items():
            for principle, variants in parts.items():
                for index, template in enumerate(variants):
                    location = ("categories", key, principle.value, index)
                    if not isinstance(template, str) or not template.strip():
                        raise document.error(location, "empty reply text")
                    problems = template_problems(template)
                    if problems:
                        raise document.error(location, problems[0])
        books[language] = ReplyBook(
            language=language,
            parts={
                key: {principle: tuple(v) for principle, v in parts.items()}
                for key, parts in parsed.categories.items()
            },
        )
    return books


def _load_playbooks(directory: Path) -> dict[Language, dict[Category, Playbook]]:
    playbooks: dict[Language, dict[Category, Playbook]] = {}
    for language in LANGUAGES:
        document, parsed = parse_file(language_file(directory, "playbooks", language), PlaybookFile)
        check_language(document, parsed.language, language)
        for category, entry in parsed.categories.items():
            for section in ("before_dispute", "after_dispute", "evidence"):
                for index, text in enumerate(getattr(entry, section)):
                    location = ("categories", category.value, section, index)
                    _check_no_variables(document, location, text)
        playbooks[language] = {
            category: Playbook(
                before_dispute=tuple(entry.before_dispute),
                after_dispute=tuple(entry.after_dispute),
                evidence=tuple(entry.evidence),
            )
            for category, entry in parsed.categories.items()
        }
    return playbooks


def _check_no_variables(document: YamlDocument, location: tuple[str | int, ...], text: str) -> None:
    """Playbook texts are shown as written: a `{name}` in them would never be filled."""
    for name in variables_in(text):
        raise document.error(location, f"unknown variable {{{name}}} (playbooks take no variables)")


def _load_plan(directory: Path) -> tuple[StylePlan, ComposeFile]:
    _, parsed = parse_file(require_file(directory, "compose.yaml"), ComposeFile)
    plan = StylePlan(
        styles={name: tuple(principles) for name, principles in parsed.styles.items()},
        plans={key: tuple(styles) for key, styles in parsed.plans.items()},
    )
    return plan, parsed


def load_phrasebook(directory: Path) -> Phrasebook:
    """Load every phrasebook file under `directory`; the first problem raises PhrasebookError."""
    if not directory.is_dir():
        raise PhrasebookError(directory, None, "phrasebook directory does not exist")
    replies = _load_replies(directory)
    plan, compose = _load_plan(directory)
    return Phrasebook(
        directory=directory,
        composer=Composer(
            books=replies,
            plan=plan,
            warn_flags=frozenset(compose.warn_flags),
            general_below=compose.general_below,
        ),
        follow_up_hours=dict(compose.follow_up_hours),
        check_rules=load_check_rules(directory),
        playbooks=_load_playbooks(directory),
        wording=load_wording(directory),
        replies=replies,
    )


Coverage = dict[tuple[str, Language, str], int]


def coverage(phrasebook: Phrasebook) -> Coverage:
    """Number of reply variants for every (category, language, principle)."""
    return {
        (key, language, principle.value): len(book.parts.get(key, {}).get(principle, ()))
        for language, book in phrasebook.replies.items()
        for key in REPLY_KEYS
        for principle in Principle
    }


__all__ = ["Coverage", "Phrasebook", "PhrasebookError", "coverage", "load_phrasebook"]
