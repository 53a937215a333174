"""Composer: styles per category, variable filling, language choice, extortion and needs_human."""

from __future__ import annotations

import pytest

from bot.core.compose import (
    GENERAL,
    Composer,
    ReplyBook,
    StylePlan,
    fill,
    template_problems,
    variables_in,
)
from bot.core.types import Category, Classification, Flag, Language, Principle

P = Principle


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        ("您好{buyer_name}，收到。", {"buyer_name": "小王"}, "您好小王，收到。"),
        ("您好{buyer_name}，收到。", {}, "您好，收到。"),
        ("我帮您查[[订单{order_id}的]]物流。", {"order_id": "A1"}, "我帮您查订单A1的物流。"),
        ("我帮您查[[订单{order_id}的]]物流。", {}, "我帮您查物流。"),
        ("Hi {buyer_name}, thanks.", {}, "Hi, thanks."),
        ("Hi {buyer_name}, thanks.", {"buyer_name": "Ann"}, "Hi Ann, thanks."),
        ("单号（{tracking_no}）已更新。", {}, "单号已更新。"),
        ("[[{courier} ]]tracking {tracking_no}.", {"tracking_no": "SF1"}, "tracking SF1."),
        (
            "值 {order_id}",
            {"order_id": "{shop_name}"},
            "值 {shop_name}",
        ),  # values are not re-expanded
        ("{unknown} ok", {}, "ok"),
        # defect 11: names with digits are variables too
        ("photo sha256 {sha256}", {"sha256": "ab12"}, "photo sha256 ab12"),
        ("[[({sha256})]]done", {}, "done"),
        ("{v2}/{v10}", {"v2": "a", "v10": "b"}, "a/b"),
    ],
)
def test_fill(template: str, variables: dict[str, str], expected: str) -> None:
    assert fill(template, variables) == expected


def test_fill_keeps_no_filled_template_between_calls() -> None:
    template = "您好{buyer_name}，[[订单{order_id}]]已收到。  "
    assert fill(template, {}) == "您好，已收到。"
    assert fill(template, {"buyer_name": ""}) == "您好，已收到。"
    assert fill(template, {"order_id": "A1"}) == "您好，订单A1已收到。"
    assert fill(template, {"buyer_name": "小王"}) == "您好小王，已收到。"
    assert fill(template, {}) == "您好，已收到。"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("fine {order_id}", []),
        ("bad {orderid}", ["unknown variable {orderid}"]),
        ("stray { brace", ["a brace that is not part of a {variable}"]),
        ("open [[ segment", ["an optional segment [[...]] is not closed"]),
        ("digits {order_id2}", ["unknown variable {order_id2}"]),  # defect 11
        ("leading digit {2x}", ["a brace that is not part of a {variable}"]),
    ],
)
def test_template_problems(template: str, expected: list[str]) -> None:
    assert template_problems(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("no variables", []),
        ("{case} {sha256} {kind}", ["case", "sha256", "kind"]),
        ("{Case} {2x} {a-b}", []),
    ],
)
def test_defect_11_variables_in(template: str, expected: list[str]) -> None:
    assert variables_in(template) == expected


def _parts(tag: str) -> dict[Principle, tuple[str, ...]]:
    return {p: (f"{tag}-{p.value}-a。", f"{tag}-{p.value}-b。") for p in Principle}


BOOK = ReplyBook(
    language=Language.ZH_HANS,
    parts={key: _parts(key) for key in (*(c.value for c in Category), GENERAL)},
)
EN_BOOK = ReplyBook(
    language=Language.EN,
    parts={key: {p: (f"{key} {p.value}.",) for p in Principle} for key in BOOK.parts},
)
PLAN = StylePlan(
    styles={
        "quick": (P.ACKNOWLEDGE,),
        "full": (P.ACKNOWLEDGE, P.APOLOGISE, P.EXPLAIN, P.REMEDY, P.FOLLOW_UP),
        "compensate": (P.APOLOGISE, P.REMEDY, P.COMPENSATE, P.FOLLOW_UP),
    },
    plans={
        "default": ("quick", "full", "compensate"),
        "inquiry": ("quick", "full"),
        "extortion": ("quick", "full"),
        "general": ("quick", "full"),
    },
)
COMPOSER = Composer(
    books={Language.ZH_HANS: BOOK, Language.EN: EN_BOOK},
    plan=PLAN,
    warn_flags=frozenset({Flag.THREATENS_REVIEW}),
)


