"""`kefu export` and `kefu report`: the log out of the bot, streamed, with a progress bar on a terminal."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    CliError,
    existing_database,
    export_filter,
    shop_settings,
    writing_to,
)
from bot.config import Settings
from bot.core.export_filter import (
    ExportFilter,
    ExportFormat,
    unsupported_filters,
)
from bot.core.roles import Role
from bot.core.types import Language
from bot.core.wording import Wording
from bot.storage.models import utcnow

if TYPE_CHECKING:
    from bot.export.service import ExportRequest
    from bot.storage.database import Database


def register(app: typer.Typer) -> None:
    """Add `export` and `report` to `app`."""
    app.command("export")(export)
    app.command("report")(report)


def _wording(config: Settings) -> Wording:
    from bot.phrasebook.loader import load_phrasebook

    return load_phrasebook(config.phrasebook_dir).wording


RANGE_HELP = "today, 7d, 30d or all (shop-local days)."


FormatOption = Annotated[
    ExportFormat,
    typer.Option(
        "--format",
        "-f",
        help="csv, conversations, xlsx, jsonl, html, bundle or training (the shop's labels).",
    ),
]
OutputOption = Annotated[
    str, typer.Option("--output", "-o", help="File to write, or - for stdout.")
]
RangeOption = Annotated[str | None, typer.Option("--range", help=RANGE_HELP)]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this day or time (YYYY-MM-DD[THH:MM]).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Up to (not including) this day or time.")
]
BuyerOption = Annotated[
    str | None, typer.Option("--buyer", help="Kefu buyer id, or tg:TELEGRAM_USER_ID.")
]
CaseOption = Annotated[int | None, typer.Option("--case", help="Case (conversation) number.")]
OrderOption = Annotated[str | None, typer.Option("--order", help="Platform order id.")]
CategoryOption = Annotated[
    str | None, typer.Option("--category", help="Category id, e.g. not_received.")
]
FlagOption = Annotated[str | None, typer.Option("--flag", help="Flag id, e.g. threatens_review.")]
AgentOption = Annotated[int | None, typer.Option("--agent", help="Agent's Telegram user id.")]
PlatformOption = Annotated[
    str | None, typer.Option("--platform", help="telegram, taobao, kuaishou, amazon...")
]
RedactOption = Annotated[
    bool,
    typer.Option(
        "--redact",
        help="Mask buyers' phone numbers, addresses and names; leave their photos and files out.",
    ),
]
KeepPhotosOption = Annotated[
    bool, typer.Option("--keep-photos", help="With --redact: keep the buyers' photos and files.")
]
AllowBrokenOption = Annotated[
    bool,
    typer.Option(
        "--allow-broken",
        help="Export even when the evidence chain does not verify (every file and page stamped).",
    ),
]
LanguageOption = Annotated[
    str | None, typer.Option("--language", help="zh-Hans, zh-Hant or en (default: the shop's).")
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
]


def export(
    format: FormatOption,
    output: OutputOption,
    period: RangeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    buyer: BuyerOption = None,
    case: CaseOption = None,
    order: OrderOption = None,
    category: CategoryOption = None,
    flag: FlagOption = None,
    agent: AgentOption = None,
    platform: PlatformOption = None,
    redact: RedactOption = False,
    keep_photos: KeepPhotosOption = False,
    allow_broken: AllowBrokenOption = False,
    language: LanguageOption = None,
    progress: ProgressOption = True,
) -> None:
    """Export the log (streamed; every export is an audit record)."""
    config = shop_settings()
    filters = export_filter(
        config,
        period=period,
        since=since,
        until=until,
        buyer=buyer,
        case=case,
        order=order,
        category=category,
        flag=flag,
        agent=agent,
        platform=platform,
    )
    _check_filters(format, filters)
    lang = _language(config, language)
    existing_database(config)
    options = _Options(
        redact=redact,
        keep_photos=keep_photos,
        allow_broken=allow_broken,
        language=lang,
        progress=progress,
    )
    rows = asyncio.run(_export(config, format, filters, output, options))
    typer.echo(
        f"exported {rows} {'records' if format is ExportFormat.BUNDLE else 'rows'}", err=True
    )


def _check_filters(fmt: ExportFormat, filters: ExportFilter) -> None:
    """A bundle needs a case; the training export takes only time, category and flag filters."""
    if fmt is ExportFormat.BUNDLE and filters.case is None:
        raise CliError("--format bundle needs --case N")
    unsupported = unsupported_filters(filters, fmt)
    if unsupported:
        raise CliError(
            f"--format training takes --range, --since, --until, --category and --flag only,"
            f" not --{unsupported[0].replace('_telegram_id', '').replace('_id', '')}"
        )


def _language(config: Settings, given: str | None) -> Language:
    try:
        return Language(given or config.language)
    except ValueError:
        raise CliError(f"--language must be zh-Hans, zh-Hant or en, not {given!r}") from None


@contextmanager
def _destination(output: str) -> Iterator[IO[bytes]]:
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    partial = target.with_name(target.name + ".partial")
    try:
        with writing_to(output):
            if target.is_dir():  # found before anything is exported, not at the final rename
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), output)
            target.parent.mkdir(parents=True, exist_ok=True)
            out = partial.open("wb")
        with out:
            yield out
        with writing_to(output):
            partial.replace(target)
    finally:
        with suppress(OSError):  # nothing to remove when the folder itself was unusable
            partial.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class _Options:
    redact: bool
    keep_photos: bool
    allow_broken: bool
    language: Language
    progress: bool


async def _export(
    config: Settings, fmt: ExportFormat, filters: ExportFilter, output: str, options: _Options
) -> int:
    from bot.export.service import ChainBroken, ExportRequest
    from bot.storage.database import Database

    request = ExportRequest(
        format=fmt,
        filters=filters,
        actor_telegram_id=None,
        actor_role=Role.ADMIN,  # whoever runs the CLI holds the database itself
        language=options.language,
        redact=options.redact,
        via="cli",
        allow_broken=options.allow_broken,
        keep_photos=options.keep_photos,
    )
    db = Database.open(config.sqlalchemy_url)
    try:
        if filters.case is not None and not await _case_exists(db, filters.case):
            raise CliError(f"there is no case {filters.case}")
        return await _write(db, config, request, output, progress=options.progress)
    except ChainBroken as broken:
        raise CliError(
            f"{broken}; nothing exported (kefu verify lists every break;"
            " --allow-broken exports anyway, every file and page stamped)",
            exit_code=1,
        ) from None
    finally:
        await db.close()


async def _case_exists(db: Database, case: int) -> bool:
    from bot.storage.presence import case_exists

    async with db.session() as session:
        return await case_exists(session=session, conversation_id=case)


async def _write(
    db: Database, config: Settings, request: ExportRequest, output: str, *, progress: bool
) -> int:
    from bot.export.formats import count_rows
    from bot.export.service import CaseNotFound, case_bundle, write_export

    wording = _wording(config)
    fmt, filters = request.format, request.filters
    if fmt is ExportFormat.BUNDLE:
        with tempfile.TemporaryDirectory() as scratch:
            try:
                path = await case_bundle(
                    db=db,
                    settings=config,
                    wording=wording,
                    request=request,
                    out=Path(scratch) / "bundle.zip",
                )
            except CaseNotFound:
                raise CliError(f"there is no case {filters.case}") from None
            with _destination(output) as out, path.open("rb") as source:
                shutil.copyfileobj(source, out)
        async with db.session() as session:
            from bot.storage.exports.case_file import load_case

            found = await load_case(session=session, conversation_id=filters.case or 0)
        return 0 if found is None else len(found.records)
    show = progress and sys.stderr.isatty()
    total = await count_rows(db=db, fmt=request.format, filters=request.filters) if show else None
    with _progress(show, total) as advance, _destination(output) as out:
        return await write_export(
            db=db,
            settings=config,
            wording=wording,
            request=request,
            out=out,
            progress=advance,
            name=output,
        )


@contextmanager
def _progress(show: bool, total: int | None) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    ) as bar:
        task = bar.add_task("export", total=total)
        yield lambda n: bar.advance(task, n)


def report(
    period: str | None = typer.Option("7d", "--range", help=RANGE_HELP),
    since: str | None = typer.Option(None, "--since", help="From this day (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Up to (not including) this day."),
    category: str | None = typer.Option(None, "--category", help="Only this category."),
    agent: int | None = typer.Option(None, "--agent", help="Only this agent's conversations."),
    platform: str | None = typer.Option(None, "--platform", help="Only this platform."),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "--chart",
            "-o",
            help="Where to write the PNG chart (default: DATA_DIR/exports/kefu-report-TIME.png).",
        ),
    ] = None,
    language: str | None = typer.Option(None, "--language", help="zh-Hans, zh-Hant or en."),
) -> None:
    """The team's numbers: volume, first response against the target, suggestions, checks, threats, open cases."""
    config = shop_settings()
    filters = export_filter(
        config,
        period=None if since or until else period,
        since=since,
        until=until,
        buyer=None,
        case=None,
        order=None,
        category=category,
        flag=None,
        agent=agent,
        platform=platform,
    )
    existing_database(config)
    chart = output if output is not None else default_chart_path(config)
    text = asyncio.run(_report(config, filters, chart, _language(config, language)))
    typer.echo(text)
    from bot.export.report import accuracy_chart_path

    typer.echo(f"\naccuracy chart: {accuracy_chart_path(chart)}", err=True)
    typer.echo(f"chart: {chart}", err=True)


