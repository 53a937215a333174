"""Loading keyword rules: the shipped files load, and every broken file names file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.types import Category, Flag
from bot.phrasebook.rules import canonical_phrase, load_rules
from bot.phrasebook.yamlfile import PhrasebookError

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
categories:
  not_received:
    没收到: 3
    Where Is My Order: 3
  return_refund:
    refund*: 2
flags:
  angry:
    垃圾: 1
negation: [没有, "not"]
neutral: [不好意思]
extortion:
  benefit: [红包]
  condition: [不然]
settings:
  remedy_factor: 0.5
signals:
  punctuation:
    - {min_run: 3, flag: angry, weight: 1}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rules_load_and_cover_every_category_and_flag() -> None:
    rules = load_rules(REPO / "phrasebook" / "rules")
    categories = {c for rule in rules.phrases.values() for c, _ in rule.categories}
    flags = {f for rule in rules.phrases.values() for f, _ in rule.flags}
    assert (categories | {Category.EXTORTION}, flags) == (set(Category), set(Flag))


def test_a_good_file_builds_rules(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    rules = load_rules(tmp_path)
    assert (
        rules.phrases["where is my order"].categories,
        rules.phrases["refund"].prefix,
        rules.phrases["没有"].negation,
        rules.remedy_factor,
        len(rules.punctuation),
    ) == (((Category.NOT_RECEIVED, 3.0),), True, True, 0.5, 1)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("categories:\n  not_received:\n    没收到: [3\n", 4, "invalid YAML"),
        ("categories:\n  not_recieved:\n    没收到: 3\n", 2, "not_recieved"),
        ("categories:\n  quality:\n    坏了: 3\n    用不了: lots\n", 4, "valid number"),
        ("flags:\n  furious:\n    气死: 1\n", 2, "furious"),
        ("negation: 没有\n", 1, "valid list"),
        ("categories:\n  quality:\n    坏了: 3\n    坏了: 2\n", 4, "duplicate key"),
        ("settings:\n  remedy_factor: 2\n", 2, "less than or equal to 1"),
        ("settings:\n  remedies: [refunds]\n", 2, "settings.remedies.0"),
        ("signals:\n  punctuation:\n    - {min_run: 1, flag: angry, weight: 1}\n", 3, "min_run"),
        ("surprise: 1\n", 1, "surprise"),
        ("- just\n- a list\n", 1, "mapping of sections"),
        ("categories:\n  quality:\n    坏*: 3\n", 3, "only Latin phrases"),
        ("categories:\n  quality:\n    '  ': 3\n", 3, "empty phrase"),
        ("negation: [没有]\ncategories:\n  quality:\n    没有: 1\n", 1, "negation word"),
        ("objects:\n  invoice:\n    takes: [invoice]\n    words: [发票]\n", 3, "own category"),
        ("objects:\n  invoice:\n    words: [发票]\n", 2, "takes"),
        (
            "neutral: [发票]\nobjects:\n  invoice:\n    takes: [quality]\n    words: [发票]\n",
            5,
            "object cannot",
        ),
        ("quiet_words:\n  - 的\n  - the end\n", 3, "one word"),
        ('quiet_words:\n  - 的\n  - "the\\tend"\n', 3, "one word"),
        ("quiet_words:\n  - 的\n  - refund*\n", 3, "one word"),
        ("quiet_words:\n  - 的\n  - refund＊\n", 3, "one word"),  # width-folded to *
        ("quiet_words:\n  - 的\n  - 的\n", 3, "already a quiet word"),
        ("quiet_words: [的]\ncategories:\n  quality:\n    的: 1\n", 1, "cannot also score"),
        (
            "categories:\n  return_refund:\n    refund*: 2\nquiet_words: [refunds]\n",
            4,
            "also score",
        ),
        ("quiet_words:\n  - 的\n  - on\n", 3, "valid string"),  # YAML 1.1: on is true
    ],
)
def test_broken_file_names_file_and_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(PhrasebookError) as caught:
        load_rules(tmp_path)
    error = caught.value
    assert (error.path, error.line, reason in error.reason) == (str(path), line, True)
    assert str(error).startswith(f"{path}:{line}: ")


MECHANISMS = """\
categories:
  not_received:
    物流: 1
negation: [没]
negation_of_will: [不想]
hypothetical: [如果, "if"]
settings:
  topic: [物流]
  topic_factor: 0.3
  topic_keeps_against: [bad_review]
  question_markers: [吗, 请问]
  question_bonus: 1
  hypothetical_factor: 0.3
  hypothetical_window: 15
