"""Issue 13, exports: a broken chain refuses or stamps (12), no spreadsheet formulas (13), photos
left out of redacted exports (14), and csv / xlsx / conversations agree after console use (18)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text

from bot.cli.console import ConsoleLog, ConsoleLoop
from bot.config import load_settings
from bot.core.export_filter import ExportFilter, ExportFormat
from bot.core.roles import Role
from bot.core.types import Language
from bot.core.wording import Wording
from bot.export.pages import STAMP_TOP
from bot.export.service import ChainBroken, ExportRequest, case_bundle, write_export
from bot.export.tables import csv_cell
from bot.storage.database import Database
from bot.storage.evidence import append_message
from bot.understanding import load_understanding
from tests.export.conftest import T0, Shop
from tests.storage.test_verify import _drop_triggers

REPO = Path(__file__).resolve().parents[2]
TABLE_FORMATS = [
    ExportFormat.CSV,
    ExportFormat.CONVERSATIONS,
    ExportFormat.XLSX,
    ExportFormat.JSONL,
    ExportFormat.HTML,
]


def _request(fmt: ExportFormat, **kwargs: Any) -> ExportRequest:
    return ExportRequest(
        format=fmt,
        filters=kwargs.pop("filters", ExportFilter()),
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


async def _bundle(shop: Shop, tmp_path: Path, **kwargs: Any) -> dict[str, bytes]:
    request = _request(ExportFormat.BUNDLE, filters=ExportFilter(case=shop.case_one), **kwargs)
    path = await case_bundle(
        db=shop.db,
        settings=shop.settings,
        wording=shop.wording,
        request=request,
        out=tmp_path / "bundle.zip",
    )
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


async def _tamper(shop: Shop) -> int:
    """Rewrite the first buyer message's text in the database, as an attacker would; its seq."""
    await _drop_triggers(shop.db.engine)
    async with shop.db.engine.begin() as conn:
        seq = (await conn.execute(text("SELECT MIN(seq) FROM messages"))).scalar_one()
        await conn.execute(
            text("UPDATE messages SET text = '已收到货，一切都好' WHERE seq = :seq"), {"seq": seq}
        )
    return int(seq)


async def _audit_actions(shop: Shop) -> list[tuple[str, str, dict[str, Any]]]:
    async with shop.db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, target, details FROM audit_log"
                " WHERE action LIKE 'export.%' ORDER BY seq"
            )
        )
        return [(r.action, r.target, json.loads(r.details)) for r in rows]


def _stamp(wording: Wording, seq: int) -> str:
    return wording.text(Language.ZH_HANS, "export.transcript.chain_broken", seq=seq)


# --- defect 12: a broken chain ---------------------------------------------------------------


async def _refused(shop: Shop, fmt: ExportFormat, out: Path) -> ChainBroken:
    try:
        if fmt is ExportFormat.BUNDLE:
            await _bundle(shop, out)
        else:
            await _export(shop, _request(fmt))
    except ChainBroken as broken:
        return broken
    raise AssertionError(f"{fmt} was exported from a broken chain")


@pytest.mark.parametrize("fmt", [*TABLE_FORMATS, ExportFormat.BUNDLE])
async def test_defect_12_export_from_a_broken_chain_is_refused_and_audited(
    shop: Shop, fmt: ExportFormat, tmp_path: Path
) -> None:
    seq = await _tamper(shop)
    out = tmp_path / "out"
    out.mkdir()
    refused = await _refused(shop, fmt, out)
    assert refused.seq == seq
    assert str(refused).startswith(f"chain broken at seq {seq}: messages id=")
    assert not (out / "bundle.zip").exists()
    [(action, target, details)] = await _audit_actions(shop)
    bundle_target = f"bundle:case:{shop.case_one}"
    expected = bundle_target if fmt is ExportFormat.BUNDLE else f"export:{fmt}"
    assert (action, target, details["reason"], details["seq"]) == (
        "export.refused",
        expected,
        "chain_broken",
        seq,
    )


async def test_defect_12_allow_broken_stamps_every_table_format(shop: Shop) -> None:
    seq = await _tamper(shop)
    stamp = _stamp(shop.wording, seq)
    outputs = {
        fmt: (await _export(shop, _request(fmt, allow_broken=True)))[0] for fmt in TABLE_FORMATS
    }
    for fmt in (ExportFormat.CSV, ExportFormat.CONVERSATIONS):
        table = list(csv.reader(io.StringIO(outputs[fmt].decode("utf-8-sig"))))
        assert table[0] == [f"chain broken at seq {seq}", stamp]
    book = load_workbook(io.BytesIO(outputs[ExportFormat.XLSX]), read_only=True)
    assert [next(sheet.iter_rows(values_only=True))[0] for sheet in book] == [stamp, stamp]
    first = json.loads(outputs[ExportFormat.JSONL].decode("utf-8").splitlines()[0])
    assert first == {
        "record": "chain_broken",
        "seq": seq,
        "stamp": f"chain broken at seq {seq}",
        "warning": stamp,
    }
    html = outputs[ExportFormat.HTML].decode("utf-8")
    assert html.count(stamp) == 2 * 2  # title and footer of each of the two cases
    created = [d for a, _, d in await _audit_actions(shop) if a == "export.created"]
    assert [d["chain_broken_at"] for d in created] == [seq] * len(TABLE_FORMATS)


