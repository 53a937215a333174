"""Each export format's content, checked against a log the tests build (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.core.export_filter import ExportFilter, ExportFormat
from bot.core.roles import Role
from bot.core.types import Language
from bot.export.service import ExportRequest, case_bundle, fit_for_upload, write_export
from bot.export.tables import CONVERSATION_COLUMNS, MESSAGE_COLUMNS
from bot.storage.evidence import chain_head
from tests.export.conftest import ADDRESS, BUYER_NAME, PHONE, Shop

PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|\+1 415 555 0100")
DIGEST = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{32}){1,2}(?![0-9a-f])")


def _request(fmt: ExportFormat, **kwargs: Any) -> ExportRequest:
    filters = kwargs.pop("filters", ExportFilter())
    return ExportRequest(
        format=fmt,
        filters=filters,
        actor_telegram_id=9002,
        actor_role=Role.SUPERVISOR,
        language=kwargs.pop("language", Language.ZH_HANS),
        **kwargs,
    )


async def _export(shop: Shop, request: ExportRequest) -> tuple[bytes, int]:
    out = io.BytesIO()
    rows = await write_export(
        db=shop.db, settings=shop.settings, wording=shop.wording, request=request, out=out
    )
    return out.getvalue(), rows


async def test_csv_has_bom_columns_and_chinese(shop: Shop) -> None:
    data, rows = await _export(shop, _request(ExportFormat.CSV))
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == list(MESSAGE_COLUMNS)
    assert rows == len(table) - 1 == 5
    column = {name: index for index, name in enumerate(table[0])}
    assert [r[column["text"]] for r in table[1:]] == shop.texts
    assert [r[column["direction"]] for r in table[1:]] == ["in", "out", "in", "out", "in"]
    assert table[1][column["buyer"]] == BUYER_NAME
    assert [r[column["outcome"]] for r in table[1:]] == ["sent", "sent", "own", "own", "escalated"]
    assert table[3][column["flags"]] == "angry,threatens_review"
    assert table[1][column["time"]] == "2026-11-20T09:00:00+08:00"
    async with shop.db.session() as session:
        head = await chain_head(session=session)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r[column["hash"]]) for r in table[1:])
    assert int(table[-1][column["seq"]]) <= head.seq


async def test_conversations_csv_has_metrics(shop: Shop) -> None:
    data, rows = await _export(shop, _request(ExportFormat.CONVERSATIONS))
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == 2
    assert list(table[0].keys()) == list(CONVERSATION_COLUMNS)
    first, second = table
    assert (first["conversation_id"], first["buyer"], first["agents"]) == (
        str(shop.case_one),
        BUYER_NAME,
        "王客服",
    )
    assert (first["first_response_seconds"], first["messages_in"], first["messages_out"]) == (
        "120.0",
        "2",
        "2",
    )
    assert (first["suggestions_sent"], first["suggestions_own"], first["acceptance"]) == (
        "1",
        "1",
        "50%",
    )
    assert (second["first_response_seconds"], second["suggestions_escalated"]) == ("", "1")


async def test_xlsx_reads_back_with_both_sheets(shop: Shop) -> None:
    data, rows = await _export(shop, _request(ExportFormat.XLSX))
    assert rows == 5  # the messages sheet's rows: what the csv export counts (defect 18)
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["消息", "会话"]
    messages = list(book["消息"].iter_rows(values_only=True))
    assert messages[0][2] == "时间"
    assert [m[15] for m in messages[1:]] == shop.texts
    assert [m[3] for m in messages[1:3]] == ["买家", "店铺"]
    assert messages[1][10] == "未收到货"
    conversations = list(book["会话"].iter_rows(values_only=True))
    assert len(conversations) == 3
    assert conversations[1][2] == BUYER_NAME


async def test_jsonl_has_every_kind_of_record(shop: Shop) -> None:
    data, rows = await _export(shop, _request(ExportFormat.JSONL))
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert rows == len(lines)
    kinds = [line["record"] for line in lines]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "message": 5,
        "attachment": 1,
        "raw_update": 2,
        "audit": 2,
        "conversation": 2,
        "card": 3,
    }
    assert [line["text"] for line in lines if line["record"] == "message"] == shop.texts
    raw = [line for line in lines if line["record"] == "raw_update"]
    assert json.loads(raw[0]["payload"])["message"]["from"]["first_name"] == BUYER_NAME


async def test_html_has_every_message_in_order(shop: Shop) -> None:
    data, rows = await _export(shop, _request(ExportFormat.HTML))
    html = data.decode("utf-8")
    assert rows == 2
    positions = [html.index(text.replace("'", "&#39;")) for text in shop.texts]
    assert positions == sorted(positions)
    assert f"案件 #{shop.case_one} 会话记录" in html
    assert "data:image/jpeg;base64," in html  # the photo, inline for offline reading
    assert "回复检查发现问题" in html  # the case history


async def test_filters_pick_a_case_and_a_flag(shop: Shop) -> None:
    data, rows = await _export(
        shop, _request(ExportFormat.CSV, filters=ExportFilter(case=shop.case_two))
    )
    assert rows == 1
    data, rows = await _export(
        shop, _request(ExportFormat.CSV, filters=ExportFilter(flag="threatens_review"))
    )
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["text"] for r in table] == [shop.texts[2], shop.texts[4]]
    data, rows = await _export(
        shop, _request(ExportFormat.CSV, filters=ExportFilter(flag="threatens"))
    )
    assert rows == 0


@pytest.mark.parametrize(
    "fmt", [ExportFormat.CSV, ExportFormat.JSONL, ExportFormat.HTML, ExportFormat.XLSX]
)
async def test_redaction_leaves_no_phone_number_name_or_address(
    shop: Shop, fmt: ExportFormat
) -> None:
    data, _ = await _export(shop, _request(fmt, redact=True))
    if fmt is ExportFormat.XLSX:
        book = load_workbook(io.BytesIO(data), read_only=True)
        text = "\n".join(
            str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
        )
    else:
        text = data.decode("utf-8-sig")
    # Chain hashes, file digests (64 hex) and field salts (32 hex) are random hex: now and then
    # one holds a phone-shaped run of 11 digits ("...a13861698204f..."), which is no phone
    # number, so they are left out here.
    assert PHONE_PATTERN.findall(DIGEST.sub("", text)) == []
    assert PHONE not in text
    assert BUYER_NAME not in text
    assert ADDRESS not in text
    assert "文三路" not in text
    assert "Alice Brown" not in text
    assert "李**" in text


def check_manifest(manifest: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """Independent check of a bundle: only hashlib and json, no Kefu code. Returns problems."""
    problems = []
    for record in manifest["records"]:
        document = {"fields": record["fields"], "seq": record["seq"], "table": record["table"]}
        if record.get("format", 1) == 2:
            # Chain format 2: personal fields are committed to as sha256(salt || JSON value),
            # or, once erased, by the digest kept in `erased`.
            fields = dict(record["fields"])
            for name, salt in (record["salts"] or {}).items():
                value = json.dumps(fields[name], ensure_ascii=False).encode("utf-8")
                fields[name] = "sha256:" + hashlib.sha256(bytes.fromhex(salt) + value).hexdigest()
            for name, digest in (record["erased"] or {}).items():
                fields[name] = "sha256:" + digest
            document = {**document, "fields": fields, "format": 2}
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(record["prev_hash"].encode("ascii") + body.encode("utf-8"))
        if digest.hexdigest() != record["hash"]:
            problems.append(f"record seq {record['seq']} does not match its hash")
    for entry in manifest["attachments"]:
        if entry["withheld"]:  # left out of a redacted bundle: only its sha256 is listed
            continue
        if hashlib.sha256(files[entry["file"]]).hexdigest() != entry["sha256"]:
            problems.append(f"{entry['file']} changed")
    return problems


async def test_bundle_verifies_without_kefu(shop: Shop, tmp_path: Path) -> None:
    request = _request(ExportFormat.BUNDLE, filters=ExportFilter(case=shop.case_one))
    path = await case_bundle(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        request=request,
        out=tmp_path / "b.zip",
    )
    with zipfile.ZipFile(path) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    manifest = json.loads(files["manifest.json"])
    assert check_manifest(manifest, files) == []
    tables = [r["table"] for r in manifest["records"]]
    assert {t: tables.count(t) for t in set(tables)} == {
        "raw_updates": 2,
        "messages": 4,
        "attachments": 1,
        "audit_log": 2,
    }
    seqs = [r["seq"] for r in manifest["records"]]
    assert seqs == sorted(seqs)
    assert manifest["chain_head"]["seq"] >= seqs[-1]
    assert files["verify.txt"].decode().startswith("OK: ")
    assert f"attachments/{shop.photo_sha256}" in files
    assert {"transcript.html", "transcript.pdf", "README.txt"} <= set(files)
    assert files["transcript.pdf"].startswith(b"%PDF")
    pages = [name for name in files if name.startswith("pages/")]
    assert pages
    assert all(len(files[p]) <= 200 * 1024 for p in pages)
    assert all(files[p].startswith(b"\xff\xd8") for p in pages)
    # A changed word in a record is caught by the same independent check.
    tampered = json.loads(files["manifest.json"])
    message = next(r for r in tampered["records"] if r["table"] == "messages")
    message["fields"]["text"] = message["fields"]["text"].replace("收到", "收")
    assert check_manifest(tampered, files) == [
        f"record seq {message['seq']} does not match its hash"
    ]


def test_big_files_are_zipped_then_split(tmp_path: Path) -> None:
    text = tmp_path / "text.csv"
    text.write_bytes("还没收到货,1\n".encode() * 50_000)  # compresses well: one zip
    assert [p.name for p in fit_for_upload(text, limit=300_000)] == ["text.csv.zip"]
    noise = random.Random(7).randbytes(1_000_000)  # does not compress: zip cut into parts
    big = tmp_path / "export.csv"
    big.write_bytes(noise)
    parts = fit_for_upload(big, limit=300_000)
    assert [p.name for p in parts] == [f"export.csv.zip.00{n}" for n in (1, 2, 3, 4)]
    assert all(p.stat().st_size <= 300_000 for p in parts)
    joined = tmp_path / "joined.zip"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with zipfile.ZipFile(joined) as archive:
        assert archive.read("export.csv") == noise
