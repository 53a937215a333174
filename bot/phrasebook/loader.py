"""Load and validate the phrasebook's reply, playbook, wording, style and check files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.blame import StructureWords, normalise, tokens_of
from bot.core.cases import CaseState, Party, RefusalReason
from bot.core.checks import RULES, CheckRules
from bot.core.compose import (
    GENERAL,
    Composer,
    ReplyBook,
    StylePlan,
    template_problems,
    variables_in,
)
from bot.core.types import Category, Flag, Language, Playbook, Principle
from bot.core.ui_variables import ui_variables
from bot.core.wording import Wording, flatten
from bot.phrasebook.yamlfile import PhrasebookError, YamlDocument, load_yaml, validation_error

LANGUAGES = tuple(Language)
REPLY_KEYS = (*(c.value for c in Category), GENERAL)

# Every ui/<language>.yaml must define these keys (dotted), in all three languages.
REQUIRED_UI: dict[str, tuple[str, ...]] = {
    "category_names": tuple(c.value for c in Category),
    "flag_names": tuple(f.value for f in Flag),
    "principle_names": tuple(p.value for p in Principle),
    "suggestion_kinds": ("quick", "full", "compensate"),
    "entity_names": ("order_ids", "tracking_numbers", "amounts", "phones"),
    "playbook_sections": ("before_dispute", "after_dispute", "evidence"),
    "warnings": ("extortion", "needs_human", *(f.value for f in Flag)),
    "checks": RULES,
    "greeting": ("start", "help"),
    "console": (
        "banner",
        "prompt",
        "agent_prompt",
        "category",
        "confidence",
        "flags",
        "keywords",
        "entities",
        "suggestions",
        "playbook",
        "warnings",
        "picked",
        "check_ok",
        "check_problems",
        "bye",
        "help",
        "unknown_command",
        "no_such_suggestion",
        "confirm",
        "cancelled",
        "practice",
        "recording",
        "logged",
    ),
    "bot": (
        "staff_help",
        "card_gone",
        "escalated",
        "edit_prompt",
        "available_on",
        "available_off",
        "usage_grant",
        "granted",
        "revoked",
        "error",
        "error_buyer",
    ),
    "card": (
        "buyer",
        "order",
        "history",
        "message",
        "send_n",
        "edit",
        "skip",
        "escalate",
        "send_anyway",
        "cancel",
        "not_allowed",
        "sent_by",
        "skipped_by",
        "escalated_by",
        "history_line",
        "blocked",
        "no_reply",
        "no_reply_by",
    ),
    "sla": ("auto_acked", "agent_warning", "target_missed", "digest_title", "digest_line"),
    "followup": ("scheduled", "due", "later", "cancel", "moved", "cancelled"),
    "copilot": ("header", "forwarded_from", "add_to_case", "logged", "used_n", "used_logged"),
    "platforms": ("taobao", "kuaishou", "amazon", "other", "telegram"),
    "commands": (
        "start",
        "help",
        "available",
        "away",
        "grant",
        "revoke",
        "erase",
        "case",
        "export",
        "stats",
    ),
    "case": (
        "title",
        "buyer",
        "platform",
        "order",
        "category",
        "status",
        "responsibility",
        "timeline",
        "evidence",
        "none",
        "separator",
        *(f"state.{s}" for s in CaseState),
        *(f"party.{p}" for p in Party),
        "button_to",
        "button_party",
        "changed",
        "changed_party",
        "refused",
        *(f"refused_reason.{r}" for r in RefusalReason),
        "not_found",
        "usage",
        "list_title",
        "list_line",
        "list_empty",
        "bundle_unavailable",
        "appeal_title",
        "event_in",
        "event_out",
        "event_attachment",
        "event_attachment_failed",
        "event_status",
        "event_status_party",
        "event_refused",
        "event_appeal",
        "event_other",
    ),
    "appeal": (
        "title",
        "platform",
        "order",
        "tracking",
        "category",
        "responsibility",
        "responsibility_pending",
        "timeline",
        "first_contact",
        "shop_first_reply",
        "shop_last_reply",
        "status_change",
        "status_change_party",
        "buyer_words",
        "quote",
        "evidence",
        "evidence_chat",
        "evidence_files",
        "evidence_chain",
        "more",
        "request",
        "request_extortion",
    ),
    "roles": ("buyer", "agent", "supervisor", "admin"),
}

Model = TypeVar("Model", bound=BaseModel)


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


WordList = list[str]


class StructureFile(_Strict):
    """Schema of checks.yaml's `structure`: the word lists of blame and refusal by structure."""

    window: int = Field(ge=1, le=8)
    clause_breaks: WordList = Field(min_length=1)
    harmless: WordList = Field(min_length=1)
    inquiry: WordList = Field(min_length=1)
    hypothetical: WordList = Field(min_length=1)
    negators: WordList = Field(min_length=1)
    shop_pronouns: WordList = Field(min_length=1)
    buyer_pronouns: WordList = Field(min_length=1)
    buyer_as_object: WordList = Field(min_length=1)
    responsibility: WordList = Field(min_length=1)
    relation: WordList = Field(min_length=1)
    fault_words: WordList = Field(min_length=1)
    copulas: WordList = Field(min_length=1)
    locators: WordList = Field(min_length=1)
    blame_verbs: WordList = Field(min_length=1)
    careless_acts: WordList = Field(min_length=1)