def default_chart_path(config: Settings) -> Path:
    """`<data_dir>/exports/kefu-report-<local time>.png`: never the current directory."""
    stamp = utcnow().astimezone(ZoneInfo(config.timezone)).strftime("%Y%m%d-%H%M%S")
    return config.data_dir / "exports" / f"kefu-report-{stamp}.png"


async def _report(config: Settings, filters: ExportFilter, chart: Path, language: Language) -> str:
    from bot.export.report import accuracy_chart_path, draw_accuracy_chart, draw_report_chart
    from bot.export.stats import build_accuracy, build_report
    from bot.export.summary import accuracy_text, report_text
    from bot.export.view import make_view
    from bot.storage.database import Database

    db = Database.open(config.sqlalchemy_url)
    try:
        data = await build_report(
            db=db, filters=filters, zone=ZoneInfo(config.timezone), policy=config.sla_policy
        )
        accuracy = await build_accuracy(db=db, until=filters.until)
    finally:
        await db.close()
    view = make_view(config, _wording(config), language, redact=False)
    draw_report_chart(data, view, chart)
    draw_accuracy_chart(accuracy, view, accuracy_chart_path(chart))
    text = report_text(data, view, since=filters.since, until=filters.until)
    return f"{text}\n\n{accuracy_text(accuracy, view)}"
