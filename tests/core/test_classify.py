"""The classifier's logic on small hand-written rules, a fake segmenter and a fake converter.

The real phrasebook, jieba and OpenCC are exercised in tests/nlp/test_classifier_real.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.classify import Classifier
from bot.core.keyword_rules import ExtortionRole, PhraseRule, PunctuationSignal, Rules
from bot.core.phrase_match import find_phrases
from bot.core.types import Category, Entities, Flag, Language

C = Category
F = Flag


class CharSegmenter:
    """Every character is a token (so every position is a token boundary)."""

    def cut(self, text: str) -> Sequence[str]:
        return list(text)


class WordSegmenter:
    """Splits off the given words whole, everything else one character at a time."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = sorted(words, key=len, reverse=True)

    def cut(self, text: str) -> Sequence[str]:
        tokens: list[str] = []
        i = 0
        while i < len(text):
            word = next((w for w in self.words if text.startswith(w, i)), text[i])
            tokens.append(word)
            i += len(word)
        return tokens


class TableConverter:
    TABLE = str.maketrans(
        {"沒": "没", "貨": "货", "發": "发", "錯": "错", "壞": "坏", "評": "评", "紅": "红"}
    )

    def convert(self, text: str) -> str:
        return text.translate(self.TABLE)


def cat(category: Category, weight: float = 2.0) -> PhraseRule:
    return PhraseRule(categories=((category, weight),))


PHRASES: dict[str, PhraseRule] = {
    "没收到": cat(C.NOT_RECEIVED, 3),
    "到货": cat(C.NOT_RECEIVED, 1),
    "什么时候发货": cat(C.SHIPPING_DELAY, 3),
    "破损": cat(C.DAMAGED_MISSING, 3),
    "碎": cat(C.DAMAGED_MISSING, 2),
    "发错": cat(C.WRONG_ITEM, 3),
    "假货": cat(C.NOT_AS_DESCRIBED, 3),
    "坏了": cat(C.QUALITY, 2),
    "退货": cat(C.RETURN_REFUND, 2),
    "发票": cat(C.INVOICE, 3),
    "谢谢": cat(C.INQUIRY, 1),
    "态度差": cat(C.COMPLAINT, 3),
    "差评": PhraseRule(
        categories=((C.BAD_REVIEW, 1.5),),
        flags=((F.THREATENS_REVIEW, 0.5),),
        extortion=frozenset({ExtortionRole.REVIEW}),
    ),
    "给差评": PhraseRule(
        categories=((C.BAD_REVIEW, 1.5),),
        flags=((F.THREATENS_REVIEW, 1.0),),
        extortion=frozenset({ExtortionRole.REVIEW}),
    ),
    "投诉": PhraseRule(categories=((C.COMPLAINT, 1.5),), flags=((F.THREATENS_COMPLAINT, 1.0),)),
    "赔我": PhraseRule(
        flags=((F.WANTS_COMPENSATION, 1.0),), extortion=frozenset({ExtortionRole.BENEFIT})
    ),
    "红包": PhraseRule(extortion=frozenset({ExtortionRole.BENEFIT})),
    "不然": PhraseRule(extortion=frozenset({ExtortionRole.CONDITION})),
    "差评师": PhraseRule(extortion=frozenset({ExtortionRole.DIRECT})),
    "垃圾": PhraseRule(flags=((F.ANGRY, 1.0),)),
    "急": PhraseRule(flags=((F.URGENT, 1.0),)),
    "没": PhraseRule(negation=True),
    "没有": PhraseRule(negation=True),
    "不": PhraseRule(negation=True),
    "not": PhraseRule(negation=True),
    "不好意思": PhraseRule(),
    "where is my order": cat(C.NOT_RECEIVED, 3),
    "broken": cat(C.DAMAGED_MISSING, 2),
    "refund": PhraseRule(categories=((C.RETURN_REFUND, 2),), prefix=True),
    "arrive": PhraseRule(categories=((C.NOT_RECEIVED, 1),)),
}

RULES = Rules(
    phrases=PHRASES,
    punctuation=(
        PunctuationSignal(min_run=2, flag=F.ANGRY, weight=0.5),
        PunctuationSignal(min_run=3, flag=F.ANGRY, weight=1.0),
    ),
    angry_emoji=frozenset({"😡"}),
    angry_emoji_weight=1.0,
)