class ChecksFile(_Strict):
    """Schema of checks.yaml."""

    flat_refusal: list[str]
    blames_buyer: list[str]
    structure: StructureFile
    apology_words: list[str]
    remedy_words: list[str]
    banned_superlatives: list[str]
    superlative_exceptions: list[str] = []
    off_platform: list[str]
    cash_for_review: list[str]
    apology_expected: list[Category]
    remedy_expected: list[Category]
    max_length: int = Field(default=4096, gt=0, le=4096)


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


def _parse(path: Path, model: type[Model]) -> tuple[YamlDocument, Model]:
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise PhrasebookError(path, 1, "expected a mapping at the top of the file")
    try:
        return document, model.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error(document, exc) from None


def _require(directory: Path, relative: str) -> Path:
    path = directory / relative
    if not path.is_file():
        raise PhrasebookError(path, None, "file is missing")
    return path


def _language_file(directory: Path, folder: str, language: Language) -> Path:
    return _require(directory, f"{folder}/{language.value}.yaml")


def _check_language(document: YamlDocument, declared: Language, expected: Language) -> None:
    if declared is not expected:
        raise document.error(
            ("language",), f"says {declared.value!r} but the file is for {expected.value!r}"
        )


def _load_replies(directory: Path) -> dict[Language, ReplyBook]:
    books: dict[Language, ReplyBook] = {}
    for language in LANGUAGES:
        document, parsed = _parse(_language_file(directory, "replies", language), ReplyFile)
        _check_language(document, parsed.language, language)
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
        document, parsed = _parse(_language_file(directory, "playbooks", language), PlaybookFile)
        _check_language(document, parsed.language, language)
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


def _load_wording(directory: Path) -> Wording:
    texts: dict[Language, dict[str, str]] = {}
    for language in LANGUAGES:
        document = load_yaml(_language_file(directory, "ui", language))
        data: Any = document.data
        if not isinstance(data, dict):
            raise document.error((), "expected a mapping at the top of the file")
        if data.get("language") != language.value:
            raise document.error(("language",), f"must be {language.value!r}")
        flat = flatten({k: v for k, v in data.items() if k != "language"})
        for location, value in _walk(data):
            if not isinstance(value, str | dict):
                raise document.error(location, "expected text or a mapping of texts")
            if isinstance(value, str):
                _check_ui_variables(document, location, value)
        for section, names in REQUIRED_UI.items():
            for key in names:
                if not flat.get(f"{section}.{key}", "").strip():
                    raise document.error((section,), f"{section}.{key} is missing or empty")
        texts[language] = flat
    return Wording(texts=texts)


