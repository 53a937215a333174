"""The training export: the shop's labelled buyer messages, one JSON object per line.

Each line is `{"record": "label", "message_id", "text", "category", "flags", "strength",
"weight", "time"}`; `time` is when the label was given (shop-local ISO-8601). An export of a
broken chain (`--allow-broken`) starts with the same `chain_broken` line as the `jsonl` export.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import IO

from bot.core.export_filter import ExportFilter
from bot.core.labels import ShopLabel, sorted_flag_values
from bot.export.view import ExportView


def wanted(label: ShopLabel, filters: ExportFilter) -> bool:
    """Whether a label falls in the filters' time range, category and flag."""
    if filters.until is not None and label.at >= filters.until:
        return False
    if filters.category is not None and label.category.value != filters.category:
        return False
    return filters.flag is None or filters.flag in {flag.value for flag in label.flags}


def write_training(
    labels: Sequence[ShopLabel],
    out: IO[bytes],
    view: ExportView,
    *,
    buyer_names: Mapping[int, str],
) -> int:
    """Write the labels as JSON lines (texts redacted when the view redacts); returns the count."""
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    if view.chain_broken_at is not None:
        stamp = {
            "record": "chain_broken",
            "seq": view.chain_broken_at,
            "stamp": view.machine_stamp(),
            "warning": view.stamp(),
        }
        out.write(dumps(stamp).encode("utf-8") + b"\n")
    for label in labels:
        text = label.text
        if view.redact:
            text = view.redactor(buyer_names.get(label.message_id)).text(text)
        row = {
            "record": "label",
            "message_id": label.message_id,
            "text": text,
            "category": label.category.value,
            "flags": sorted_flag_values(label.flags),
            "strength": label.strength.value,
            "weight": label.weight,
            "time": view.iso(label.at),
        }
        out.write(dumps(row).encode("utf-8") + b"\n")
    return len(labels)