def _verdict(category: Category, **kwargs: object) -> Classification:
    kwargs.setdefault("confidence", 0.9)
    return Classification(category=category, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("classification", "kinds", "warnings"),
    [
        (_verdict(Category.QUALITY), ["quick", "full", "compensate"], ()),
        (_verdict(Category.INQUIRY), ["quick", "full"], ()),
        (_verdict(Category.EXTORTION), ["quick", "full"], ("extortion",)),
        (
            _verdict(Category.QUALITY, needs_human=True),
            ["quick", "full", "compensate"],
            ("needs_human",),
        ),
        (
            _verdict(Category.QUALITY, needs_human=True, confidence=0.3),
            ["quick", "full"],
            ("needs_human",),
        ),
        (
            _verdict(Category.BAD_REVIEW, flags=frozenset({Flag.THREATENS_REVIEW, Flag.ANGRY})),
            ["quick", "full", "compensate"],
            ("threatens_review",),
        ),
    ],
)
def test_styles_and_warnings(
    classification: Classification, kinds: list[str], warnings: tuple[str, ...]
) -> None:
    composition = COMPOSER.compose(classification)
    assert [s.kind for s in composition.suggestions] == kinds
    assert composition.warnings == warnings
    assert len({s.text for s in composition.suggestions}) == len(kinds)


def test_parts_follow_the_style_order_and_category() -> None:
    composition = COMPOSER.compose(_verdict(Category.WRONG_ITEM))
    full = composition.suggestions[1].text
    expected_order = ["acknowledge", "apologise", "explain", "remedy", "follow_up"]
    positions = [full.index(f"wrong_item-{name}") for name in expected_order]
    assert positions == sorted(positions)
    assert "compensate" not in full


def test_needs_human_uses_general_parts_and_extortion_its_own() -> None:
    unsure = COMPOSER.compose(_verdict(Category.QUALITY, needs_human=True, confidence=0.3))
    checking = COMPOSER.compose(_verdict(Category.QUALITY, needs_human=True, confidence=0.7))
    extortion = COMPOSER.compose(_verdict(Category.EXTORTION, needs_human=True))
    assert all(s.text.startswith("general-") for s in unsure.suggestions)
    assert all(s.text.startswith("quality-") for s in checking.suggestions)
    assert all("extortion-" in s.text for s in extortion.suggestions)
    assert not any("compensate" in s.text for s in extortion.suggestions)


def test_language_follows_the_buyer_and_can_be_overridden() -> None:
    english = _verdict(Category.QUALITY, language=Language.EN)
    assert COMPOSER.compose(english).suggestions[0].text == "quality acknowledge."
    assert COMPOSER.compose(english, language=Language.ZH_HANS).language is Language.ZH_HANS
    # a language without a book falls back to Simplified Chinese
    hant = _verdict(Category.QUALITY, language=Language.ZH_HANT)
    assert COMPOSER.compose(hant).suggestions[0].text.startswith("quality-acknowledge")


def test_english_parts_are_joined_with_spaces() -> None:
    english = _verdict(Category.QUALITY, language=Language.EN)
    full = COMPOSER.compose(english).suggestions[1].text
    assert full == (
        "quality acknowledge. quality apologise. quality explain. quality remedy. quality follow_up."
    )


def test_seed_picks_other_variants() -> None:
    first = COMPOSER.compose(_verdict(Category.QUALITY), seed=0).suggestions[0].text
    second = COMPOSER.compose(_verdict(Category.QUALITY), seed=1).suggestions[0].text
    assert (first, second) == ("quality-acknowledge-a。", "quality-acknowledge-b。")


def test_variables_are_filled() -> None:
    book = ReplyBook(
        language=Language.ZH_HANS,
        parts={
            key: {p: ("您好{buyer_name}，[[订单{order_id}]]收到。",) for p in Principle}
            for key in BOOK.parts
        },
    )
    composer = Composer(books={Language.ZH_HANS: book}, plan=PLAN)
    known = composer.compose(
        _verdict(Category.INQUIRY), variables={"buyer_name": "小王", "order_id": "88"}
    )
    unknown = composer.compose(_verdict(Category.INQUIRY), variables={"buyer_name": None})
    assert known.suggestions[0].text == "您好小王，订单88收到。"
    assert unknown.suggestions[0].text == "您好，收到。"
