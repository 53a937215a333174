"""Sealing a new evidence row in chain format 2: fresh salts, then its hash (bot.core.evidence)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table

from bot.core.evidence import FORMAT_COLUMNS, FORMAT_V2, PERSONAL_FIELDS, openings_text, row_hash_v2

SALT_BYTES = 16


@cache
def hashed_names(table: Table) -> tuple[str, ...]:
    """The columns that enter a row's hash: all but `hash`, `seq` and the format columns."""
    return tuple(
        c.name
        for c in table.columns
        if c.name not in ("hash", "seq") and c.name not in FORMAT_COLUMNS
    )


def seal(
    table_name: str, hashed: Sequence[str], prev: str, seq: int, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The row as stored (id, seq, format 2, salts, hash) when it follows `prev` at `seq`."""
    salts = {name: secrets.token_hex(SALT_BYTES) for name in PERSONAL_FIELDS[table_name]}
    full = {
        **values,
        "id": seq,
        "seq": seq,
        "format": FORMAT_V2,
        "salts": openings_text(salts),
        "erased": None,
    }
    full["hash"] = row_hash_v2(prev, table_name, seq, {n: full[n] for n in hashed}, salts)
    return full
