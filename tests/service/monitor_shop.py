"""A monitor shop's labels: 鬼影 (ghosting on a monitor), a word the shipped model does not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.labels import LabelStrength, ShopLabel
from bot.core.types import Category

WORD = "鬼影"
TAUGHT = (
    "显示器玩游戏一直鬼影",
    "鬼影严重，根本没法用",
    "屏幕鬼影怎么回事",
    "新买的显示器就鬼影",
    "看视频也鬼影",
    "开机半小时后开始鬼影",
    "你们这个显示器鬼影",
    "鬼影很厉害",
    "一到晚上就鬼影",
    "插上电脑就鬼影了",
    "144hz的屏幕还鬼影",
    "打游戏鬼影卡得要死",
    "收到货用了两天鬼影",
    "刷新率上不去一直鬼影",
    "鬼影这个问题能解决吗",
    "换了线还是鬼影",
    "屏幕动起来就鬼影",
    "鬼影太明显了",
    "这显示器老鬼影",
    "我这台鬼影很严重",
)
# Short messages with nothing but the word to go on: the shipped model files most elsewhere.
SHORT = (
    "又鬼影了",
    "怎么总鬼影",
    "画面鬼影",
    "一直在鬼影",
    "开个网页都鬼影",
    "游戏里鬼影",
    "隔一会鬼影一次",
    "屏幕老是鬼影",
    "这台也鬼影",
    "鬼影是什么情况",
    "为啥会鬼影",
    "今天又鬼影",
    "看电影鬼影",
    "接笔记本鬼影",
    "鬼影了怎么办",
)
UNSEEN = ("昨天收到的显示器鬼影", "鬼影了谁来处理一下", "又开始鬼影了", "晚上老鬼影")
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
