"""The evidence math: canonical bytes, chain hashes, and the streaming verifier, as tables."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.chain_check import ChainVerifier
from bot.core.evidence import (
    FORMAT_V2,
    GENESIS_HASH,
    BreakKind,
    CanonicalEncodingError,
    ChainHead,
    ChainRecord,
    canonical_bytes,
    canonical_bytes_v2,
    chain_hash,
    erase_fields,
    field_digest,
    parse_head,
    row_hash,
    row_hash_v2,
)

WHEN = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("table", "seq", "fields", "expected"),
    [
        ("audit_log", 1, {}, b'{"fields":{},"seq":1,"table":"audit_log"}'),
        (
            "messages",
            7,
            {"text": "还没收到货", "id": 7, "flags": ""},
            '{"fields":{"flags":"","id":7,"text":"还没收到货"},"seq":7,"table":"messages"}'.encode(),
        ),
        (
            "messages",
            2,
            {"b": None, "a": True, "c": 0.5, "d": False},
            b'{"fields":{"a":true,"b":null,"c":0.5,"d":false},"seq":2,"table":"messages"}',
        ),
        (
            "raw_updates",
            3,
            {"received_at": WHEN},
            b'{"fields":{"received_at":"2026-11-22T08:30:00.000000Z"},"seq":3,"table":"raw_updates"}',
        ),
        (
            "raw_updates",
            3,
            {
                "received_at": datetime(
                    2026, 11, 22, 16, 30, 0, 12, tzinfo=timezone(timedelta(hours=8))
                )
            },
            b'{"fields":{"received_at":"2026-11-22T08:30:00.000012Z"},"seq":3,"table":"raw_updates"}',
        ),
        (
            "audit_log",
            4,
            {"details": 'a "quote"\nnew line'},
            b'{"fields":{"details":"a \\"quote\\"\\nnew line"},"seq":4,"table":"audit_log"}',
        ),
    ],
)
def test_canonical_bytes(table: str, seq: int, fields: dict[str, object], expected: bytes) -> None:
    assert canonical_bytes(table, seq, fields) == expected


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 1), float("nan"), float("inf"), b"bytes", [1, 2]],
)
def test_canonical_bytes_refuses(value: object) -> None:
    with pytest.raises(CanonicalEncodingError):
        canonical_bytes("messages", 1, {"x": value})


def test_chain_hash_is_sha256_of_prev_hex_then_bytes() -> None:
    canonical = canonical_bytes("audit_log", 1, {"action": "export"})
    expected = hashlib.sha256(GENESIS_HASH.encode("ascii") + canonical).hexdigest()
    assert chain_hash(GENESIS_HASH, canonical) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 64 + "@12", ChainHead(seq=12, hash="a" * 64)),
        ("  " + "F" * 64 + "@0 ", ChainHead(seq=0, hash="f" * 64)),
    ],
)
def test_parse_head(text: str, expected: ChainHead) -> None:
    assert parse_head(text) == expected


@pytest.mark.parametrize("text", ["abc@1", "a" * 64, "a" * 64 + "@x", "g" * 64 + "@1", "@1"])
def test_parse_head_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HASH@SEQ"):
        parse_head(text)


def _chain(n: int) -> list[ChainRecord]:
    records: list[ChainRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        table = ("raw_updates", "messages", "audit_log")[seq % 3]
        fields = {"id": seq, "text": f"record {seq}", "at": WHEN}
        digest = row_hash(prev, table, seq, fields)
        records.append(ChainRecord(table, seq, seq, digest, fields))
        prev = digest
    return records


def _run(
    records: list[ChainRecord], head: ChainHead, witness: ChainHead | None = None
) -> list[tuple[str, int, BreakKind]]:
    verifier = ChainVerifier(witness=witness)
    index = 0
    while index < len(records):
        group = [records[index]]
        while index + len(group) < len(records) and records[index + len(group)].seq == group[0].seq:
            group.append(records[index + len(group)])
        verifier.feed(group)
        index += len(group)
    verifier.finish(head)
    return [(b.table, b.seq, b.kind) for b in verifier.breaks]


GOOD = _chain(6)
HEAD = ChainHead(seq=6, hash=GOOD[-1].hash)


def _changed(record: ChainRecord) -> ChainRecord:
    return ChainRecord(
        record.table, record.id, record.seq, record.hash, {**record.fields, "text": "forged"}
    )


def _forged_duplicate(record: ChainRecord) -> ChainRecord:
    return ChainRecord("audit_log", 99, record.seq, "f" * 64, {"id": 99})


@pytest.mark.parametrize(
    ("name", "records", "head", "expected"),
    [
        ("intact", GOOD, HEAD, []),
        ("empty", [], ChainHead(0, GENESIS_HASH), []),
        (
            "changed",
            [*GOOD[:2], _changed(GOOD[2]), *GOOD[3:]],
            HEAD,
            [(GOOD[2].table, 3, BreakKind.CHANGED)],
        ),
        ("deleted middle", [*GOOD[:2], *GOOD[3:]], HEAD, [(GOOD[3].table, 4, BreakKind.DELETED)]),
        ("deleted last", GOOD[:5], HEAD, [("chain_head", 6, BreakKind.DELETED)]),
        (
            "inserted duplicate seq",
            [*GOOD[:3], _forged_duplicate(GOOD[3]), *GOOD[3:]],
            HEAD,
            [("audit_log", 4, BreakKind.INSERTED)],
        ),
        (
            "head rewritten",
            GOOD,
            ChainHead(6, "e" * 64),
            [("chain_head", 6, BreakKind.HEAD_MISMATCH)],
        ),
    ],
)
def test_verifier_names_each_break(
    name: str,
    records: list[ChainRecord],
    head: ChainHead,
    expected: list[tuple[str, int, BreakKind]],
) -> None:
    assert _run(records, head) == expected


@pytest.mark.parametrize(
    ("witness", "expected"),
    [
        (ChainHead(4, GOOD[3].hash), []),
        (ChainHead(0, GENESIS_HASH), []),
        (ChainHead(4, "d" * 64), [(GOOD[3].table, 4, BreakKind.WITNESS_MISSING)]),
        (ChainHead(9, GOOD[3].hash), [("chain_head", 9, BreakKind.WITNESS_MISSING)]),
    ],
)
def test_verifier_checks_published_head(
    witness: ChainHead, expected: list[tuple[str, int, BreakKind]]
) -> None:
    assert _run(GOOD, HEAD, witness) == expected


def test_core_evidence_imports_no_io_library() -> None:
    code = (
        "import sys, bot.core.evidence; "
        "bad = [m for m in ('sqlalchemy', 'telegram', 'yaml', 'jieba', 'opencc', 'httpx') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- chain format 2 (issue 16) ----------------------------------------------------------------

SALT = "00112233445566778899aabbccddeeff"


def test_format_2_commits_to_a_salted_digest_of_each_personal_field() -> None:
    fields = {"id": 3, "text": "电话13812345678", "direction": "in"}
    digest = hashlib.sha256(bytes.fromhex(SALT) + '"电话13812345678"'.encode()).hexdigest()
    expected = (
        '{"fields":{"direction":"in","id":3,"text":"sha256:' + digest + '"},'
        '"format":2,"seq":3,"table":"messages"}'
    ).encode()
    assert field_digest(SALT, "电话13812345678") == digest
    assert canonical_bytes_v2("messages", 3, fields, {"text": SALT}, {}) == expected


def test_erasing_a_field_keeps_the_hash_and_drops_value_and_salt() -> None:
    fields = {"id": 3, "text": "地址 文三路100号", "direction": "in"}
    before = row_hash_v2(GENESIS_HASH, "messages", 3, fields, {"text": SALT})
    salts, kept = erase_fields("messages", fields, {"text": SALT}, {})
    after = row_hash_v2(GENESIS_HASH, "messages", 3, {**fields, "text": ""}, salts, kept)
    assert (salts, after) == ({}, before)
    assert kept == {"text": field_digest(SALT, "地址 文三路100号")}


def test_verifier_checks_format_1_and_format_2_records_in_one_chain() -> None:
    old = {"id": 1, "action": "export"}
    first = row_hash(GENESIS_HASH, "audit_log", 1, old)
    new = {"id": 2, "text": "hi", "direction": "in"}
    second = row_hash_v2(first, "messages", 2, new, {"text": SALT})
    verifier = ChainVerifier()
    assert verifier.feed([ChainRecord("audit_log", 1, 1, first, old)]) == []
    erased = ChainRecord(
        "messages",
        2,
        2,
        second,
        {**new, "text": ""},
        FORMAT_V2,
        {},
        {"text": field_digest(SALT, "hi")},
    )
    assert verifier.feed([erased]) == []
    forged = ChainRecord(
        "messages", 2, 2, second, {**new, "text": "bye"}, FORMAT_V2, {"text": SALT}
    )
    assert [b.kind for b in ChainVerifier(prev_seq=1, prev_hash=first).feed([forged])] == [
        BreakKind.CHANGED
    ]
    no_opening = ChainRecord("messages", 2, 2, second, new, FORMAT_V2, {}, {})
    assert [b.kind for b in ChainVerifier(prev_seq=1, prev_hash=first).feed([no_opening])] == [
        BreakKind.CHANGED
    ]