"""


def test_mechanism_sections_build_rules(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MECHANISMS)
    rules = load_rules(tmp_path)
    assert (
        (rules.phrases["没"].negation, rules.phrases["没"].negates_any),
        (rules.phrases["不想"].negation, rules.phrases["不想"].negates_any),
        rules.phrases["如果"].hypothetical,
        rules.phrases["if"].hypothetical,
        rules.topic,
        rules.topic_keeps_against,
        rules.question_markers,
        (rules.question_bonus, rules.hypothetical_factor, rules.hypothetical_window),
    ) == (
        (True, False),
        (True, True),
        True,
        True,
        frozenset({"物流"}),
        frozenset({Category.BAD_REVIEW}),
        ("吗", "请问"),
        (1, 0.3, 15),
    )


def test_a_topic_word_must_be_a_category_phrase(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MECHANISMS.replace("topic: [物流]", "topic: [物流, 快递]"))
    with pytest.raises(PhrasebookError) as caught:
        load_rules(tmp_path)
    error = caught.value
    assert (Path(error.path).name, error.line, error.reason) == (
        "a.yaml",
        8,
        "'快递' is not a category phrase",
    )


def test_the_same_phrase_twice_across_files_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "categories:\n  quality:\n    坏了: 3\n")
    path = write(tmp_path, "b.yaml", "\ncategories:\n  quality:\n    坏了: 2\n")
    with pytest.raises(PhrasebookError) as caught:
        load_rules(tmp_path)
    assert (caught.value.path, caught.value.line, "a.yaml:3" in caught.value.reason) == (
        str(path),
        4,
        True,
    )


def test_settings_in_two_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "settings:\n  remedy_factor: 0.5\n")
    path = write(tmp_path, "b.yaml", "settings:\n  remedy_factor: 0.4\n")
    with pytest.raises(PhrasebookError) as caught:
        load_rules(tmp_path)
    assert (caught.value.path, caught.value.line) == (str(path), 1)


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PhrasebookError, match="no rule files"):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Refund*", ("refund", True)), ("ＡＢＣ", ("abc", False)), ("where  is", ("where is", False))],
)
def test_canonical_phrase(raw: str, expected: tuple[str, bool]) -> None:
    assert canonical_phrase(raw) == expected


OBJECTS = """\
categories:
  invoice:
    发票: 2.5
objects:
  invoice:
    takes: [not_received, shipping_delay]
    words: [发票, 收据]
  inquiry:
    takes: [quality]
    words: [promo code]
settings:
  object_gap_before_zh: 3
  object_gap_after_en: 5
"""


def test_objects_build_rules(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", OBJECTS)
    rules = load_rules(tmp_path)
    takes = frozenset({Category.NOT_RECEIVED, Category.SHIPPING_DELAY})
    assert (
        (rules.phrases["发票"].object_of, rules.phrases["发票"].object_takes),
        rules.phrases["发票"].categories,
        (rules.phrases["收据"].object_of, rules.phrases["收据"].meaningful),
        rules.phrases["promo code"].object_takes,
        (rules.object_gap_before_zh, rules.object_gap_after_en),
    ) == (
        (Category.INVOICE, takes),
        ((Category.INVOICE, 2.5),),
        (Category.INVOICE, True),
        frozenset({Category.QUALITY}),
        (3, 5),
    )


def test_extortion_numbers_are_kept_per_file_and_never_reset(tmp_path: Path) -> None:
    write(tmp_path, "00-base.yaml", "extortion:\n  demand_verbs: [转我]\n  demand_gap: 2\n")
    write(tmp_path, "10-shop.yaml", "extortion:\n  link_max_length: 10\n")
    write(tmp_path, "20-more.yaml", "extortion:\n  demand_verbs: [汇款]\n")
    rules = load_rules(tmp_path)
    assert rules.demand_gap == 2  # not reset to the default by 20-more.yaml
    assert rules.link_max_length == 10
    assert rules.demand_verbs == ("转我", "汇款")


def test_overrides_and_dialect_sections(tmp_path: Path) -> None:
    write(
        tmp_path,
        "00-base.yaml",
        "categories:\n  quality:\n    起球: 2\n"
        "overrides:\n  damaged_missing:\n    起球: 3\n"
        "dialect:\n  folds:\n    咗: 了\n    仲未: 还没\n",
    )
    rules = load_rules(tmp_path)
    phrase = rules.phrases["起球"]
    assert phrase.override == ((Category.DAMAGED_MISSING, 3.0),)
    assert phrase.categories == ((Category.QUALITY, 2.0),)
    assert rules.dialect.fold("仲未到，坏咗") == "还没到，坏了"


def test_quiet_words_are_kept_for_the_keywords_only(tmp_path: Path) -> None:
    write(tmp_path, "zh.yaml", "categories:\n  quality:\n    坏了: 3\nquiet_words: [的, 了]\n")
    write(tmp_path, "en.yaml", 'quiet_words: [The, "i\'m"]\n')
    rules = load_rules(tmp_path)
    assert (rules.quiet_words, sorted(rules.phrases)) == (
        frozenset({"的", "了", "the", "i'm"}),
        ["坏了"],
    )
