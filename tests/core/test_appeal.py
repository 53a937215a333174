"""Appeal drafts: facts from the log, the buyer's words verbatim, evidence, shop-zone times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR
from bot.core.appeal import (
    CaseFacts,
    FactAttachment,
    FactEvent,
    FactMessage,
    appeal_language,
    draft_appeal,
    local_time,
    quoted_messages,
    zone_label,
)
from bot.core.types import Language
from bot.core.wording import Wording
from bot.phrasebook.loader import load_phrasebook

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXTORTION = "不给我200元  我就给差评（说到做到）"
T0 = datetime(2026, 11, 22, 6, 3, tzinfo=UTC)  # 14:03 in Shanghai, 22:03 the day before in LA
SHA_PHOTO = "ab12cd34ef56" + "0" * 52
SHA_RECEIPT = "99887766aabb" + "1" * 52
HEAD = "f" * 64


@pytest.fixture(scope="module")
def wording() -> Wording:
    return load_phrasebook(DEFAULT_PHRASEBOOK_DIR).wording


def facts(platform: str = "taobao", **overrides: object) -> CaseFacts:
    values: dict[str, object] = {
        "case_id": 7,
        "platform": platform,
        "status": "responsibility_decided",
        "opened_at": T0,
        "buyer_name": "小王",
        "order_id": "4012345678901",
        "category": "extortion",
        "responsibility": "buyer",
        "messages": (
            FactMessage(T0, "in", "快递单号 SF1234567890123 显示签收了但我没收到", "not_received"),
            FactMessage(
                T0 + timedelta(minutes=2),
                "out",
                "非常抱歉，我马上联系快递核实签收情况，今天内给您答复。",
            ),
            FactMessage(
                T0 + timedelta(minutes=10),
                "in",
                EXTORTION,
                "extortion",
                ("threatens_review", "wants_compensation"),
            ),
            FactMessage(T0 + timedelta(minutes=11), "in", "谢谢", "inquiry"),
            FactMessage(
                T0 + timedelta(minutes=30),
                "out",
                "快递已确认放在驿站，取件码已发您，如有问题随时联系我们。",
            ),
        ),
        "attachments": (
            FactAttachment("photo", SHA_PHOTO),
            FactAttachment("document", None, status="failed"),
            FactAttachment("document", SHA_RECEIPT),
        ),
        "events": (
            FactEvent(T0 + timedelta(minutes=20), "case.status", "verifying"),
            FactEvent(T0 + timedelta(minutes=40), "case.status", "responsibility_decided", "buyer"),
            FactEvent(T0 + timedelta(minutes=41), "case.refused", "closed"),
        ),
        "chain_seq": 42,
        "chain_hash": HEAD,
    }
    values.update(overrides)
    return CaseFacts(**values)  # type: ignore[arg-type]


def test_a_taobao_appeal_in_simplified_chinese(wording: Wording) -> None:
    actual = draft_appeal(facts(), wording, shop_language=Language.EN, zone=SHANGHAI)
    expected = "\n".join(
        [
            "申诉材料 · 案件 #7",
            "平台：淘宝",
            "订单号：4012345678901",
            "运单号：SF1234567890123",
            "问题类型：差评师/勒索",
            "责任认定：买家",
            "",
            "经过（时间为店铺时区 UTC+08:00）：",
            "· 2026-11-22 14:03 买家首次联系（未收到货）：快递单号 SF1234567890123 显示签收了但我没收到",
            "· 2026-11-22 14:05 店铺首次答复：非常抱歉，我马上联系快递核实签收情况，今天内给您答复。",
            "· 2026-11-22 14:23 案件状态：核实中",
            "· 2026-11-22 14:33 店铺最新答复：快递已确认放在驿站，取件码已发您，如有问题随时联系我们。",
            "· 2026-11-22 14:43 核实后责任认定：买家",
            "",
            "买家原话（原文照录）：",
            f"· 2026-11-22 14:13「{EXTORTION}」",
            "",
            "所持证据：",
            "· 聊天记录 5 条（买家 3 条，店铺 2 条）",
            "· 买家发送的图片 / 文件 2 个，sha256：ab12cd34ef56, 99887766aabb",
            f"· 证据链头：第 42 条记录，哈希 {HEAD}（记录防篡改，可逐条核验）",
            "",
            "买家以差评 / 投诉相要挟，索取正常售后以外的款项，属恶意行为。"
            "以上均为原始记录，恳请平台核实并依规处理。",
        ]
    )
    assert actual == expected


def test_an_amazon_appeal_is_in_english_with_times_in_the_shop_zone(wording: Wording) -> None:
    zone = ZoneInfo("America/Los_Angeles")
    actual = draft_appeal(
        facts("amazon", order_id="112-1234567-1234567"),
        wording,
        shop_language=Language.ZH_HANS,
        zone=zone,
    )
    assert actual.splitlines()[:3] == [
        "Appeal · case #7",
        "Platform: Amazon",
        "Order ID: 112-1234567-1234567",
    ]
    assert "What happened (times in the shop's zone, UTC-08:00):" in actual
    assert f"· 2026-11-21 22:13 “{EXTORTION}”" in actual  # the buyer's words, verbatim
    assert "· 5 chat records (3 from the buyer, 2 from the shop)" in actual
    assert "sha256: ab12cd34ef56, 99887766aabb" in actual
    assert f"record 42, hash {HEAD}" in actual
    assert "Responsibility: Buyer" in actual
    assert actual.endswith("act under its rules.")


def test_other_platforms_use_the_shop_language(wording: Wording) -> None:
    actual = draft_appeal(
        facts("telegram", order_id=None), wording, shop_language=Language.ZH_HANT, zone=SHANGHAI
    )
    assert actual.splitlines()[:2] == ["申訴資料 · 案件 #7", "平台：Telegram"]
    assert "訂單編號" not in actual  # no order id known, none named in the messages
    assert f"· 2026-11-22 14:13「{EXTORTION}」" in actual
    assert "聊天紀錄 5 則（買家 3 則，店鋪 2 則）" in actual


def test_without_threats_there_are_no_quotes_and_the_plain_request(wording: Wording) -> None:
    calm = facts(
        category="not_received",
        responsibility=None,
        messages=(FactMessage(T0, "in", "我的订单号 4012345678901 还没发货吗", "shipping_delay"),),
        attachments=(),
        events=(),
        order_id=None,
    )
    actual = draft_appeal(calm, wording, shop_language=Language.ZH_HANS, zone=SHANGHAI)
    assert "买家原话" not in actual
    assert "sha256" not in actual
    assert "订单号：4012345678901" in actual  # the order id named in a message
    assert "责任认定：核实中" in actual
    assert actual.endswith("以上均为店铺客服系统的原始记录。恳请平台核实处理。")


def test_many_files_are_listed_with_a_count_of_the_rest(wording: Wording) -> None:
    many = facts(
        attachments=tuple(FactAttachment("photo", f"{i:012x}" + "0" * 52) for i in range(13))
    )
    actual = draft_appeal(many, wording, shop_language=Language.EN, zone=SHANGHAI)
    line = next(x for x in actual.splitlines() if "图片 / 文件" in x)
    assert line.startswith("· 买家发送的图片 / 文件 13 个，sha256：000000000000, 000000000001")
    assert line.endswith("000000000009, 另有 3 条")


@pytest.mark.parametrize(
    ("platform", "shop", "expected"),
    [
        ("taobao", Language.EN, Language.ZH_HANS),
        ("Kuaishou", Language.ZH_HANT, Language.ZH_HANS),
        ("amazon", Language.ZH_HANS, Language.EN),
        ("telegram", Language.ZH_HANT, Language.ZH_HANT),
        ("other", Language.EN, Language.EN),
    ],
)
def test_appeal_language(platform: str, shop: Language, expected: Language) -> None:
    assert appeal_language(platform, shop) == expected


@pytest.mark.parametrize(
    ("zone", "at", "label", "shown"),
    [
        ("Asia/Shanghai", T0, "UTC+08:00", "2026-11-22 14:03"),
        ("America/Los_Angeles", T0, "UTC-08:00", "2026-11-21 22:03"),
        (
            "America/Los_Angeles",
            datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
            "UTC-07:00",
            "2026-07-01 05:00",
        ),
        ("Asia/Kolkata", T0, "UTC+05:30", "2026-11-22 11:33"),
        ("UTC", T0, "UTC+00:00", "2026-11-22 06:03"),
    ],
)
def test_times_are_shown_in_the_shop_zone(zone: str, at: datetime, label: str, shown: str) -> None:
    assert (zone_label(at, ZoneInfo(zone)), local_time(at, ZoneInfo(zone))) == (label, shown)


def test_quoted_messages_are_the_buyers_threats_and_extortion() -> None:
    messages = (
        FactMessage(T0, "in", "再不发货我就给差评", "shipping_delay", ("threatens_review",)),
        FactMessage(T0, "in", "我要投诉到12315", "complaint", ("threatens_complaint",)),
        FactMessage(T0, "in", "给我50块就改好评", "extortion"),
        FactMessage(T0, "in", "好的谢谢", "inquiry", ("urgent",)),
        FactMessage(T0, "out", "差评威胁我们也会认真处理", "extortion", ("threatens_review",)),
    )
    actual = [m.text for m in quoted_messages(facts(messages=messages))]
    assert actual == ["再不发货我就给差评", "我要投诉到12315", "给我50块就改好评"]
