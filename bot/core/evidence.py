"""The tamper-evidence math: canonical encoding of evidence rows, the hash chain, and its check.

Canonical encoding (version 1). An evidence row of table T with sequence number N and columns
F (every column except `hash`, including `id`) is encoded as the JSON text of the object
``{"fields": F, "seq": N, "table": T}`` with keys sorted at every level, no whitespace
(separators ``,`` and ``:``), non-ASCII characters written as themselves (not ``\\u`` escapes),
encoded as UTF-8. Values: text as JSON strings; integers as JSON integers; booleans as
``true``/``false``; None as ``null``; floats as Python's shortest round-trip ``repr``
(NaN and infinities are refused); timestamps as UTC ISO-8601 strings with microseconds and a
``Z`` (``2026-11-22T08:30:00.000000Z``); naive timestamps are refused.

Chain: ``hash(row) = sha256(prev_hash_hex_ascii || canonical_bytes(row))`` as 64 lowercase hex
digits, where ``prev_hash`` is the hash of the row with sequence number N-1, and the row with
N=1 follows the genesis hash of 64 zeros. Sequence numbers run 1, 2, 3, ... across all evidence
tables together, without gaps; the chain head records the last one.

Chain format 2 (records written after migration 0007; each record stores its `format`). The
personal fields of a table (`PERSONAL_FIELDS`) enter the canonical document not as their values
but as salted digests ``"sha256:" + sha256(salt || canonical JSON of the value)``, where the salt
is 16 random bytes kept per record and field (the record's `salts`, JSON ``{field: hex}``), and
the document carries ``"format": 2``. Erasing a field empties its value, drops its salt and keeps
its digest (the record's `erased`, JSON ``{field: hex digest}``), so the record's hash is
unchanged and the erased value cannot be guessed back from a short digest. Format 1 records
(written before) are hashed as above, their new columns ignored.

The check of a stream of rows against the chain is `bot.core.chain_check`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

GENESIS_HASH = "0" * 64
ENCODING_VERSION = 1
FORMAT_V1 = 1
FORMAT_V2 = 2
CURRENT_FORMAT = FORMAT_V2
DIGEST_PREFIX = "sha256:"

# Fields holding a buyer's personal data, committed to by salted digest in format 2.
PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "raw_updates": ("payload",),
    "messages": ("text",),
    "attachments": ("telegram_file_id", "telegram_file_unique_id", "file_name", "stored_path"),
    "audit_log": ("details",),
}
# What reading code puts in place of an erased field before it is shown (translated by exports).
ERASED_MARK = "\u27eaerased\u27eb"
# Columns that say how a record is hashed rather than what it holds: never hashed themselves.
FORMAT_COLUMNS = ("format", "salts", "erased")

FieldValue = str | int | float | bool | datetime | None


class CanonicalEncodingError(ValueError):
    """A value that has no canonical encoding (naive datetime, NaN, unknown type)."""


def canonical_value(value: object) -> object:
    """The JSON-ready form of one field value under the canonical encoding."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalEncodingError(f"non-finite float {value!r}")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise CanonicalEncodingError("naive datetime")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise CanonicalEncodingError(f"no canonical encoding for {type(value).__name__}")


def canonical_bytes(table: str, seq: int, fields: Mapping[str, object]) -> bytes:
    """The canonical bytes of one evidence row (see the module docstring)."""
    document = {
        "fields": {name: canonical_value(value) for name, value in fields.items()},
        "seq": seq,
        "table": table,
    }
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


# Encoders built once (json.dumps with options builds one per call): the same output as
# json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).
_DOCUMENT_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def field_digest(salt: str, value: object) -> str:
    """The salted digest of one personal field: sha256 over the salt's bytes and the value's JSON."""
    digest = hashlib.sha256(bytes.fromhex(salt))
    digest.update(_DOCUMENT_JSON(canonical_value(value)).encode("utf-8"))
    return digest.hexdigest()


class MissingOpeningError(ValueError):
    """A format-2 personal field with neither its salt nor its kept digest."""


def committed_fields(
    table: str,
    fields: Mapping[str, object],
    salts: Mapping[str, str],
    erased: Mapping[str, str],
) -> dict[str, object]:
    """The fields as format 2 commits to them: personal fields replaced by their digests."""
    committed: dict[str, object] = dict(fields)
    for name in PERSONAL_FIELDS.get(table, ()):
        kept = erased.get(name)
        if kept is not None:
            committed[name] = DIGEST_PREFIX + kept
        elif name in salts:
            committed[name] = DIGEST_PREFIX + field_digest(salts[name], fields.get(name))
        else:
            raise MissingOpeningError(f"{table}.{name} has neither a salt nor a kept digest")
    return committed