@pytest.fixture
def classifier() -> Classifier:
    return Classifier(RULES, CharSegmenter(), TableConverter())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every category, Simplified
        ("我还没收到", C.NOT_RECEIVED),
        ("什么时候发货啊", C.SHIPPING_DELAY),
        ("外箱破损了", C.DAMAGED_MISSING),
        ("你们发错了", C.WRONG_ITEM),
        ("这是假货吧", C.NOT_AS_DESCRIBED),
        ("用两天就坏了", C.QUALITY),
        ("我想退货", C.RETURN_REFUND),
        ("我要给差评", C.BAD_REVIEW),
        ("客服态度差", C.COMPLAINT),
        ("开一下发票", C.INVOICE),
        ("好的谢谢", C.INQUIRY),
        ("今天天气不错", C.INQUIRY),
        # Traditional, through the converter
        ("我還沒收到貨", C.NOT_RECEIVED),
        ("你們發錯了", C.WRONG_ITEM),
        ("用兩天就壞了", C.QUALITY),
        # English
        ("Where is my order?", C.NOT_RECEIVED),
        ("It arrived BROKEN", C.DAMAGED_MISSING),
        ("I want a refund", C.RETURN_REFUND),
        ("refunded yet?", C.RETURN_REFUND),
    ],
)
def test_category(classifier: Classifier, text: str, expected: Category) -> None:
    assert classifier.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("没有破损", C.INQUIRY),  # negated cause
        ("不碎", C.INQUIRY),
        ("没收到", C.NOT_RECEIVED),  # keyword that carries its own negation
        ("not broken", C.INQUIRY),
        ("not really broken", C.INQUIRY),
        ("没有，破损了", C.DAMAGED_MISSING),  # punctuation ends the negation
        ("不好意思，破损了", C.DAMAGED_MISSING),  # a neutral phrase swallows 不
        ("没想到真的碎", C.DAMAGED_MISSING),  # negation too far away (window 2)
        ("unbroken", C.INQUIRY),  # Latin phrases need word boundaries
        ("brokenness", C.INQUIRY),
        ("refunds", C.RETURN_REFUND),  # ... unless marked as prefix
    ],
)
def test_negation_and_boundaries(classifier: Classifier, text: str, expected: Category) -> None:
    assert classifier.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收到是碎的，我要退货", C.DAMAGED_MISSING),  # the cause beats the remedy
        ("快递没收到，我要投诉", C.NOT_RECEIVED),
        ("发错了，给差评", C.WRONG_ITEM),
        ("我要退货", C.RETURN_REFUND),  # the remedy wins when it is the whole topic
        ("赔我200，不然给差评", C.EXTORTION),  # extortion beats everything
        ("破损了，赔我100不然投诉", C.EXTORTION),
        ("发个红包，这个差评就不写，不然差评", C.EXTORTION),
        ("我是差评师", C.EXTORTION),
        ("赔我运费", C.INQUIRY),  # a benefit without a lever is not extortion
        ("给差评", C.BAD_REVIEW),
    ],
)
def test_precedence_and_extortion(classifier: Classifier, text: str, expected: Category) -> None:
    assert classifier.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("垃圾店", {F.ANGRY}),
        ("怎么还没收到！！！", {F.ANGRY}),
        ("还没收到？？", set()),  # one run of two is only half the anger threshold
        ("还没收到？？ 真的？？", {F.ANGRY}),
        ("没收到😡", {F.ANGRY}),
        ("发错了，给差评", {F.THREATENS_REVIEW}),
        ("差评", set()),  # mentioning a review is not a threat
        ("没收到，投诉", {F.THREATENS_COMPLAINT}),
        ("坏了赔我", {F.WANTS_COMPENSATION}),
        ("很急，没收到", {F.URGENT}),
        ("不急，没收到", set()),
        ("赔我200，不然给差评", {F.WANTS_COMPENSATION, F.THREATENS_REVIEW}),
    ],
)
def test_flags(classifier: Classifier, text: str, expected: set[Flag]) -> None:
    assert set(classifier.classify(text).flags) == expected


def test_result_explains_itself(classifier: Classifier) -> None:
    result = classifier.classify("订单号123456789012345678还没收到，没有破损")
    assert (result.keywords, result.entities, result.language) == (
        ("没收到",),
        Entities(order_ids=("123456789012345678",)),
        Language.ZH_HANS,
    )


@pytest.mark.parametrize(
    ("text", "needs_human"),
    [
        ("我还没收到", False),
        ("今天天气不错", True),  # nothing recognised
        ("发错了，这是假货", True),  # two causes tie
    ],
)
def test_needs_human(classifier: Classifier, text: str, needs_human: bool) -> None:
    assert classifier.classify(text).needs_human == needs_human


def test_confidence_is_higher_for_a_clear_message(classifier: Classifier) -> None:
    clear = classifier.classify("没收到，什么时候到货，没收到")
    mixed = classifier.classify("没收到，破损")
    assert 0.0 <= mixed.confidence < clear.confidence <= 1.0


