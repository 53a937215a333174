"""A case's evidence bundle: transcript (HTML, PDF, JPEG pages), attachments, manifest, verify result."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from bot.core.evidence import ENCODING_VERSION, GENESIS_HASH, canonical_value
from bot.export.marking import prepared
from bot.export.pages import jpeg_pages, write_pdf
from bot.export.transcript import TranscriptCase, build_case, write_html
from bot.export.view import ExportView, chain_broken_text
from bot.storage.exports.rows import CaseFile
from bot.storage.filestore import AttachmentStore

BUNDLE_FORMAT = "kefu-evidence-bundle"


def manifest(
    case: CaseFile,
    *,
    exported_at: datetime,
    redacted: bool,
    files: bool = True,
    chain_broken_at: int | None = None,
) -> dict[str, Any]:
    """Every evidence record of the case with seq, hash, previous hash and canonical fields;
    attachments listed by sha256 (`file` null and `withheld` true when left out of the zip, and
    `erased` true when the file was erased)."""
    records = []
    for record in case.records:
        fields = {name: canonical_value(value) for name, value in record.fields.items()}
        records.append(
            {
                "table": record.table,
                "id": record.id,
                "seq": record.seq,
                "hash": record.hash,
                "prev_hash": record.prev_hash if record.seq > 1 else GENESIS_HASH,
                "fields": None if redacted else fields,
                # Chain format 2: the salts open the personal fields' digests; an erased field's
                # digest is kept in `erased` (see docs/evidence.md).
                "format": record.format,
                "salts": None if redacted else record.salts,
                "erased": record.erased,
            }
        )
    attachments = [
        {
            "sha256": a.sha256,
            "file": f"attachments/{a.sha256}" if files and not a.erased else None,
            "withheld": not files or a.erased,
            "erased": a.erased,
            "size": a.size,
            "record": a.id,
        }
        for rows in case.attachments.values()
        for a in rows
        if a.status == "stored" and a.sha256
    ]
    return {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "encoding_version": ENCODING_VERSION,
        "case": case.conversation.id,
        "exported_at": exported_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "chain_head": {"seq": case.head.seq, "hash": case.head.hash},
        "genesis_hash": GENESIS_HASH,
        "redacted": redacted,
        "chain_broken_at_seq": chain_broken_at,
        "chain_warning": None if chain_broken_at is None else chain_broken_text(chain_broken_at),
        "records": records,
        "attachments": attachments,
    }


async def _one(case: TranscriptCase) -> Any:
    yield case


async def write_bundle(
    case: CaseFile,
    view: ExportView,
    *,
    store: AttachmentStore,
    verify_text: str,
    exported_at: datetime,
    out: Path,
) -> dict[str, Any]:
    """Write the zip to `out`; returns the manifest written into it."""
    transcript = prepared(build_case(case, view, attachment_path=store.path_for), view)
    html = io.BytesIO()
    await write_html(_one(transcript), html, view, inline_images=False)
    pdf = io.BytesIO()
    stamp = view.stamp()
    write_pdf([transcript], pdf, stamp=stamp)
    document = manifest(
        case,
        exported_at=exported_at,
        redacted=view.redact,
        files=view.files,
        chain_broken_at=view.chain_broken_at,
    )
    files: dict[str, str] = {}  # name in the zip -> sha256 of its bytes
    readme = _readme(case, view, exported_at=document["exported_at"], stamp=stamp)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        _put(bundle, files, "transcript.html", html.getvalue())
        _put(bundle, files, "transcript.pdf", pdf.getvalue())

        def page_label(number: int, total: int) -> str:
            return view.t("transcript.page", n=number, total=total)

        pages = jpeg_pages(transcript, page_label=page_label, stamp=stamp)
        for number, page in enumerate(pages, start=1):
            _put(bundle, files, f"pages/page-{number:03d}.jpg", page, deflate=False)
        _put_attachments(bundle, files, document["attachments"], store)
        _put(bundle, files, "verify.txt", verify_text.encode("utf-8"))
        _put(bundle, files, "README.txt", readme.encode("utf-8"))
        document["files"] = files
        bundle.writestr(
            "manifest.json",
            json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"),
        )
    return document


def _readme(case: CaseFile, view: ExportView, *, exported_at: str, stamp: str | None) -> str:
    """The bundle's README: what is in it and how to check it, in the reader's language."""
    return (
        Environment(loader=PackageLoader("bot.export", "templates"), autoescape=False)
        .get_template("bundle_readme.txt")
        .render(
            case=case.conversation.id,
            exported_at=exported_at,
            head=str(case.head),
            redacted=view.redact,
            withheld=not view.files,
            broken=view.machine_stamp(),
            warning=stamp,
        )
    )


def _put(
    bundle: zipfile.ZipFile, files: dict[str, str], name: str, data: bytes, *, deflate: bool = True
) -> None:
    """Write `data` into the zip as `name` and note its sha256 for the manifest."""
    files[name] = hashlib.sha256(data).hexdigest()
    bundle.writestr(
        name, data, compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    )


def _put_attachments(
    bundle: zipfile.ZipFile,
    files: dict[str, str],
    entries: list[dict[str, Any]],
    store: AttachmentStore,
) -> None:
    """Copy each stored file the manifest lists (not withheld, each once) into the zip."""
    for entry in entries:
        if entry["withheld"]:
            continue
        path = store.path_for(entry["sha256"])
        if path.is_file() and f"attachments/{entry['sha256']}" not in files:
            bundle.write(path, entry["file"], compress_type=zipfile.ZIP_STORED)
            files[entry["file"]] = entry["sha256"]
