"""Loading and validation of the classifier's keyword rules, `phrasebook/rules/*.yaml`.

Every file is a mapping with any of these sections (see phrasebook/README.md for the schema):
`categories` (category id → {phrase: weight}), `flags` (flag id → {phrase: weight}),
`negation` (list), `neutral` (list), `quiet_words` (list), `extortion` (role → list),
`signals` and `settings` (each in one file only). A broken file raises PhrasebookError
`file:line: reason`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from bot.core.keyword_rules import (
    EXTORTION_ROLES,
    ExtortionRole,
    PhraseRule,
    PunctuationSignal,
    Rules,
)
from bot.core.normalize import DialectFolding, fold_width
from bot.core.types import Category, Flag
from bot.phrasebook.rules_schema import (
    WORD_LISTS,
    DialectModel,
    RulesFileModel,
    SettingsModel,
    SignalsModel,
    parse_rules_file,
)
from bot.phrasebook.yamlfile import PhrasebookError, YamlDocument, load_yaml

K = TypeVar("K", Category, Flag)


def canonical_phrase(raw: str) -> tuple[str, bool]:
    """The phrase as the matcher sees it (width-folded, lower-case) and whether it ends in `*`."""
    phrase = " ".join(fold_width(raw).lower().split())
    prefix = phrase.endswith("*")
    return phrase.rstrip("*").rstrip(), prefix


class _Builder:
    """Merges rule files into one phrase table, remembering where each entry came from."""

    def __init__(self) -> None:
        self.categories: dict[str, dict[Category, float]] = {}
        self.flags: dict[str, dict[Flag, float]] = {}
        self.negation: set[str] = set()
        self.negates_any: set[str] = set()
        self.hypothetical: set[str] = set()
        self.neutral: set[str] = set()
        self.quiet_words: set[str] = set()
        self.extortion: dict[str, set[str]] = {}
        self.objects: dict[str, tuple[Category, frozenset[Category]]] = {}
        self.prefix: set[str] = set()
        self.overrides: dict[str, dict[Category, float]] = {}
        self.origin: dict[tuple[str, str], str] = {}
        self.signals: SignalsModel | None = None
        self.settings: SettingsModel | None = None
        self.dialect: DialectModel | None = None
        self.sections_from: dict[str, str] = {}
        # extortion word lists that are looked up as substrings (not phrases), by Rules field
        self.word_lists: dict[str, list[str]] = {field: [] for field in WORD_LISTS.values()}
        self.numbers: dict[str, int] = {}  # demand_gap, link_max_length, max_demand_digits

    def phrase(self, doc: YamlDocument, location: list[str | int], raw: str, owner: str) -> str:
        phrase, prefix = canonical_phrase(raw)
        if not phrase:
            raise doc.error(location, "empty phrase")
        if prefix and not phrase.isascii():
            raise doc.error(location, f"{raw!r}: only Latin phrases may end in '*'")
        if prefix:
            self.prefix.add(phrase)
        key = (phrase, owner)
        where = f"{doc.path.name}:{doc.line_of(location)}"
        if key in self.origin:
            raise doc.error(
                location, f"{raw!r} is already listed for {owner} at {self.origin[key]}"
            )
        self.origin[key] = where
        return phrase

    def add(self, doc: YamlDocument, model: RulesFileModel) -> None:
        for category, words in model.categories.items():
            for raw, weight in words.items():
                loc: list[str | int] = ["categories", category.value, raw]
                phrase = self.phrase(doc, loc, raw, category.value)
                self.categories.setdefault(phrase, {})[category] = float(weight)
        for category, words in model.overrides.items():
            for raw, weight in words.items():
                loc = ["overrides", category.value, raw]
                phrase = self.phrase(doc, loc, raw, f"override {category.value}")
                self.overrides.setdefault(phrase, {})[category] = float(weight)
        for flag, words in model.flags.items():
            for raw, weight in words.items():
                loc = ["flags", flag.value, raw]
                phrase = self.phrase(doc, loc, raw, f"flag {flag.value}")
                self.flags.setdefault(phrase, {})[flag] = float(weight)
        for index, raw in enumerate(model.negation):
            self.negation.add(self.phrase(doc, ["negation", index], raw, "negation"))
        for index, raw in enumerate(model.negation_of_will):
            phrase = self.phrase(doc, ["negation_of_will", index], raw, "negation")
            self.negation.add(phrase)
            self.negates_any.add(phrase)
        for index, raw in enumerate(model.hypothetical):
            phrase = self.phrase(doc, ["hypothetical", index], raw, "hypothetical")
            self.hypothetical.add(phrase)
        for index, raw in enumerate(model.neutral):
            self.neutral.add(self.phrase(doc, ["neutral", index], raw, "neutral"))
        self._add_quiet_words(doc, model.quiet_words)
        for role in sorted(EXTORTION_ROLES):
            for index, raw in enumerate(getattr(model.extortion, role)):
                loc = ["extortion", role, index]
                phrase = self.phrase(doc, loc, raw, f"extortion {role}")
                self.extortion.setdefault(phrase, set()).add(role)
        for section, field in WORD_LISTS.items():
            raws = getattr(model.extortion, section)
            self.word_lists[field] += [canonical_phrase(raw)[0] for raw in raws]
        for name in ("demand_gap", "link_max_length", "max_demand_digits", "extortion_max_length"):
            value = getattr(model.extortion, name)
            if value is not None:
                self.numbers[name] = value
        for category, entry in model.objects.items():
            takes = frozenset(entry.takes)
            if category in takes:
                raise doc.error(
                    ["objects", category.value, "takes"], "an object cannot take its own category"
                )
            for index, raw in enumerate(entry.words):
                loc = ["objects", category.value, "words", index]
                self.objects[self.phrase(doc, loc, raw, "object")] = (category, takes)
        for section in ("signals", "settings", "dialect"):
            value = getattr(model, section)
            if value is None:
                continue
            if section in self.sections_from:
                raise doc.error(
                    [section], f"{section} is already given in {self.sections_from[section]}"
                )
            self.sections_from[section] = doc.path.name
            setattr(self, section, value)

    def _add_quiet_words(self, doc: YamlDocument, raws: list[str]) -> None:
        for index, raw in enumerate(raws):
            word, prefix = canonical_phrase(raw)
            location: list[str | int] = ["quiet_words", index]
            if not word or prefix or len(word.split()) > 1 or "*" in word:
                raise doc.error(location, f"{raw!r}: a quiet word is one word, without '*'")
            key = (word, "quiet word")
            if key in self.origin:
                raise doc.error(location, f"{raw!r} is already a quiet word at {self.origin[key]}")
            self.origin[key] = f"{doc.path.name}:{doc.line_of(location)}"
            self.quiet_words.add(word)

    def check_conflicts(self, docs: dict[str, YamlDocument]) -> None:
        meaningful = set(self.categories) | set(self.flags) | set(self.extortion)
        for phrase in sorted(self.negation & meaningful):
            raise self._error_at(docs, phrase, "negation", "a negation word cannot also score")
        for phrase in sorted(self.neutral & (meaningful | self.negation)):
            raise self._error_at(docs, phrase, "neutral", "a neutral phrase cannot also score")
        for phrase in sorted(set(self.objects) & (self.negation | self.neutral)):
            raise self._error_at(docs, phrase, "object", "an object cannot negate or be neutral")
        prefixes = self.prefix & meaningful  # "refund*" scores "refunds" too
        for phrase in sorted(self.quiet_words):
            if phrase in meaningful or any(phrase.startswith(p) for p in prefixes):
                raise self._error_at(docs, phrase, "quiet word", "a quiet word cannot also score")
        if self.settings is not None:
            doc = docs[self.sections_from["settings"]]
            for index, raw in enumerate(self.settings.topic):
                if canonical_phrase(raw)[0] not in self.categories:
                    raise doc.error(
                        ["settings", "topic", index], f"{raw!r} is not a category phrase"
                    )

    def _error_at(
        self, docs: dict[str, YamlDocument], phrase: str, owner: str, reason: str
    ) -> PhrasebookError:
        where = self.origin[(phrase, owner)]
        name, _, line = where.rpartition(":")
        return PhrasebookError(docs[name].path, int(line), f"{phrase!r}: {reason}")

    def _inherited(self, phrase: str, table: dict[str, dict[K, float]]) -> dict[K, float]:
        """What the shorter phrases inside a scoring phrase mean, when it says nothing itself.

        A longer phrase swallows the shorter ones it contains, so "差评见" (listed only as a
        threat) still counts as much toward bad_review as the "差评" inside it. Neutral and
        negation phrases inherit nothing: swallowing is their job.
        """
        if phrase in self.neutral or phrase in self.negation or phrase in self.hypothetical:
            return {}
        inherited: dict[K, float] = {}
        for size in range(len(phrase) - 1, 0, -1):
            for start in range(len(phrase) - size + 1):
                part = table.get(phrase[start : start + size])
                for key, weight in (part or {}).items():
                    inherited[key] = max(inherited.get(key, 0.0), weight)
        return inherited

    def build(self) -> Rules:
        """The merged phrases and settings as the classifier's Rules."""
        options: dict[str, Any] = {}
        if self.settings is not None:
            options.update(_settings_options(self.settings))
        if self.signals is not None:
            options.update(_signal_options(self.signals))
        if self.dialect is not None:
            options["dialect"] = dialect_folding(self.dialect.folds)
        for field, words in self.word_lists.items():
            options[field] = tuple(dict.fromkeys(words))
        for field, role in (
            ("review_levers", ExtortionRole.REVIEW),
            ("complaint_levers", ExtortionRole.COMPLAINT),
        ):
            options[field] = tuple(
                sorted(phrase for phrase, roles in self.extortion.items() if role in roles)
            )
        options["lever_words"] = tuple(
            sorted({*options["review_levers"], *options["complaint_levers"]})
        )
        options.update(self.numbers)
        options["quiet_words"] = frozenset(self.quiet_words)
        return Rules(phrases=self._phrase_rules(), **options)

    def _phrase_rules(self) -> dict[str, PhraseRule]:
        """Every phrase named anywhere, with all it means merged into one PhraseRule."""
        phrases: dict[str, PhraseRule] = {}
        everything = (
            set(self.categories)
            | set(self.flags)
            | self.negation
            | self.neutral
            | self.hypothetical
            | set(self.extortion)
            | set(self.objects)
            | set(self.overrides)
        )
        for phrase in everything:
            categories = self.categories.get(phrase) or self._inherited(phrase, self.categories)
            flags = self.flags.get(phrase) or self._inherited(phrase, self.flags)
            phrases[phrase] = PhraseRule(
                categories=tuple(sorted(categories.items())),
                flags=tuple(sorted(flags.items())),
                negation=phrase in self.negation,
                negates_any=phrase in self.negates_any,
                hypothetical=phrase in self.hypothetical,
                extortion=frozenset(self.extortion.get(phrase, set())),
                prefix=phrase in self.prefix,
                override=tuple(sorted(self.overrides.get(phrase, {}).items())),
                object_of=self.objects[phrase][0] if phrase in self.objects else None,
                object_takes=self.objects[phrase][1] if phrase in self.objects else frozenset(),
            )
        return phrases


