"""Kefu's understanding of one buyer message: classify, compose suggestions, playbook, checks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.checks import check_reply
from bot.core.classify import Classifier
from bot.core.compose import Composition
from bot.core.labels import CardLabel, corrected
from bot.core.learned import LearnedWeights
from bot.core.types import Classification, Finding, Language, Playbook
from bot.phrasebook.loader import Phrasebook, load_phrasebook


@dataclass(frozen=True, slots=True)
class Analysis:
    """What an agent sees for a buyer message: verdict, suggestions, warnings, checklist."""

    text: str
    classification: Classification
    composition: Composition
    playbook: Playbook


@dataclass(frozen=True, slots=True)
class ReplyProblem:
    """A reply-check finding with the reason in the agent's language."""

    finding: Finding
    reason: str


@dataclass(eq=False)
class ShopState:
    """What the live classifier was built from: the shop's revision, model version, words."""

    shipped: Classifier  # the phrasebook's rules and weights, never changed
    revision: int = -1  # the shop revision the classifier reflects (-1: not read yet)
    model_version: int | None = None  # the shop model in use (None: the shipped weights)
    learned: Mapping[str, LearnedWeights] | None = None  # its weights, when a shop model
    rejected: set[int] = field(default_factory=set)  # versions whose weights did not load
    # versions refitted from other shipped weights than these: the shipped weights stand in
    stale: set[int] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_error: str = ""  # the last refresh failure, logged once
    last_settings_error: str = ""  # the same for the shop's settings
    settings_revision: int = -1  # the settings revision this process runs with (-1: not read)
    # One settings refresh at a time: a poll that read before a change must not apply its
    # older values after the refresh that follows the change.
    settings_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    skipped_settings: tuple[str, ...] = ()  # stored settings that did not validate, logged once


@dataclass(eq=False)
class Understanding:
    """The classifier and the phrasebook, loaded once at start-up and shared.

    `classifier` is replaced whole (one assignment, so a message is classified by one version
    or the next, never a mix) when the shop's words or model change (`bot.service.shop_model`).
    """

    classifier: Classifier
    phrasebook: Phrasebook
    shop: ShopState = field(init=False)

    def __post_init__(self) -> None:
        self.shop = ShopState(shipped=self.classifier)

    def analyse(
        self,
        text: str,
        *,
        variables: Mapping[str, str | None] | None = None,
        language: Language | None = None,
        seed: int = 0,
    ) -> Analysis:
        """Classify `text`, compose suggestions in the buyer's language and pick the playbook."""
        classification = self.classifier.classify(text)
        entities = classification.entities
        known: dict[str, str | None] = {
            "order_id": next(iter(entities.order_ids), None),
            "tracking_no": next(iter(entities.tracking_numbers), None),
            **(variables or {}),
        }
        composition = self.phrasebook.composer.compose(
            classification, variables=known, language=language, seed=seed
        )
        playbook = self.phrasebook.playbook(classification.category, composition.language)
        return Analysis(text, classification, composition, playbook)

    def analyse_corrected(
        self,
        text: str,
        label: CardLabel,
        *,
        variables: Mapping[str, str | None] | None = None,
        language: Language | None = None,
        seed: int = 0,
    ) -> Analysis:
        """`analyse`, then the suggestions and playbook of the category an agent corrected it to."""
        analysis = self.analyse(text, variables=variables, language=language, seed=seed)
        if label.category is None:
            return analysis
        return self.recompose(analysis, corrected(analysis.classification, label), seed=seed)

    def recompose(
        self,
        analysis: Analysis,
        classification: Classification,
        *,
        variables: Mapping[str, str | None] | None = None,
        seed: int = 0,
    ) -> Analysis:
        """The same message under another verdict: its suggestions (same language) and playbook."""
        entities = classification.entities
        known: dict[str, str | None] = {
            "order_id": next(iter(entities.order_ids), None),
            "tracking_no": next(iter(entities.tracking_numbers), None),
            **(variables or {}),
        }
        composition = self.phrasebook.composer.compose(
            classification,
            variables=known,
            language=analysis.composition.language,
            seed=seed,
        )
        playbook = self.phrasebook.playbook(classification.category, composition.language)
        return Analysis(analysis.text, classification, composition, playbook)

    def check(
        self, draft: str, *, buyer: Classification | None, language: Language
    ) -> list[ReplyProblem]:
        """Reply-check `draft` against the buyer message; reasons in `language`."""
        findings = check_reply(draft, rules=self.phrasebook.check_rules, buyer=buyer)
        return [
            ReplyProblem(
                finding,
                self.phrasebook.wording.text(
                    language, f"checks.{finding.rule}", word=finding.detail, length=finding.detail
                ),
            )
            for finding in findings
        ]


def load_understanding(phrasebook_dir: Path) -> Understanding:
    """Load the phrasebook and build the classifier (jieba initialised once) from `phrasebook_dir`."""
    from bot.nlp.pipeline import build_classifier

    phrasebook = load_phrasebook(phrasebook_dir)
    return Understanding(classifier=build_classifier(phrasebook_dir), phrasebook=phrasebook)
