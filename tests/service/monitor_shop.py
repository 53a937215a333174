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
# Short messages with nothing but the word to go on: the shipped model files most elsewhere.
SHORT = (
    "又掉帧了",
    "怎么总掉帧",
    "画面掉帧",
    "一直在掉帧",
    "开个网页都掉帧",
    "游戏里掉帧",
    "隔一会掉帧一次",
    "屏幕老是掉帧",
    "这台也掉帧",
    "掉帧是什么情况",
    "为啥会掉帧",
    "今天又掉帧",
    "看电影掉帧",
    "接笔记本掉帧",
    "掉帧了怎么办",
)
UNSEEN = ("昨天收到的显示器掉帧", "掉帧了谁来处理一下", "又开始掉帧了", "晚上老掉帧")
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