def test_short_chinese_keywords_need_token_boundaries() -> None:
    segmenter = WordSegmenter(["想到", "粉碎机"])
    strict = Classifier(replace(RULES, token_boundary_max_len=2), segmenter, TableConverter())
    assert [strict.classify(t).category for t in ("没想到货这么快", "今天到货")] == [
        C.INQUIRY,
        C.NOT_RECEIVED,
    ]
    default = Classifier(RULES, segmenter, TableConverter())
    assert [default.classify(t).category for t in ("买的粉碎机", "碎了", "今天到货")] == [
        C.INQUIRY,
        C.DAMAGED_MISSING,
        C.NOT_RECEIVED,
    ]


def test_find_phrases_prefers_the_longest_match() -> None:
    matches = find_phrases("差评师", RULES)
    assert [(m.phrase, m.start, m.end) for m in matches] == [("差评师", 0, 3)]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
        st.text(alphabet="没收到破损差评赔我不然！？!?😡 \x00\x07\n\t[订单x]", max_size=100),
    )
)
def test_no_input_makes_classify_raise(text: str) -> None:
    result = Classifier(RULES, CharSegmenter(), TableConverter()).classify(text)
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    ["", "破" * 10_000, "\x00\x01\x02", "😡" * 500, "[订单x]" * 300, "mixed 中文 ＡＢＣ 繁體 🙃"],
)
def test_extreme_inputs(classifier: Classifier, text: str) -> None:
    assert isinstance(classifier.classify(text).category, Category)


def topic(category: Category, weight: float) -> PhraseRule:
    return PhraseRule(categories=((category, weight),))


MECHANISM_PHRASES: dict[str, PhraseRule] = {
    **PHRASES,
    "快递员": topic(C.NOT_RECEIVED, 1.5),
    "物流": topic(C.NOT_RECEIVED, 2),
    "配送": topic(C.NOT_RECEIVED, 1),
    "有货": cat(C.INQUIRY, 0.5),
    "退款": cat(C.RETURN_REFUND, 2),
    "不想": PhraseRule(negation=True, negates_any=True),
    "如果": PhraseRule(hypothetical=True),
    "if": PhraseRule(hypothetical=True),
    "赔": PhraseRule(extortion=frozenset({ExtortionRole.BENEFIT})),
    "fulfilled": cat(C.RETURN_REFUND, 2),
}

MECHANISM_RULES = Rules(
    phrases=MECHANISM_PHRASES,
    category_threshold=1.0,
    cause_threshold=2.0,
    remedy_factor=0.5,
    topic=frozenset({"快递员", "物流", "配送"}),
    topic_factor=0.3,
    topic_keeps_against=frozenset({C.BAD_REVIEW, C.INQUIRY}),
    question_markers=("吗", "请问"),
    question_bonus=1.0,
    hypothetical_factor=0.0,
)


@pytest.fixture
def mechanisms() -> Classifier:
    return Classifier(MECHANISM_RULES, CharSegmenter(), TableConverter())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # topic words decide only when nothing else has evidence of its own
        ("快递员呢", C.NOT_RECEIVED),
        ("退款的快递员还没来取", C.RETURN_REFUND),
        ("物流太慢，给差评", C.NOT_RECEIVED),  # a review mention does not outweigh the topic
        ("快递员没收到", C.NOT_RECEIVED),  # real evidence of the topic's own category
        # a question about a problem it names (with cause strength) is about that problem;
        # a weaker hint or a topic leaves the question its inquiry bonus
        ("谢谢，没收到吗", C.NOT_RECEIVED),
        ("谢谢，到货了吗", C.INQUIRY),
        ("谢谢，配送吗", C.INQUIRY),
        ("谢谢，配送", C.NOT_RECEIVED),
        # a question that only names a topic stays a question, also on a tie
        ("是京东配送吗", C.INQUIRY),
        ("京东配送", C.NOT_RECEIVED),
        ("是物流吗", C.NOT_RECEIVED),  # a topic word heavier than the bonus still decides
        ("到货吗", C.NOT_RECEIVED),  # a tie with real evidence goes by category order
        # a condition clause makes a problem hypothetical, until the clause ends
        ("如果坏了可以退货", C.RETURN_REFUND),
        ("坏了可以退货", C.QUALITY),
        ("如果不合适，坏了", C.QUALITY),
        ("if broken I want a refund", C.RETURN_REFUND),
        # a negation of will cancels any category; a plain negation only the causes
        ("不想退货", C.INQUIRY),
        ("没退货", C.RETURN_REFUND),
        # a withheld benefit is a condition: "不赔…就投诉" is extortion
        ("不赔我就投诉", C.EXTORTION),
        ("赔我就行", C.INQUIRY),
        # a quotation mark is not part of a word
        ("they said 'order can not be fulfilled'", C.RETURN_REFUND),
    ],
)
def test_topic_question_condition_will(
    mechanisms: Classifier, text: str, expected: Category
) -> None:
    assert mechanisms.classify(text).category == expected


