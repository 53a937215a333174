"""Shop words: the /word command read, checked (bad input refused with its reason) and merged."""

from __future__ import annotations

import pytest

from bot.core.keyword_rules import PhraseRule, Rules
from bot.core.shop_words import (
    ShopWord,
    WordProblem,
    WordRequest,
    check_word,
    parse_word_command,
    with_shop_words,
)
from bot.core.types import Category, Flag

RULES = Rules(
    phrases={
        "破": PhraseRule(categories=((Category.DAMAGED_MISSING, 2.0),)),
        "不": PhraseRule(negation=True),
        "差评师": PhraseRule(extortion=frozenset({"direct"})),
        "质量": PhraseRule(categories=((Category.QUALITY, 1.0),)),
        "发霉": PhraseRule(override=((Category.QUALITY, 3.0),)),
        "急": PhraseRule(flags=((Flag.URGENT, 1.0),)),
    }
)


def _check(word: str, category: str, words: list[ShopWord] | None = None) -> ShopWord:
    checked, _notes = check_word(
        WordRequest(word, category), normalize=str.lower, rules=RULES, words=words or []
    )
    return checked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("漏液 damaged_missing", WordRequest("漏液", "damaged_missing")),
        ('"fits small" not_as_described', WordRequest("fits small", "not_as_described")),
        ("“fits small” not_as_described", WordRequest("fits small", "not_as_described")),
        ("起球 quality --weight 2", WordRequest("起球", "quality", 2.0)),
    ],
)
def test_the_word_command_is_read(text: str, expected: WordRequest) -> None:
    assert parse_word_command(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "usage"),
        ("漏液", "usage"),
        ('"fits small not_as_described', "usage"),
        ("起球 quality --weight", "usage"),
        ("起球 quality --weight much", "bad_weight"),
        ("起球 quality --weight 0", "bad_weight"),
        ("起球 quality --weight 11", "bad_weight"),
    ],
)
def test_a_malformed_word_command_is_refused(text: str, key: str) -> None:
    with pytest.raises(WordProblem) as refused:
        parse_word_command(text)
    assert refused.value.key == key


@pytest.mark.parametrize(
    ("word", "category", "key"),
    [
        ("漏液", "leaky", "unknown_category"),
        ("", "quality", "bad_length"),
        ("一二三四五六七八九十一二三四五六七八九十一", "quality", "bad_length"),
        ("！？…", "quality", "only_punctuation"),
        ("不", "quality", "function_word"),
        ("差评师", "bad_review", "extortion_word"),
        ("发霉", "damaged_missing", "phrasebook_override"),
        ("发霉", "quality", "in_phrasebook"),
    ],
)
def test_a_bad_word_is_refused_with_its_reason(word: str, category: str, key: str) -> None:
    with pytest.raises(WordProblem) as refused:
        _check(word, category)
    assert refused.value.key == key


def test_a_word_already_taken_for_another_category_is_refused() -> None:
    taken = ShopWord("漏液", "漏液", Category.DAMAGED_MISSING)
    with pytest.raises(WordProblem) as refused:
        _check("漏液", "quality", [taken])
    assert (refused.value.key, refused.value.variables["category"]) == (
        "taken",
        "damaged_missing",
    )


def test_conflicts_that_can_stand_are_explained() -> None:
    words = [ShopWord("漏", "漏", Category.DAMAGED_MISSING)]
    checked, notes = check_word(
        WordRequest("Fits Small", "not_as_described"), normalize=str.lower, rules=RULES, words=[]
    )
    assert checked == ShopWord("fits small", "Fits Small", Category.NOT_AS_DESCRIBED, 3.0)
    assert notes == []
    _word, notes = check_word(
        WordRequest("质量", "not_as_described"), normalize=str.lower, rules=RULES, words=[]
    )
    assert [note.key for note in notes] == ["was_evidence"]
    _word, notes = check_word(
        WordRequest("漏液", "quality"), normalize=str.lower, rules=RULES, words=words
    )
    assert [(note.key, note.variables["longer"]) for note in notes] == [("overlaps", "漏液")]


def test_shop_words_become_overrides_that_inherit_what_they_swallow() -> None:
    merged = with_shop_words(
        RULES,
        [
            ShopWord("破洞", "破洞", Category.QUALITY, 2.0),
            ShopWord("质量", "质量", Category.NOT_AS_DESCRIBED),
        ],
    )

    assert merged.phrases["破洞"] == PhraseRule(
        categories=((Category.DAMAGED_MISSING, 2.0),), override=((Category.QUALITY, 2.0),)
    )
    assert merged.phrases["质量"].override == ((Category.NOT_AS_DESCRIBED, 3.0),)
    assert merged.phrases["质量"].categories == ((Category.QUALITY, 1.0),)
    assert merged.trie["破"] == {"": "破", "洞": {"": "破洞"}}  # the matcher finds it
    assert with_shop_words(RULES, []) is RULES