def _check_ui_variables(document: YamlDocument, location: tuple[str, ...], text: str) -> None:
    """A UI text may use only the variables the code fills into its key."""
    key = ".".join(location)
    allowed = ui_variables(key)
    for name in variables_in(text):
        if name not in allowed:
            receives = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "no variables"
            raise document.error(
                location, f"{key}: unknown variable {{{name}}} (this text receives {receives})"
            )


def _check_no_variables(document: YamlDocument, location: tuple[str | int, ...], text: str) -> None:
    """Playbook texts are shown as written: a `{name}` in them would never be filled."""
    for name in variables_in(text):
        raise document.error(location, f"unknown variable {{{name}}} (playbooks take no variables)")


def _walk(
    tree: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        location = (*prefix, str(key))
        yield location, value
        if isinstance(value, dict):
            yield from _walk(value, location)


def _load_plan(directory: Path) -> tuple[StylePlan, ComposeFile]:
    _, parsed = _parse(_require(directory, "compose.yaml"), ComposeFile)
    plan = StylePlan(
        styles={name: tuple(principles) for name, principles in parsed.styles.items()},
        plans={key: tuple(styles) for key, styles in parsed.plans.items()},
    )
    return plan, parsed


def _check_token_lists(document: YamlDocument, parsed: ChecksFile) -> None:
    """Every word matched as tokens must be made of words or Chinese characters only."""
    lists: dict[tuple[str, ...], list[str]] = {("blames_buyer",): parsed.blames_buyer}
    for name in StructureFile.model_fields:
        value = getattr(parsed.structure, name)
        if isinstance(value, list):
            lists[("structure", name)] = value
    for location, words in lists.items():
        for index, word in enumerate(words):
            if "".join(tokens_of(word)) != "".join(normalise(word).split()):
                raise document.error(
                    (*location, index),
                    f"{'.'.join(location)}: {word!r} must be words or Chinese characters only"
                    " (no punctuation: clauses are cut there, so it could never match)",
                )


def load_check_rules(directory: Path) -> CheckRules:
    """The reply-check word lists from `directory/checks.yaml`."""
    document, parsed = _parse(_require(directory, "checks.yaml"), ChecksFile)
    _check_token_lists(document, parsed)

    def folded(words: list[str]) -> tuple[str, ...]:
        return tuple(word.casefold() for word in words if word.strip())

    words = parsed.structure

    return CheckRules(
        flat_refusal=folded(parsed.flat_refusal),
        blames_buyer=folded(parsed.blames_buyer),
        apology_words=folded(parsed.apology_words),
        remedy_words=folded(parsed.remedy_words),
        banned_superlatives=folded(parsed.banned_superlatives),
        superlative_exceptions=folded(parsed.superlative_exceptions),
        off_platform=folded(parsed.off_platform),
        cash_for_review=folded(parsed.cash_for_review),
        apology_expected=frozenset(parsed.apology_expected),
        remedy_expected=frozenset(parsed.remedy_expected),
        structure=StructureWords(
            window=words.window,
            clause_breaks=folded(words.clause_breaks),
            harmless=folded(words.harmless),
            inquiry=folded(words.inquiry),
            hypothetical=folded(words.hypothetical),
            negators=folded(words.negators),
            shop_pronouns=folded(words.shop_pronouns),
            buyer_pronouns=folded(words.buyer_pronouns),
            buyer_as_object=folded(words.buyer_as_object),
            responsibility=folded(words.responsibility),
            relation=folded(words.relation),
            fault_words=folded(words.fault_words),
            copulas=folded(words.copulas),
            locators=folded(words.locators),
            blame_verbs=folded(words.blame_verbs),
            careless_acts=folded(words.careless_acts),
        ),
        max_length=parsed.max_length,
    )


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
        wording=_load_wording(directory),
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