def _red_pixels_on_top(page: bytes) -> int:
    image = Image.open(io.BytesIO(page)).convert("RGB")
    strip = image.crop((0, 0, image.width, STAMP_TOP + 30 * image.width // 1080))
    red, green, blue = (band.tobytes() for band in strip.split())
    return sum(1 for r, g, b in zip(red, green, blue, strict=True) if r > 150 and g < 80 and b < 80)


async def test_defect_12_allow_broken_stamps_every_page_and_file_of_the_bundle(
    shop: Shop, tmp_path: Path
) -> None:
    (tmp_path / "clean").mkdir()
    clean = await _bundle(shop, tmp_path / "clean")
    seq = await _tamper(shop)
    files = await _bundle(shop, tmp_path, allow_broken=True)
    stamp = _stamp(shop.wording, seq)
    manifest = json.loads(files["manifest.json"])
    assert (manifest["chain_broken_at_seq"], manifest["chain_warning"]) == (
        seq,
        f"chain broken at seq {seq}",
    )
    assert files["verify.txt"].decode().startswith("BROKEN: messages id=")
    assert f"CHAIN BROKEN AT SEQ {seq}" in files["README.txt"].decode()
    assert stamp in files["README.txt"].decode()
    assert files["transcript.html"].decode().count(stamp) == 2
    reader = PdfReader(io.BytesIO(files["transcript.pdf"]))
    assert [stamp in page.extract_text() for page in reader.pages] == [True] * len(reader.pages)
    pages = sorted(name for name in files if name.startswith("pages/"))
    assert pages
    assert all(_red_pixels_on_top(files[name]) > 200 for name in pages)
    # The same pages from the intact chain carry no stamp.
    assert all(_red_pixels_on_top(clean[name]) == 0 for name in clean if name.startswith("pages/"))
    assert json.loads(clean["manifest.json"])["chain_broken_at_seq"] is None


def _cli(shop: Shop, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(shop.settings.data_dir),
        "KEFU_DATABASE_URL": shop.settings.database_url or "",
        "KEFU_LANGUAGE": "en",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )


async def test_defect_12_cli_exits_1_naming_the_seq_unless_allow_broken(
    shop: Shop, tmp_path: Path
) -> None:
    seq = await _tamper(shop)
    target = tmp_path / "out.csv"
    refused = await asyncio.to_thread(_cli, shop, "export", "-f", "csv", "-o", str(target))
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"kefu: error: chain broken at seq {seq}: messages id=")
    assert not target.exists()
    bundle = tmp_path / "case.zip"
    args = ("export", "-f", "bundle", "--case", str(shop.case_one), "-o", str(bundle))
    assert (await asyncio.to_thread(_cli, shop, *args)).returncode == 1
    allowed = await asyncio.to_thread(_cli, shop, *args, "--allow-broken")
    assert allowed.returncode == 0, allowed.stderr
    with zipfile.ZipFile(bundle) as archive:
        assert json.loads(archive.read("manifest.json"))["chain_broken_at_seq"] == seq


# --- defect 13: formulas -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","点我")', '\'=HYPERLINK("http://evil.example","点我")'),
        ("+86 138", "'+86 138"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("还没收到货", "还没收到货"),
        ("a=b", "a=b"),
        ("", ""),
        (12, 12),
        (-5, -5),  # numbers are numbers, not text a spreadsheet could run
        (None, None),
    ],
)
def test_defect_13_csv_cells_never_start_a_formula(value: object, expected: object) -> None:
    assert csv_cell(value) == expected


FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(1)", "\t=1", "\r=1"]


