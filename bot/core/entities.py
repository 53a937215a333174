"""Facts pulled out of a buyer message: order and tracking numbers, amounts, phone numbers."""

from __future__ import annotations

import re

from bot.core.types import Entities

_ORDER_PLACEHOLDER = r"\[(?:订单|訂單)x\]"
_NUMBER_PLACEHOLDER = r"\[(?:数字|數字)x\]"

# Order numbers: after an order word, an Amazon-style 3-7-7 id, or a masked [订单x].
_ORDER_RE = re.compile(
    r"(?:订单(?:编号|号)?|訂單(?:編號|号|號)?|order\s*(?:number|no\.?|id)?\s*#?)\s*[:：#]?\s*"
    r"([A-Za-z0-9][A-Za-z0-9_-]{5,})"
    r"|(?<![\d-])(\d{3}-\d{7}-\d{7})(?![\d-])"
    r"|(" + _ORDER_PLACEHOLDER + r")",
    re.IGNORECASE,
)
# Tracking numbers: after a courier or waybill word, or the common letter-prefixed shapes.
_TRACKING_RE = re.compile(
    r"(?:运单号?|快递单号?|物流单号?|(?<![订訂])單號|(?<![订訂])单号|tracking(?:\s*(?:id|number|no\.?))?|"
    r"顺丰|順豐|中通|圆通|圓通|韵达|韻達|申通|极兔|極兔|ems|邮政|郵政|黑貓|黑猫|ups|usps|dhl|fedex)"
    r"\s*[:：#]?\s*([A-Za-z]{0,4}\d{9,20}[A-Za-z]{0,2})"
    r"|(?<![A-Za-z0-9])((?:SF|YT|JT|JD|TBA|ZTO|YD|LP|UX|RR|EE|CP)\d{9,18}|1Z[0-9A-Z]{16})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# Amounts: a currency sign before, or a currency word after, a number (digits or Chinese).
_CN_NUMBER = r"[零一二两三四五六七八九十百千万兩]+"
_AMOUNT_RE = re.compile(
    r"(?:[¥￥$£€]|rs\.?\s?|inr\s?|rmb\s?|usd\s?)\s?(\d[\d,]*(?:\.\d+)?)"
    r"|((?:\d[\d,]*(?:\.\d+)?|" + _NUMBER_PLACEHOLDER + r"|" + _CN_NUMBER + r")\s?"
    r"(?:元|块钱|块|塊錢|塊|蚊|港元|港幣|港币|台幣|台币|rmb|dollars?|bucks|pounds|inr|usd|hkd|twd|ntd))"
    r"|(\[(?:金额|金額)x\])",
    re.IGNORECASE,
)
# Phone numbers: mainland mobiles, Taiwanese mobiles, North-American shapes, a masked [电话x].
_PHONE_RE = re.compile(
    r"(?<!\d)(1[3-9]\d{9}|09\d{2}-?\d{3}-?\d{3}|\(\d{3}\)\s?\d{3}-\d{4}|\d{3}-\d{3}-\d{4})(?!\d)"
    r"|(\[(?:电话|電話)x\])"
)

_BARE_ORDER_RE = re.compile(r"(?<![\dA-Za-z])\d{16,20}(?![\dA-Za-z])")


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


_HAS_FIGURE_RE = re.compile(r"[\d\[零一二两兩三四五六七八九十百千万]")


def extract_entities(text: str) -> Entities:
    """Order, tracking and phone numbers and money amounts found in width-folded `text`."""
    if _HAS_FIGURE_RE.search(text) is None:
        return Entities()
    orders = [next(group for group in m.groups() if group) for m in _ORDER_RE.finditer(text)]
    tracking = [next(group for group in m.groups() if group) for m in _TRACKING_RE.finditer(text)]
    phones = [next(group for group in m.groups() if group) for m in _PHONE_RE.finditer(text)]
    amounts = [next(group for group in m.groups() if group) for m in _AMOUNT_RE.finditer(text)]
    phone_set = set(phones)
    tracking_set = set(tracking)
    orders = [o for o in orders if o not in phone_set and o not in tracking_set]
    if not orders:
        # A bare 16-20 digit number is, in these shops, almost always an order number.
        orders = [
            m.group(0) for m in _BARE_ORDER_RE.finditer(text) if m.group(0) not in tracking_set
        ]
    return Entities(
        order_ids=_unique(orders),
        tracking_numbers=_unique(tracking),
        amounts=_unique(amounts),
        phones=_unique(phones),
    )
