"""The real classifier (phrasebook rules + jieba + OpenCC) on hand-written messages.

Every category and flag in Simplified, Traditional and English. The sentences are written for
these tests; none is taken from the labelled data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.classify import Classifier
from bot.core.types import Category, Flag, Language
from bot.nlp.pipeline import build_classifier

REPO = Path(__file__).resolve().parents[2]
C = Category
F = Flag


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    return build_classifier(REPO / "phrasebook", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def rules_only(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    """The hand rules alone: the mechanism tables test what the rules (the model's features) do."""
    return build_classifier(
        REPO / "phrasebook", cache_dir=tmp_path_factory.mktemp("cache"), learned=False
    )


CATEGORY_CASES = [
    # Simplified
    ("买了一周了快递还没到，到哪了", C.NOT_RECEIVED),
    ("付款三天了还不发货吗", C.SHIPPING_DELAY),
    ("打开盒子杯子碎了", C.DAMAGED_MISSING),
    ("买了两件只收到一件，少发了", C.DAMAGED_MISSING),
    ("我要的是蓝色，你们发错成红色了", C.WRONG_ITEM),
    ("实物和图片差别很大，色差严重", C.NOT_AS_DESCRIBED),
    ("吹风机用了三天就坏了，开不了机", C.QUALITY),
    ("拍错了，不想要了，帮我退款", C.RETURN_REFUND),
    ("好评返现的钱什么时候给", C.BAD_REVIEW),
    ("给我转300，不然差评", C.EXTORTION),
    ("你们客服态度太差了，半天没人回", C.COMPLAINT),
    ("麻烦开一下增值税专用发票", C.INVOICE),
    ("请问这款有货吗", C.INQUIRY),
    # Traditional
    ("包裹寄出一週了還沒收到，到底在哪", C.NOT_RECEIVED),
    ("下單很久了還沒出貨", C.SHIPPING_DELAY),
    ("外箱壓扁了，裡面的碗破損", C.DAMAGED_MISSING),
    ("寄錯顏色了，我買的是白色", C.WRONG_ITEM),
    ("這是假貨吧，不是正品", C.NOT_AS_DESCRIBED),
    ("用了兩天就壞掉了，按了沒反應", C.QUALITY),
    ("不想要了，怎麼申請退貨", C.RETURN_REFUND),
    ("我想修改評價，要怎麼改", C.BAD_REVIEW),
    ("賠我五百塊，不然就給差評", C.EXTORTION),
    ("客服態度很差，問了也不回覆", C.COMPLAINT),
    ("發票抬頭要寫公司名稱", C.INVOICE),
    ("請問有白色嗎", C.INQUIRY),
    # English
    ("Where is my order? It still hasn't arrived", C.NOT_RECEIVED),
    ("Ordered two weeks ago and it still hasn't shipped", C.SHIPPING_DELAY),
    ("The vase arrived broken, glass everywhere", C.DAMAGED_MISSING),
    ("You sent the wrong size, I ordered a medium", C.WRONG_ITEM),
    ("This looks nothing like the photos on the listing", C.NOT_AS_DESCRIBED),
    ("The kettle stopped working after a week", C.QUALITY),
    ("Can I get a refund? Changed my mind", C.RETURN_REFUND),
    ("How do I edit the review I left?", C.BAD_REVIEW),
    ("Pay me $100 or I post a 1 star review", C.EXTORTION),
    ("Your agent was rude and hung up on me", C.COMPLAINT),
    ("Please send me an invoice with VAT", C.INVOICE),
    ("Do you ship to Canada?", C.INQUIRY),
]


@pytest.mark.parametrize(("text", "expected"), CATEGORY_CASES)
def test_category_in_three_scripts(classifier: Classifier, text: str, expected: Category) -> None:
    assert classifier.classify(text).category == expected


FLAG_CASES = [
    ("什么垃圾东西，气死我了", F.ANGRY),
    ("怎么还没到！！！", F.ANGRY),
    ("再不发货我就给差评", F.THREATENS_REVIEW),
    ("三天不处理我就去12315投诉", F.THREATENS_COMPLAINT),
    ("东西坏了，你们得赔偿我的损失", F.WANTS_COMPENSATION),
    ("很急，明天要用，今天必须发", F.URGENT),
    ("什麼垃圾店，氣死了", F.ANGRY),
    ("再不寄出我就給差評", F.THREATENS_REVIEW),
    ("我要去消協投訴你們", F.THREATENS_COMPLAINT),
    ("退貨運費誰出？", F.WANTS_COMPENSATION),
    ("很急，今天一定要到", F.URGENT),
    ("This is ridiculous, worst shop ever", F.ANGRY),
    ("If it doesn't come tomorrow I'm leaving a 1 star review", F.THREATENS_REVIEW),
    ("I will file a complaint with the BBB", F.THREATENS_COMPLAINT),
    ("I expect compensation for this", F.WANTS_COMPENSATION),
    ("Urgent: I need it by Friday", F.URGENT),
    ("you lied to me again, this is bullshit", F.ANGRY),
    ("I'm sick and tired of this crap service", F.ANGRY),
    ("what the hell is going on with my order", F.ANGRY),
    ("you are a bunch of cheats, totally incompetent", F.ANGRY),
]


@pytest.mark.parametrize(("text", "flag"), FLAG_CASES)
def test_flag_in_three_scripts(classifier: Classifier, text: str, flag: Flag) -> None:
    assert flag in classifier.classify(text).flags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("没有破损，请问怎么用", C.INQUIRY),
        ("没有破损，但是发错颜色了", C.WRONG_ITEM),
        ("还没收到货", C.NOT_RECEIVED),
        ("没有发票", C.INVOICE),
        ("收到是碎的，我要退货", C.DAMAGED_MISSING),
        ("快递三天没到，我要投诉", C.NOT_RECEIVED),
        ("发错货了，我要退款", C.WRONG_ITEM),
        ("质量太差，不给我赔200就差评", C.EXTORTION),
        ("我寄错地址了，能改吗", C.INQUIRY),
        ("差评师又来了", C.EXTORTION),
    ],
)
def test_negation_and_precedence(rules_only: Classifier, text: str, expected: Category) -> None:
    assert rules_only.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 负评 is Taiwan's 差评: a money demand tied to it is extortion, in both scripts
        ("不匯300元到我帳戶，我就留負評", C.EXTORTION),
        ("不汇300元给我，我就给负评", C.EXTORTION),
        ("東西很好，不會給負評的", C.BAD_REVIEW),  # about a review, no threat
        ("不补偿我100块我就去平台投诉你们", C.EXTORTION),
        # topic words yield: a return shipment mentions couriers and tracking
        ("退货寄回去了，快递员取件后物流信息一直没显示", C.RETURN_REFUND),
        ("衣服掉色很严重，物流也慢", C.QUALITY),
        ("快递员说放门口了", C.NOT_RECEIVED),
        # a condition clause: the problem is hypothetical
        ("如果有质量问题的话可以退货吗", C.RETURN_REFUND),
        ("萬一收到是壞的可以退嗎", C.RETURN_REFUND),
        # a negation of will cancels the remedy
        ("鞋子开胶了，不想退货，能补偿点吗", C.QUALITY),
        # product evaluation words in a review
        ("用起来效果很差，性价比太低了", C.QUALITY),
        ("说好的分量不足，缺斤少两", C.NOT_AS_DESCRIBED),
        # a service failure in a condition has not happened; negated, it is no complaint
        ("如果客服没人回复，我明天再打电话", C.INQUIRY),
        ("客服一直没人回复", C.COMPLAINT),
        ("不是态度问题，是东西坏了", C.QUALITY),
        # complaints that carry their own negation or imperative
        ("到现在都没有给个说法", C.COMPLAINT),
        ("别敷衍我，赶紧处理", C.COMPLAINT),
        ("怎么没有人工客服", C.COMPLAINT),
        ("There are no agents available, this is ridiculous", C.COMPLAINT),
        # the seller cancelled the order
        ("Got an email saying my order has been cancelled, no reason given", C.RETURN_REFUND),
        ("They told me 'your order cannot be fulfilled'. Why?", C.RETURN_REFUND),
        ("Returned it two weeks ago, where is my refund?", C.RETURN_REFUND),
    ],
)
def test_mechanisms_in_real_rules(rules_only: Classifier, text: str, expected: Category) -> None:
    assert rules_only.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我还没收到货", Language.ZH_HANS),
        ("我還沒收到貨", Language.ZH_HANT),
        ("not here", Language.EN),
    ],
)
def test_language(classifier: Classifier, text: str, language: Language) -> None:
    assert classifier.classify(text).language == language


