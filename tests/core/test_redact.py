"""Redaction: phone numbers, addresses, names and e-mail masked; order and tracking numbers kept."""

from __future__ import annotations

import re

import pytest

from bot.core.redact import Redactor, mask_name, redact_text


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("电话13812345678", (), "电话***********"),
        ("电话 138 1234 5678 谢谢", (), "电话 *** **** **** 谢谢"),
        ("电话138-1234-5678", (), "电话***-****-****"),
        ("+86 13812345678", (), "+** ***********"),
        ("１３８１２３４５６７８", (), "***********"),
        ("座机0571-88886666", (), "座机****-********"),
        ("call +1 415 555 0100 now", (), "call +* *** *** **** now"),
        ("订单号 123456789012345678", (), "订单号 123456789012345678"),
        ("单号SF1381234567890", (), "单号SF1381234567890"),
        ("order 13812345678901", (), "order 13812345678901"),
        (
            "我的地址是浙江省杭州市西湖区文三路100号请尽快发货",
            (),
            "我的地址是***请尽快发货",
        ),
        ("寄到上海市浦东新区世纪大道100号2栋301室", (), "寄到***"),
        ("广东省深圳市南山区", (), "***"),
        ("Ship to 221 Baker Street, Apt 2B please", (), "Ship to *** please"),
        ("收件人：张三 谢谢", (), "收件人：张** 谢谢"),
        ("我叫王小二", (), "我叫王**"),
        ("李小明说没收到", ("李小明",), "李**说没收到"),
        ("mail me: a.b+c@example.com", (), "mail me: ***"),
        ("还没收到货，快递到哪了", (), "还没收到货，快递到哪了"),
        ("", (), ""),
    ],
)
def test_redact_text(text: str, names: tuple[str, ...], expected: str) -> None:
    assert redact_text(text, names=names) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Defect 14: what the adversarial review found left behind.
        ("1600 Amphitheatre Pkwy", "***"),
        ("123 main street apt 4", "***"),
        ("1 Infinite Loop", "***"),
        ("上海市浦东新区张江镇…", "***…"),
        ("(415) 555-0100", "(***) ***-****"),
        ("0912-345-678", "****-***-***"),
        ("電話 0912345678", "電話 **********"),
        # More of the same shapes.
        ("send it to 10 Downing Street today", "send it to *** today"),
        ("350 Fifth Avenue, Suite 3400", "***"),
        ("42 Wallaby Way, Sydney", "***, Sydney"),
        ("北京朝阳区建国路88号", "***"),
        ("寄到天津市和平区南京路", "寄到***"),
        ("重庆渝中区解放碑街道", "***"),
        ("杭州市西湖区北山街道", "***"),
        ("call 415-555-0100 or 415.555.0199", "call ***-***-**** or ***.***.****"),
        ("手機 0912 345 678", "手機 **** *** ***"),
    ],
)
def test_defect_14_addresses_and_phone_numbers_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 123-4567890-1234567 shipped",  # an Amazon order number
        "订单号 123456789012345678",
        "运单 JT0912345678",  # a tracking number that merely contains a Taiwanese shape
        "tracking 9400111899223344556677",
        "价格 ¥1299.00，优惠 $15.99",
        "2026-11-20 到 2026-11-27",
        "3 items",
        "2 weeks",
        "waited 3 days on the road",
        "I bought 2 usb drive cables",
        "2 weeks road trip",
        "上海发货，北京时间下午三点",
        "我在上海市区",
        "上海的区别不大",
        "买了 3 件，等了 2 周",
        "10:30 到 12:45",
    ],
)
def test_defect_14_quantities_dates_prices_and_order_numbers_survive(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("李小明", "李**"),
        ("李", "李**"),
        ("Alice Brown", "A**********"),
        ("", ""),
        ("  王五 ", "王**"),
    ],
)
def test_mask_name(name: str, expected: str) -> None:
    assert mask_name(name) == expected


def test_json_masks_name_fields_and_the_names_they_give() -> None:
    payload = {
        "message": {
            "from": {"id": 42, "first_name": "李小明", "username": "lxm"},
            "text": "我是李小明，电话13812345678",
            "contact": {"phone_number": "+8613812345678"},
        },
        "update_id": 7,
    }
    assert Redactor().json(payload) == {
        "message": {
            "from": {"id": 42, "first_name": "李**", "username": "l**"},
            "text": "我是李**，电话***********",
            "contact": {"phone_number": "+*************"},
        },
        "update_id": 7,
    }


PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.mark.parametrize("separator", ["", " ", "-"])
@pytest.mark.parametrize("prefix", ["", "+86", "0086 ", "电话：", "tel "])
def test_no_mobile_number_survives(prefix: str, separator: str) -> None:
    number = separator.join(("139", "8765", "4321"))
    redacted = redact_text(f"请联系{prefix}{number}。")
    assert PHONE.findall(redacted.replace(" ", "").replace("-", "")) == []