def _settings_options(model: SettingsModel) -> dict[str, Any]:
    """The `settings` section as Rules keyword arguments (phrases canonicalised, sets frozen)."""
    options: dict[str, Any] = {}
    settings = model.model_dump()
    remedies = settings.pop("remedies")
    extortion_flags = settings.pop("extortion_flags")
    negatable = settings.pop("negatable")
    options["topic_keeps_against"] = frozenset(settings.pop("topic_keeps_against"))
    own_cause = settings.pop("own_cause")
    topic = settings.pop("topic")
    markers = settings.pop("question_markers")
    options["topic"] = frozenset(canonical_phrase(p)[0] for p in topic)
    options["question_markers"] = tuple(canonical_phrase(p)[0] for p in markers)
    if negatable:
        options["negatable"] = frozenset(negatable)
    options["will_keeps"] = frozenset(settings.pop("will_keeps"))
    options["tie_order"] = tuple(settings.pop("tie_order"))
    options["own_cause"] = frozenset(canonical_phrase(p)[0] for p in own_cause)
    if remedies:
        options["remedies"] = frozenset(remedies)
    if extortion_flags:
        options["extortion_flags"] = frozenset(extortion_flags)
    options.update({key: value for key, value in settings.items()})
    return options


def _signal_options(signals: SignalsModel) -> dict[str, Any]:
    """The `signals` section (punctuation runs, angry emoji, shouting) as Rules arguments."""
    options: dict[str, Any] = {
        "punctuation": tuple(
            PunctuationSignal(min_run=p.min_run, flag=p.flag, weight=float(p.weight))
            for p in signals.punctuation
        )
    }
    if signals.angry_emoji is not None:
        options["angry_emoji"] = frozenset(signals.angry_emoji.emoji)
        options["angry_emoji_weight"] = float(signals.angry_emoji.weight)
    if signals.shouting is not None:
        options["shouting_min_words"] = signals.shouting.min_words
        options["shouting_weight"] = float(signals.shouting.weight)
    return options


def dialect_folding(folds: dict[str, str]) -> DialectFolding:
    """The folding table, longest forms first."""
    pairs = tuple(sorted(folds.items(), key=lambda pair: (-len(pair[0]), pair[0])))
    return DialectFolding(pairs=pairs)


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files in `rules_dir`, in a stable order."""
    return sorted(rules_dir.glob("*.yaml"))


def load_rules(rules_dir: Path) -> Rules:
    """Load, validate and merge every `*.yaml` in `rules_dir` into the classifier's Rules."""
    files = rule_files(rules_dir)
    if not files:
        raise PhrasebookError(rules_dir, None, "no rule files (*.yaml) found")
    builder = _Builder()
    docs: dict[str, YamlDocument] = {}
    for path in files:
        doc = load_yaml(path)
        docs[path.name] = doc
        builder.add(doc, parse_rules_file(doc))
    builder.check_conflicts(docs)
    return builder.build()


def rule_words(rules: Rules) -> list[str]:
    """Multi-character Chinese phrases of the rules, for the segmenter's dictionary."""
    return sorted(p for p in rules.phrases if len(p) >= 2 and not p.isascii())
