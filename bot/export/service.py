"""What the CLI and the supervisors' Telegram commands call: exports, case bundles, statistics.

Every export and bundle is an audit record (who, when, filters, row count); a refused request is
one too. Files for Telegram are zipped, then split, when over the 50 MB upload limit.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.core.evidence import ChainBreak
from bot.core.export_filter import FILE_SUFFIX, ExportFilter, ExportFormat, unsupported_filters
from bot.core.roles import Role
from bot.core.types import Language
from bot.core.wording import Wording
from bot.export.bundle import write_bundle
from bot.export.formats import write_format
from bot.export.stats import build_accuracy, build_report
from bot.export.tables import Progress
from bot.export.view import ExportView, chain_broken_text, make_view
from bot.storage.database import Database
from bot.storage.evidence import append_audit
from bot.storage.exports.case_file import load_case
from bot.storage.exports.messages import current_head
from bot.storage.filestore import AttachmentStore
from bot.storage.models import utcnow
from bot.storage.verify import VerifyReport, verify_chain

TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024
PART_SIZE = 49 * 1024 * 1024


class NotAllowed(PermissionError):
    """The requester is not a supervisor; nothing was exported."""


class CaseNotFound(LookupError):
    """No case with that number."""


class ChainBroken(RuntimeError):
    """The evidence chain does not verify; nothing was exported (the refusal is audited)."""

    def __init__(self, first: ChainBreak) -> None:
        super().__init__(f"{chain_broken_text(first.seq)}: {first}")
        self.first = first

    @property
    def seq(self) -> int:
        """The sequence number of the first bad record."""
        return self.first.seq


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """One export: what, which records, for whom, and how it is shown."""

    format: ExportFormat
    filters: ExportFilter
    actor_telegram_id: int | None
    actor_role: Role
    language: Language
    redact: bool = False
    via: str = "telegram"
    allow_broken: bool = False  # export a chain that does not verify, every file and page stamped
    keep_photos: bool = False  # keep stored files (photos...) in a redacted export


def _request_view(
    settings: Settings, wording: Wording, request: ExportRequest, checked: VerifyReport
) -> ExportView:
    return make_view(
        settings,
        wording,
        request.language,
        redact=request.redact,
        chain_broken_at=checked.breaks[0].seq if checked.breaks else None,
        keep_photos=request.keep_photos,
    )


async def _checked_chain(
    db: Database, settings: Settings, request: ExportRequest, target: str
) -> VerifyReport:
    """The whole chain verified before anything is exported: a break refuses the export (audited)
    unless the request allows a broken chain, whose export is then stamped."""
    report = await verify_chain(engine=db.engine, attachments=AttachmentStore(settings.data_dir))
    if report.ok or request.allow_broken:
        return report
    first = report.breaks[0]
    details = {
        "reason": "chain_broken",
        "seq": first.seq,
        "break": str(first),
        "format": request.format.value,
        "filters": request.filters.describe(),
        "via": request.via,
    }
    await _record(db, request.actor_telegram_id, "export.refused", target, details)
    raise ChainBroken(first)


async def _record(
    db: Database, actor_telegram_id: int | None, action: str, target: str, details: dict[str, Any]
) -> None:
    """One audit record in its own transaction."""
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action=action,
            target=target,
            details=details,
        )


async def _refuse(db: Database, request: ExportRequest, target: str) -> None:
    details = {
        "format": request.format.value,
        "filters": request.filters.describe(),
        "role": request.actor_role.name.lower(),
        "via": request.via,
    }
    await _record(db, request.actor_telegram_id, "export.denied", target, details)
    raise NotAllowed(target)


async def _audit(
    db: Database,
    request: ExportRequest,
    *,
    target: str,
    rows: int,
    files: list[str],
    head: Any,
    view: ExportView,
) -> None:
    details: dict[str, Any] = {
        "format": request.format.value,
        "filters": request.filters.describe(),
        "rows": rows,
        "redact": request.redact,
        "files": files,
        "via": request.via,
        "chain_head": str(head),
    }
    if view.chain_broken_at is not None:
        details["chain_broken_at"] = view.chain_broken_at
    if view.redact and view.files:
        details["keep_photos"] = True
    if request.via == "cli":
        details["os_user"] = _os_user()
    await _record(db, request.actor_telegram_id, "export.created", target, details)


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())


async def write_export(
    *,
    db: Database,
    settings: Settings,
    wording: Wording,
    request: ExportRequest,
    out: IO[bytes],
    progress: Progress | None = None,
    name: str = "-",
) -> int:
    """Stream one export (any format but `bundle`) into `out`, audit it, return its row count.

    The chain is verified first: a break raises ChainBroken before anything is written, unless
    the request allows it (then every file carries the broken-chain stamp)."""
    target = f"export:{request.format.value}"
    if request.actor_role < Role.SUPERVISOR:
        await _refuse(db, request, target)
    if request.format is ExportFormat.BUNDLE:
        raise ValueError("a bundle is one case: use case_bundle")
    unsupported = unsupported_filters(request.filters, request.format)
    if unsupported:
        raise ValueError(f"the {request.format.value} export cannot filter by {unsupported[0]}")
    checked = await _checked_chain(db, settings, request, target)
    view = _request_view(settings, wording, request, checked)
    async with db.session() as session:
        head = await current_head(session=session)
        rows = await write_format(
            session,
            request.format,
            request.filters,
            out,
            view,
            store=AttachmentStore(settings.data_dir),
            upto=head.seq,
            progress=progress,
        )
    await _audit(db, request, target=target, rows=rows, files=[name], head=head, view=view)
    return rows


def export_file_name(fmt: ExportFormat, filters: ExportFilter, now: datetime) -> str:
    """`kefu-csv-20261122-0830.csv`, or `kefu-case-12-….zip` for one case."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    scope = f"case-{filters.case}-" if filters.case is not None else ""
    return f"kefu-{fmt.value}-{scope}{stamp}{FILE_SUFFIX[fmt]}"


