"""Shop words as a rules file a developer can merge into the phrasebook (`overrides:`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.core.shop_words import ShopWord
from bot.core.types import Category


def shop_words_yaml(
    words: Sequence[tuple[ShopWord, str, datetime]], *, shop_name: str, exported_at: datetime
) -> str:
    """A `rules/*.yaml` text with every shop word as an override: (word, added by, added at)."""
    lines = [
        f"# Shop words of {shop_name or 'the shop'}, exported {exported_at:%Y-%m-%d %H:%M} UTC by",
        "# `kefu phrasebook export-shop`. Each phrase is an override: it always wins over the",
        "# learned weights. Merge by copying this file to phrasebook/rules/ (e.g. 90-shop.yaml)",
        "# and run `kefu phrasebook check`.",
    ]
    if not words:
        return "\n".join([*lines, "overrides: {}"]) + "\n"
    lines.append("overrides:")
    for category in Category:
        chosen = [entry for entry in words if entry[0].category is category]
        if not chosen:
            continue
        lines.append(f"  {category.value}:")
        for word, added_by, added_at in sorted(chosen, key=lambda entry: entry[0].phrase):
            weight = int(word.weight) if word.weight.is_integer() else word.weight
            who = f"{added_by}, " if added_by else ""
            lines.append(
                f"    {json.dumps(word.phrase, ensure_ascii=False)}: {weight}"
                f"  # {who}{added_at:%Y-%m-%d}"
            )
    return "\n".join(lines) + "\n"
