"""What the CLI and the supervisors' Telegram commands call: exports, case bundles, statistics.

Every export and bundle is an audit record (who, when, filters, row count); a refused request is
one too. Files for Telegram are zipped, then split, when over the 50 MB upload limit.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.core.evidence import ChainBreak
from bot.core.export_filter import FILE_SUFFIX, ExportFilter, ExportFormat, unsupported_filters
from bot.core.labels import AccuracyReport, accuracy_report
from bot.core.roles import Role
from bot.core.service_levels import MessageFact, TeamReport
from bot.core.types import Language
from bot.core.wording import Wording
from bot.export.bundle import write_bundle
from bot.export.marking import prepared
from bot.export.tables import (
    Progress,
    write_conversations_csv,
    write_jsonl,
    write_messages_csv,
    write_xlsx,
)
from bot.export.training import wanted, write_training
from bot.export.transcript import TranscriptCase, build_case, write_html
from bot.export.view import ExportView, chain_broken_text
from bot.storage.database import Database
from bot.storage.evidence import append_audit
from bot.storage.exports.case_file import load_case
from bot.storage.exports.conversations import count_conversations, stream_conversations
from bot.storage.exports.messages import count_messages, current_head, stream_messages
from bot.storage.exports.records import stream_records
from bot.storage.exports.reports import (
    check_failures,
    open_cases,
    outcome_counts,
    stream_message_facts,
)
from bot.storage.filestore import AttachmentStore
from bot.storage.labels import buyer_names, shop_labels, verdicts
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


def make_view(
    settings: Settings,
    wording: Wording,
    language: Language,
    *,
    redact: bool,
    chain_broken_at: int | None = None,
    keep_photos: bool = False,
) -> ExportView:
    """The presentation for an export in the shop's time zone (files left out when redacting,
    unless `keep_photos`)."""
    return ExportView(
        wording=wording,
        language=language,
        zone=ZoneInfo(settings.timezone),
        redact=redact,
        chain_broken_at=chain_broken_at,
        files=keep_photos or not redact,
    )


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
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=request.actor_telegram_id,
            action="export.refused",
            target=target,
            details={
                "reason": "chain_broken",
                "seq": first.seq,
                "break": str(first),
                "format": request.format.value,
                "filters": request.filters.describe(),
                "via": request.via,
            },
        )
    raise ChainBroken(first)


async def _refuse(db: Database, request: ExportRequest, target: str) -> None:
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=request.actor_telegram_id,
            action="export.denied",
            target=target,
            details={
                "format": request.format.value,
                "filters": request.filters.describe(),
                "role": request.actor_role.name.lower(),
                "via": request.via,
            },
        )
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
    async with db.transaction() as session:
        await append_audit(
            session=session,
            actor_telegram_id=request.actor_telegram_id,
            action="export.created",
            target=target,
            details=details,
        )


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())


async def count_rows(*, db: Database, request: ExportRequest) -> int | None:
    """How many rows the export will write (for the progress bar); None when unknown."""
    async with db.session() as session:
        head = await current_head(session=session)
        if request.format in (ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.JSONL):
            return await count_messages(session=session, filters=request.filters, upto=head.seq)
        if request.format in (ExportFormat.CONVERSATIONS, ExportFormat.HTML):
            return await count_conversations(session=session, filters=request.filters)
    return None


async def _transcripts(
    session: Any,
    request: ExportRequest,
    view: ExportView,
    store: AttachmentStore,
    upto: int,
    progress: Progress | None,
) -> AsyncIterator[TranscriptCase]:
    async for conversation in stream_conversations(
        session=session, filters=request.filters, upto=upto
    ):
        case = await load_case(session=session, conversation_id=conversation.id, upto=upto)
        if case is not None:
            yield prepared(build_case(case, view, attachment_path=store.path_for), view)
        if progress is not None:
            progress(1)


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
    store = AttachmentStore(settings.data_dir)
    filters = request.filters
    async with db.session() as session:
        head = await current_head(session=session)
        upto = head.seq
        if request.format is ExportFormat.CSV:
            rows = await write_messages_csv(
                stream_messages(session=session, filters=filters, upto=upto), out, view, progress
            )
        elif request.format is ExportFormat.CONVERSATIONS:
            rows = await write_conversations_csv(
                stream_conversations(session=session, filters=filters, upto=upto),
                out,
                view,
                progress,
            )
        elif request.format is ExportFormat.XLSX:
            rows = await write_xlsx(
                stream_messages(session=session, filters=filters, upto=upto),
                stream_conversations(session=session, filters=filters, upto=upto),
                out,
                view,
                progress,
            )
        elif request.format is ExportFormat.TRAINING:
            rows = await _write_training(session, filters, out, view)
        elif request.format is ExportFormat.JSONL:
            rows = await write_jsonl(
                stream_records(session=session, filters=filters, upto=upto), out, view, progress
            )
        else:
            rows = await write_html(
                _transcripts(session, request, view, store, upto, progress), out, view
            )
    await _audit(db, request, target=target, rows=rows, files=[name], head=head, view=view)
    return rows


async def _write_training(
    session: Any, filters: ExportFilter, out: IO[bytes], view: ExportView
) -> int:
    """The shop's labels (`shop_labels`) in the filters, as the training export's lines."""
    labels = [
        label
        for label in await shop_labels(session=session, since=filters.since)
        if wanted(label, filters)
    ]
    names = (
        await buyer_names(session=session, message_ids=[label.message_id for label in labels])
        if view.redact
        else {}
    )
    return write_training(labels, out, view, buyer_names=names)


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


async def build_report(
    *, db: Database, filters: ExportFilter, zone: tzinfo, now: datetime | None = None
) -> TeamReport:
    """The team's numbers for the filters' range, in one streamed pass plus small aggregates."""
    report = TeamReport(zone=zone)
    moment = now or utcnow()
    async with db.session() as session:
        head = await current_head(session=session)
        facts = stream_message_facts(session=session, filters=filters, upto=head.seq)
        current: list[MessageFact] = []
        async for fact in facts:
            if current and fact.conversation_id != current[0].conversation_id:
                report.add_conversation(current)
                current = []
            current.append(fact)
        report.add_conversation(current)
        for category, status, count in await outcome_counts(
            session=session, filters=filters, upto=head.seq
        ):
            report.add_outcomes(category, status, count)
        async for agent, rules in check_failures(
            session=session, since=filters.since, until=filters.until, upto=head.seq
        ):
            report.add_check_failure(agent, rules)
        async for status, opened_at in open_cases(session=session, filters=filters):
            report.add_open_case(status, opened_at, moment)
    return report


ACCURACY_DAYS = 30


async def build_accuracy(*, db: Database, until: datetime | None = None) -> AccuracyReport:
    """Cards and corrections per category over the 30 days before `until` (default: now)."""
    end = until or utcnow()
    async with db.session() as session:
        found = await verdicts(
            session=session, since=end - timedelta(days=ACCURACY_DAYS), until=end
        )
    return accuracy_report(found)


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
        async with db.transaction() as session:
            await append_audit(
                session=session,
                actor_telegram_id=actor_telegram_id,
                action="stats.denied",
                target="stats",
                details={"role": actor_role.name.lower(), "filters": filters.describe()},
            )
        raise NotAllowed("stats")
    from bot.export.report import (  # matplotlib: only when charting
        accuracy_text,
        draw_accuracy_chart,
        draw_report_chart,
        report_text,
    )

    zone = ZoneInfo(settings.timezone)
    report = await build_report(db=db, filters=filters, zone=zone, now=now)
    accuracy = await build_accuracy(db=db, until=filters.until or now)
    view = make_view(settings, wording, language, redact=False)
    text = report_text(report, view, since=filters.since, until=filters.until)
    text += "\n\n" + accuracy_text(accuracy, view)
    folder = directory or Path(tempfile.mkdtemp(prefix="kefu-stats-"))
    chart = draw_report_chart(report, view, folder / "kefu-report.png")
    accuracy_chart = draw_accuracy_chart(accuracy, view, folder / "kefu-accuracy.png")
    return text, [chart, accuracy_chart]