def test_will_keeps_and_tie_order() -> None:
    rules = replace(
        MECHANISM_RULES,
        phrases={**MECHANISM_PHRASES, "几天能到": cat(C.NOT_RECEIVED, 3)},
        will_keeps=frozenset({C.INVOICE}),
        tie_order=(C.SHIPPING_DELAY,),
    )
    classifier = Classifier(rules, CharSegmenter(), TableConverter())
    default = Classifier(
        replace(MECHANISM_RULES, phrases=rules.phrases), CharSegmenter(), TableConverter()
    )
    # "不想" cancels every category but those in will_keeps
    assert classifier.classify("不想要发票").category == C.INVOICE
    assert classifier.classify("不想退货").category == C.INQUIRY
    assert default.classify("不想要发票").category == C.INQUIRY
    # an exact tie goes to the first category of tie_order, else by taxonomy order
    assert classifier.classify("什么时候发货几天能到").category == C.SHIPPING_DELAY
    assert default.classify("什么时候发货几天能到").category == C.NOT_RECEIVED
    assert classifier.classify("没收到，发票").category == C.NOT_RECEIVED


@pytest.mark.parametrize(
    ("text", "phrase", "negated", "hypothetical"),
    [
        ("如果坏了", "坏了", False, True),
        ("如果那样,坏了", "坏了", False, False),
        ("不想退货", "退货", True, False),
        ("it's 'fulfilled'", "fulfilled", False, False),
    ],
)
def test_match_marks(text: str, phrase: str, negated: bool, hypothetical: bool) -> None:
    matches = [m for m in find_phrases(text, MECHANISM_RULES) if m.phrase == phrase]
    assert [(m.negated, m.hypothetical) for m in matches] == [(negated, hypothetical)]


def obj(category: Category, *takes: Category, weight: float = 0.0) -> PhraseRule:
    scores = ((category, weight),) if weight else ()
    return PhraseRule(categories=scores, object_of=category, object_takes=frozenset(takes))


OBJECT_RULES = Rules(
    phrases={
        **MECHANISM_PHRASES,
        "没收到": cat(C.NOT_RECEIVED, 3),
        "什么时候到": cat(C.NOT_RECEIVED, 3),
        "什么时候发": cat(C.SHIPPING_DELAY, 3),
        "不能用": cat(C.QUALITY, 2.5),
        "发票": obj(C.INVOICE, C.NOT_RECEIVED, C.SHIPPING_DELAY, weight=2.5),
        "退款": obj(C.RETURN_REFUND, C.NOT_RECEIVED, weight=2),
        "券": obj(C.INQUIRY, C.NOT_RECEIVED, C.QUALITY),
        "code": obj(C.INQUIRY, C.QUALITY),
        "not working": cat(C.QUALITY, 3),
        "haven't received": cat(C.NOT_RECEIVED, 3),
        "refund": obj(C.RETURN_REFUND, C.NOT_RECEIVED, weight=2),
    },
    category_threshold=1.0,
    cause_threshold=2.0,
    remedy_factor=0.5,
    object_gap_before_zh=4,
    object_gap_after_zh=1,
    object_gap_before_en=12,
    object_gap_after_en=6,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the keyword's object decides: before it (within 4 characters) or right after it
        ("发票没收到", C.INVOICE),
        ("发票到现在都没收到", C.INVOICE),
        ("我还没收到发票", C.INVOICE),
        ("发票什么时候发", C.INVOICE),
        ("退款什么时候到", C.RETURN_REFUND),
        ("优惠券不能用", C.INQUIRY),
        ("优惠券都不能用吗", C.INQUIRY),
        # an object takes only the categories it lists
        ("退款什么时候发", C.SHIPPING_DELAY),
        # too far or across punctuation: no claim
        ("发票开好了没有人在家所以没收到", C.NOT_RECEIVED),
        ("没收到,退款吧", C.NOT_RECEIVED),
        ("没收到货要退款", C.NOT_RECEIVED),
        # only the neighbouring match may claim a keyword
        ("退款发票没收到", C.INVOICE),
        # English, with wider gaps for the words in between
        ("I still haven't received my refund", C.RETURN_REFUND),
        ("the promo code is not working", C.INQUIRY),
        ("not working, and I want a refund", C.QUALITY),
    ],
)
def test_objects_claim_neighbouring_keywords(text: str, expected: Category) -> None:
    classifier = Classifier(OBJECT_RULES, CharSegmenter(), TableConverter())
    assert classifier.classify(text).category == expected
