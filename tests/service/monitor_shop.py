"""A monitor shop's labels: 掉帧 (dropped frames), a word the shipped model does not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.labels import LabelStrength, ShopLabel
from bot.core.types import Category

WORD = "掉帧"
TAUGHT = (
    "显示器玩游戏一直掉帧",
    "掉帧严重，根本没法用",
    "屏幕掉帧怎么回事",
    "新买的显示器就掉帧",
    "看视频也掉帧",
    "开机半小时后开始掉帧",
    "你们这个显示器掉帧",
    "掉帧掉得厉害",
    "一到晚上就掉帧",
    "插上电脑就掉帧了",
    "144hz的屏幕还掉帧",
    "打游戏掉帧卡得要死",
    "收到货用了两天掉帧",
    "刷新率上不去一直掉帧",
    "掉帧这个问题能解决吗",
    "换了线还是掉帧",
    "屏幕动起来就掉帧",
    "掉帧太明显了",
    "这显示器老掉帧",
    "我这台掉帧很严重",
)
UNSEEN = ("昨天收到的显示器掉帧", "掉帧了谁来处理一下", "用着用着又掉帧", "这个屏掉帧好烦")
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def corrections(count: int = len(TAUGHT)) -> list[ShopLabel]:
    """`count` corrections to quality, a minute apart."""
    return [
        ShopLabel(
            message_id=i + 1,
            text=TAUGHT[i % len(TAUGHT)],
            category=Category.QUALITY,
            flags=frozenset(),
            strength=LabelStrength.CORRECTION,
            at=START + timedelta(minutes=i),
        )
        for i in range(count)
    ]
