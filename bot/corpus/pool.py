"""Draws the messages to label from the sources: held-out and dev texts dropped first.

The draw is seeded and recorded, so the same mirrors always give the same pool. Rare
categories (reviews, extortion, complaints, wrong items, not as described) are drawn on purpose
by cue words, on top of a plain random draw per source.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.corpus.sources import SourceText


def text_key(text: str) -> str:
    """The held-out key of a text (NFKC, case-folded, whitespace removed, SHA-256)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha256("".join(folded.split()).encode("utf-8")).hexdigest()


RARE_CUES: dict[str, str] = {
    "review": r"差评|中评|好评|评价|追评|评论|五星|一星|星评",
    "complaint": r"投诉|12315|工商|态度|不理|没人回|举报|起诉|消协|曝光|客服.{0,6}差",
    "wrong_item": r"发错|错发|发成|不是我买的|不是我要的|不是我订的|寄错|给错|型号不对|颜色不对|尺码不对",
    "not_as_described": r"不符|不一样|色差|假货|正品|山寨|图片|描述|宣传|翻新|二手|水货",
    "extortion": r"(返现|红包|赔|补偿|退一半|钱).{0,30}(评|投诉)|(评|投诉).{0,30}(返现|红包|赔|补偿|钱)",
}


@dataclass(frozen=True, slots=True)
class Draw:
    """How many messages to draw from one kind of source (by source id prefix) or cue."""

    name: str
    count: int


def eligible(
    texts: Iterable[SourceText], *, excluded_keys: set[str], min_len: int = 2, max_len: int = 400
) -> list[SourceText]:
    """Texts of a usable length whose key is neither excluded nor seen before (first kept)."""
    seen = set(excluded_keys)
    kept: list[SourceText] = []
    for item in texts:
        stripped = item.text.strip()
        if not (min_len <= len(stripped) <= max_len):
            continue
        key = text_key(stripped)
        if key in seen:
            continue
        seen.add(key)
        kept.append(item)
    return kept


def draw_pool(
    texts: Sequence[SourceText],
    *,
    random_draws: Sequence[Draw],
    cue_draws: Sequence[Draw],
    seed: int,
) -> list[tuple[SourceText, str]]:
    """(text, why drawn) pairs: random draws per source prefix, then cue draws from the rest."""
    rng = random.Random(seed)
    chosen: list[tuple[SourceText, str]] = []
    taken: set[str] = set()
    for draw in random_draws:
        candidates = [t for t in texts if t.source_id.startswith(draw.name)]
        for item in rng.sample(candidates, min(draw.count, len(candidates))):
            chosen.append((item, "random"))
            taken.add(item.source_id)
    for draw in cue_draws:
        pattern = re.compile(RARE_CUES[draw.name])
        candidates = [
            t
            for t in texts
            if t.language == "zh" and t.source_id not in taken and pattern.search(t.text)
        ]
        for item in rng.sample(candidates, min(draw.count, len(candidates))):
            chosen.append((item, f"cue:{draw.name}"))
            taken.add(item.source_id)
    return chosen


TEST_SHARE = 5  # one group in five is test (20 %)


def split_of(group: str) -> str:
    """The frozen split of a group: "test" for a fixed 20 % of groups, else "train"."""
    digest = hashlib.sha256(f"kefu-split-v1:{group}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") % TEST_SHARE == 0 else "train"