async def test_defect_13_buyer_formulas_are_text_in_csv_and_xlsx(shop: Shop) -> None:
    async with shop.db.transaction() as session:
        buyer = (
            await session.execute(
                text("SELECT buyer_id FROM conversations WHERE id = :id"), {"id": shop.case_two}
            )
        ).scalar_one()
        for number, formula in enumerate(FORMULAS):
            await append_message(
                session=session,
                conversation_id=shop.case_two,
                buyer_id=buyer,
                direction="in",
                text=formula,
                sent_at=T0 + timedelta(days=1, minutes=number + 1),
                chat_id=43,
                telegram_message_id=900 + number,
            )
    filters = ExportFilter(case=shop.case_two)
    data, _ = await _export(shop, _request(ExportFormat.CSV, filters=filters))
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r["text"] for r in table[1:]] == [f"'{f}" for f in FORMULAS]
    data, _ = await _export(shop, _request(ExportFormat.XLSX, filters=filters))
    sheet = load_workbook(io.BytesIO(data))["消息"]
    cells = [row[15] for row in sheet.iter_rows(min_row=3)]
    # Text, never formulas (XML reads a stored CR back as LF).
    assert [(c.value, c.data_type) for c in cells] == [
        (f.replace("\r", "\n"), "s") for f in FORMULAS
    ]


# --- defect 14: photos out of redacted exports -------------------------------------------------


async def test_defect_14_redacted_bundle_leaves_photos_out_but_lists_their_hashes(
    shop: Shop, tmp_path: Path
) -> None:
    (tmp_path / "kept").mkdir()
    files = await _bundle(shop, tmp_path, redact=True)
    manifest = json.loads(files["manifest.json"])
    assert [a for a in files if a.startswith("attachments/")] == []
    assert [(a["sha256"], a["file"], a["withheld"]) for a in manifest["attachments"]] == [
        (shop.photo_sha256, None, True)
    ]
    withheld = shop.wording.text(Language.ZH_HANS, "export.transcript.withheld")
    assert withheld in files["transcript.html"].decode()
    assert f"attachments/{shop.photo_sha256}" not in files["transcript.html"].decode()
    kept = await _bundle(shop, tmp_path / "kept", redact=True, keep_photos=True)
    assert f"attachments/{shop.photo_sha256}" in kept
    assert json.loads(kept["manifest.json"])["attachments"][0]["withheld"] is False


async def test_defect_14_redacted_html_has_no_inline_photo_unless_kept(shop: Shop) -> None:
    redacted, _ = await _export(shop, _request(ExportFormat.HTML, redact=True))
    assert b"data:image/" not in redacted
    kept, _ = await _export(shop, _request(ExportFormat.HTML, redact=True, keep_photos=True))
    assert b"data:image/jpeg;base64," in kept


# --- defect 18: console picks, row counts, conversations ---------------------------------------

CONSOLE_SCRIPT = [
    "还没收到货，订单号 123456789012",
    "2",  # pick suggestion 2
    "快递破损了",
    "1",  # pick suggestion 1
    "质量太差了我要退款",
    "亲，马上为您处理退款",  # own words (no apology: the reply check asks first)
    "y",  # send anyway
]


def test_defect_18_csv_xlsx_and_conversations_agree_after_console_use(
    migrated_url: str, tmp_path: Path, wording: Wording
) -> None:
    understanding = load_understanding(REPO / "phrasebook")
    lines = iter([*CONSOLE_SCRIPT, "/quit"])
    log = ConsoleLog(migrated_url, mode="recording", where=migrated_url)
    try:
        ConsoleLoop(
            understanding,
            ui=Language.EN,
            read=lambda _prompt: next(lines),
            write=lambda _text, _style="": None,
            log=log,
        ).run()
    finally:
        log.close()
    settings = load_settings(_env_file=None, data_dir=tmp_path / "data", database_url=migrated_url)
    asyncio.run(_check_console_exports(migrated_url, settings, wording))


async def _check_console_exports(url: str, settings: Any, wording: Wording) -> None:
    db = Database.open(url)
    try:
        outputs: dict[ExportFormat, tuple[bytes, int]] = {}
        for fmt in (ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.CONVERSATIONS):
            out = io.BytesIO()
            rows = await write_export(
                db=db, settings=settings, wording=wording, request=_request(fmt), out=out
            )
            outputs[fmt] = (out.getvalue(), rows)
    finally:
        await db.close()
    data, csv_rows = outputs[ExportFormat.CSV]
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    replies = [r for r in table if r["direction"] == "out"]
    assert [(r["suggestion"], r["outcome"]) for r in replies] == [
        ("2", "sent"),
        ("1", "sent"),
        ("", "own"),
    ]
    xlsx, xlsx_rows = outputs[ExportFormat.XLSX]
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True)["消息"]
    xlsx_table = list(sheet.iter_rows(min_row=2, values_only=True))
    assert csv_rows == xlsx_rows == len(table) == len(xlsx_table) == 6
    assert [row[12] for row in xlsx_table if row[3] == "店铺"] == [2, 1, None]
    conversations = list(
        csv.DictReader(io.StringIO(outputs[ExportFormat.CONVERSATIONS][0].decode("utf-8-sig")))
    )
    assert [
        (c["suggestions_sent"], c["suggestions_edited"], c["suggestions_own"], c["acceptance"])
        for c in conversations
    ] == [("2", "0", "1", "67%")]