def canonical_bytes_v2(
    table: str,
    seq: int,
    fields: Mapping[str, object],
    salts: Mapping[str, str],
    erased: Mapping[str, str],
) -> bytes:
    """The canonical bytes of a format-2 row: personal fields as digests, and `"format": 2`."""
    personal = PERSONAL_FIELDS.get(table, ())
    encoded = {
        name: canonical_value(value) for name, value in fields.items() if name not in personal
    }
    encoded.update(committed_fields(table, {n: fields.get(n) for n in personal}, salts, erased))
    document = {"fields": encoded, "format": FORMAT_V2, "seq": seq, "table": table}
    return _DOCUMENT_JSON(document).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """sha256 over the previous hash (64 hex digits, ASCII) followed by the canonical bytes."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical)
    return digest.hexdigest()


def row_hash(prev_hash: str, table: str, seq: int, fields: Mapping[str, object]) -> str:
    """The chain hash of one row given the previous row's hash."""
    return chain_hash(prev_hash, canonical_bytes(table, seq, fields))


def row_hash_v2(
    prev_hash: str,
    table: str,
    seq: int,
    fields: Mapping[str, object],
    salts: Mapping[str, str],
    erased: Mapping[str, str] | None = None,
) -> str:
    """The chain hash of one format-2 row given the previous row's hash."""
    return chain_hash(prev_hash, canonical_bytes_v2(table, seq, fields, salts, erased or {}))


def parse_openings(text: str | None) -> dict[str, str]:
    """A record's `salts` or `erased` column ({field: hex}); empty when none."""
    if not text:
        return {}
    found = json.loads(text)
    if not isinstance(found, dict):
        raise ValueError("openings must be a JSON object")
    return found


def openings_text(openings: Mapping[str, str]) -> str | None:
    """The stored form of `salts` or `erased`: compact JSON with sorted keys, None when empty."""
    if not openings:
        return None
    return json.dumps(dict(openings), sort_keys=True, separators=(",", ":"))


def erase_fields(
    table: str,
    fields: Mapping[str, object],
    salts: Mapping[str, str],
    erased: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, str]]:
    """A format-2 record's (salts, erased) after erasing every personal field it still holds."""
    kept = dict(erased)
    remaining = dict(salts)
    for name in PERSONAL_FIELDS.get(table, ()):
        if name in remaining:
            kept[name] = field_digest(remaining.pop(name), fields.get(name))
    return remaining, kept


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last sequence number of the chain and its hash."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.hash}@{self.seq}"


def parse_head(text: str) -> ChainHead:
    """Parse a published head written as `HASH@SEQ`; raise ValueError when malformed."""
    hash_part, sep, seq_part = text.strip().partition("@")
    hash_part = hash_part.lower()
    if (
        not sep
        or len(hash_part) != 64
        or any(c not in "0123456789abcdef" for c in hash_part)
        or not seq_part.isdigit()
    ):
        raise ValueError(f"{text!r} is not HASH@SEQ (64 hex digits, @, a sequence number)")
    return ChainHead(seq=int(seq_part), hash=hash_part)


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One evidence row as read back: its table, id, sequence number, stored hash and fields."""

    table: str
    id: int
    seq: int
    hash: str
    fields: Mapping[str, object]
    format: int = FORMAT_V1
    salts: Mapping[str, str] | None = None
    erased: Mapping[str, str] | None = None

    def computed_hash(self, prev_hash: str) -> str:
        """The hash this record should have after `prev_hash`, under its own chain format."""
        if self.format == FORMAT_V1:
            return row_hash(prev_hash, self.table, self.seq, self.fields)
        if self.format != FORMAT_V2:
            return ""  # an unknown format never matches
        try:
            return row_hash_v2(
                prev_hash, self.table, self.seq, self.fields, self.salts or {}, self.erased
            )
        except (MissingOpeningError, ValueError):
            return ""


class BreakKind(StrEnum):
    """What is wrong with a record."""

    CHANGED = "changed"
    DELETED = "deleted"
    INSERTED = "inserted"
    ATTACHMENT_MISSING = "attachment missing"
    ATTACHMENT_CHANGED = "attachment changed"
    HEAD_MISMATCH = "head mismatch"
    WITNESS_MISSING = "published head not in chain"
    UNAUTHORISED_ERASURE = "erased without an erasure record"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """A bad record: where it is (table, id, sequence number) and what is wrong."""

    table: str
    id: int | None
    seq: int
    kind: BreakKind
    detail: str

    def __str__(self) -> str:
        where = f"{self.table} id={self.id if self.id is not None else '-'} seq={self.seq}"
        return f"{where}: {self.kind.value}: {self.detail}"


def witness_text(template: str, *, head: ChainHead, records: int, at: datetime) -> str:
    """The witness message: the template filled with hash, seq, records, time (UTC) and check."""
    if at.tzinfo is None:
        raise CanonicalEncodingError("naive datetime")
    return template.format(
        hash=head.hash,
        seq=head.seq,
        records=records,
        time=at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        check=str(head),
    )