def fit_for_upload(path: Path, limit: int = TELEGRAM_UPLOAD_LIMIT) -> list[Path]:
    """The file itself when small enough; else zipped; else the zip cut into numbered parts
    (`name.zip.001`, ...: join them with `cat name.zip.0* > name.zip`)."""
    if path.stat().st_size <= limit:
        return [path]
    packed = path
    if path.suffix != ".zip":
        packed = path.with_name(path.name + ".zip")
        with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(path, path.name)
        path.unlink()
        if packed.stat().st_size <= limit:
            return [packed]
    parts: list[Path] = []
    part_size = min(PART_SIZE, limit)
    with packed.open("rb") as source:
        number = 1
        while chunk := source.read(part_size):
            part = packed.with_name(f"{packed.name}.{number:03d}")
            part.write_bytes(chunk)
            parts.append(part)
            number += 1
    packed.unlink()
    return parts


def export_directory(settings: Settings) -> Path:
    """Where exports for Telegram are written before upload: `<data_dir>/exports/`."""
    directory = settings.data_dir / "exports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


async def export_to_file(
    *,
    db: Database,
    settings: Settings,
    wording: Wording,
    request: ExportRequest,
    directory: Path | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Write the export to a file and return the file(s) to send (zipped / split over 50 MB)."""
    if request.format is ExportFormat.BUNDLE:
        if request.filters.case is None:
            raise ValueError("a bundle needs a case number")
        return [
            await case_bundle(
                db=db,
                settings=settings,
                wording=wording,
                request=request,
                directory=directory,
                now=now,
            )
        ]
    moment = now or utcnow()
    target = (directory or export_directory(settings)) / export_file_name(
        request.format, request.filters, moment.astimezone(ZoneInfo(settings.timezone))
    )
    try:
        with target.open("wb") as out:
            await write_export(
                db=db,
                settings=settings,
                wording=wording,
                request=request,
                out=out,
                name=target.name,
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return fit_for_upload(target)


async def verify_text(*, db: Database, settings: Settings) -> str:
    """The `kefu verify` result now, as it prints it."""
    report = await verify_chain(engine=db.engine, attachments=AttachmentStore(settings.data_dir))
    return report_text(report)


def report_text(report: VerifyReport) -> str:
    """A verification's result as `kefu verify` prints it."""
    if report.ok:
        return f"OK: {report.records} records, head {report.head.hash} (seq {report.head.seq})\n"
    lines = [f"BROKEN: {report.breaks[0]}"] + [f"  also: {b}" for b in report.breaks[1:]]
    return "\n".join(lines) + "\n"


async def case_bundle(
    *,
    db: Database,
    settings: Settings,
    wording: Wording,
    request: ExportRequest,
    directory: Path | None = None,
    now: datetime | None = None,
    out: Path | None = None,
) -> Path:
    """The evidence bundle (zip) of case `request.filters.case`; audited."""
    case_id = request.filters.case
    target = f"bundle:case:{case_id}"
    if request.actor_role < Role.SUPERVISOR:
        await _refuse(db, request, target)
    if case_id is None:
        raise ValueError("a bundle needs a case number")
    moment = now or utcnow()
    async with db.session() as session:
        case = await load_case(session=session, conversation_id=case_id)
    if case is None:
        raise CaseNotFound(case_id)
    checked = await _checked_chain(db, settings, request, target)
    view = _request_view(settings, wording, request, checked)
    path = out or (directory or export_directory(settings)) / export_file_name(
        ExportFormat.BUNDLE, request.filters, moment.astimezone(ZoneInfo(settings.timezone))
    )
    await write_bundle(
        case,
        view,
        store=AttachmentStore(settings.data_dir),
        verify_text=report_text(checked),
        exported_at=moment,
        out=path,
    )
    await _audit(
        db,
        request,
        target=target,
        rows=len(case.records),
        files=[path.name],
        head=case.head,
        view=view,
    )
    return path


async def stats_summary(
    *,
    db: Database,
    settings: Settings,
    wording: Wording,
    language: Language,
    filters: ExportFilter,
    actor_role: Role,
    actor_telegram_id: int | None,
    directory: Path | None = None,
    now: datetime | None = None,
) -> tuple[str, list[Path]]:
    """The report text and its chart PNG(s) for supervisors; refused (and audited) for others."""
    if actor_role < Role.SUPERVISOR:
        details = {"role": actor_role.name.lower(), "filters": filters.describe()}
        await _record(db, actor_telegram_id, "stats.denied", "stats", details)
        raise NotAllowed("stats")
    from bot.export.report import draw_accuracy_chart, draw_report_chart  # matplotlib: charts only
    from bot.export.summary import accuracy_text, report_text

    zone = ZoneInfo(settings.timezone)
    report = await build_report(
        db=db, filters=filters, zone=zone, now=now, policy=settings.sla_policy
    )
    accuracy = await build_accuracy(db=db, until=filters.until or now)
    view = make_view(settings, wording, language, redact=False)
    text = report_text(report, view, since=filters.since, until=filters.until)
    text += "\n\n" + accuracy_text(accuracy, view)
    folder = directory or Path(tempfile.mkdtemp(prefix="kefu-stats-"))
    chart = draw_report_chart(report, view, folder / "kefu-report.png")
    accuracy_chart = draw_accuracy_chart(accuracy, view, folder / "kefu-accuracy.png")
    return text, [chart, accuracy_chart]