def test_no_flags_on_a_calm_message(classifier: Classifier) -> None:
    assert classifier.classify("你好，想问下什么时候发货").flags == frozenset()


def test_entities_and_keywords(rules_only: Classifier) -> None:
    result = rules_only.classify("订单号 2024061512345678901，顺丰SF1234567890123 还没收到")
    assert (
        result.entities.order_ids,
        result.entities.tracking_numbers,
        "还没收到" in result.keywords,
    ) == (("2024061512345678901",), ("SF1234567890123",), True)


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("東西很好，不會給負評的", set()),
        ("再不處理就給負評", {F.THREATENS_REVIEW}),
        ("再不处理就给负评", {F.THREATENS_REVIEW}),
    ],
)
def test_negative_review_threat_flags(classifier: Classifier, text: str, flags: set[Flag]) -> None:
    assert set(classifier.classify(text).flags) == flags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the object of a delivery or fault keyword decides what the message is about
        ("发票到现在还没收到", C.INVOICE),
        ("电子发票什么时候发给我", C.INVOICE),
        ("退款什么时候到", C.RETURN_REFUND),
        ("退货寄回去三天了，还没收到退款", C.RETURN_REFUND),
        ("说好的赠品还没发", C.DAMAGED_MISSING),
        ("下单用的优惠券不能用了", C.INQUIRY),
        ("一直收不到验证码", C.INQUIRY),
        ("客服说会回电，到现在没收到回复", C.COMPLAINT),
        ("發票什麼時候寄出", C.INVOICE),
        ("退款還沒到", C.RETURN_REFUND),
        ("禮品卡用不了", C.INQUIRY),
        ("Returned it last week and still haven't received my refund", C.RETURN_REFUND),
        ("The promo code doesn't work at checkout", C.INQUIRY),
        ("Never received the invoice for my order", C.INVOICE),
        # the parcel itself stays not_received, the product's fault stays quality
        ("还没收到货，我要退款", C.NOT_RECEIVED),
        ("用优惠券买的，收到就坏了，不能用", C.DAMAGED_MISSING),
        ("I paid with a gift card and the package never arrived", C.NOT_RECEIVED),
        # damage after use is a quality problem, damage on arrival stays damaged_missing
        ("用了一周屏幕裂了", C.QUALITY),
        ("穿了一次就破了个洞", C.QUALITY),
        ("戴了沒多久錶帶就斷了", C.QUALITY),
        ("收到的时候屏幕就是碎的", C.DAMAGED_MISSING),
        ("用了两天发现少了一个配件", C.DAMAGED_MISSING),
    ],
)
def test_objects_in_real_rules(rules_only: Classifier, text: str, expected: Category) -> None:
    assert rules_only.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # before buying, a delivery question is a pre-sale inquiry
        ("现在下单几天能到", C.INQUIRY),
        ("下单的话什么时候发货", C.INQUIRY),
        ("你们一般发哪家快递，能发顺丰吗", C.INQUIRY),
        ("現在下單幾天能到", C.INQUIRY),
        ("請問是什麼物流", C.INQUIRY),
        # after buying it is a delivery problem, even when a courier is named
        ("我昨天下单的到现在还没发货", C.SHIPPING_DELAY),
        ("为什么快递还没到", C.NOT_RECEIVED),
        ("什么快递啊，一周了还没到", C.NOT_RECEIVED),
        # how far the item is from its description
        ("实物和描述差距很大", C.NOT_AS_DESCRIBED),
        ("顏色跟圖片有出入", C.NOT_AS_DESCRIBED),
    ],
)
def test_presale_and_description_gap(classifier: Classifier, text: str, expected: Category) -> None:
    assert classifier.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a question that names its own problem is about the problem, not an inquiry
        ("拆封了还能退货吗", C.RETURN_REFUND),
        ("請問拆封了還能退貨嗎", C.RETURN_REFUND),
        ("我有问题要咨询", C.INQUIRY),  # a weak hint does not cancel the question
        ("是不是要另外付运费", C.INQUIRY),
        # a worry has not happened
        ("我怕收到就坏了", C.INQUIRY),
        ("收到就坏了", C.DAMAGED_MISSING),
        ("担心用了两天就坏", C.INQUIRY),
        # a negation of will keeps the invoice
        ("不用开发票了", C.INVOICE),
        ("不想退货了", C.INQUIRY),
        # an exact tie between shipping and delivery: not shipped yet
        ("几时发货？多久能到？", C.SHIPPING_DELAY),
        # a poor word right after the delivery is about the delivery
        ("快递太烂了", C.NOT_RECEIVED),
        ("東西真不好", C.QUALITY),
        # rescheduling and late arrival are about the delivery
        ("帮我改一下发货时间", C.NOT_RECEIVED),
        ("怎么要等五天才能到", C.NOT_RECEIVED),
        ("今天到不了吗", C.NOT_RECEIVED),
        ("什么时候能正常发货", C.SHIPPING_DELAY),
        # a screen broken in use is a repair, one broken on arrival a transit damage
        ("屏幕碎了怎么修", C.QUALITY),
        ("質保期內維修要錢嗎", C.QUALITY),
        ("衣服小了没法穿", C.NOT_AS_DESCRIBED),
        ("寄来了另外的款式", C.WRONG_ITEM),
        ("送到以后谁来安装", C.INQUIRY),
        ("查一下碎屏险", C.INQUIRY),
    ],
)
def test_questions_worries_and_ties(rules_only: Classifier, text: str, expected: Category) -> None:
    assert rules_only.classify(text).category == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # delivery arrangements after buying
        ("我的货呢", C.NOT_RECEIVED),
        ("麻烦明天送", C.NOT_RECEIVED),
        ("送之前提前打电话", C.NOT_RECEIVED),
        ("下周一可否到货", C.NOT_RECEIVED),
        ("柜子的取件码没收到", C.NOT_RECEIVED),
        # faults in use
        ("充电器不通电了", C.QUALITY),
        ("画面不清晰", C.QUALITY),
        ("插上就烧坏了", C.QUALITY),
        # exchanges, price drops and refunds
        ("想换个颜色", C.RETURN_REFUND),
        ("今天又便宜了", C.RETURN_REFUND),
        ("退款什么时候退还", C.RETURN_REFUND),
        # a pickup is a topic: a return's by itself, a repair's when the repair is named
        ("安排上门取件", C.RETURN_REFUND),
        ("返修的还没人来取件", C.QUALITY),
    ],
)
def test_arrangements_faults_and_pickups(
    rules_only: Classifier, text: str, expected: Category
) -> None:
    assert rules_only.classify(text).category == expected
