"""The reply checks' word lists, `checks.yaml`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.core.blame import StructureWords, normalise, tokens_of
from bot.core.checks import CheckRules
from bot.core.types import Category
from bot.phrasebook.files import parse_file, require_file
from bot.phrasebook.yamlfile import YamlDocument


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    document, parsed = parse_file(require_file(directory, "checks.yaml"), ChecksFile)
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
