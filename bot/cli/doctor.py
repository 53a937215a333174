"""`kefu doctor`: is this installation healthy? One line per check, ✓ or ✗ with the fix."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from bot.config import Settings, SettingsError, load_settings

MIN_FREE_BYTES = 1 << 30  # attachments (photos, videos) need room; below 1 GiB is a warning
QUICK_RECORDS = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: what was checked, whether it passed, what it saw, how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The check as one line."""
        mark = "✓" if self.ok else "✗"
        fix = f" — fix: {self.fix}" if not self.ok and self.fix else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


def register(app: typer.Typer) -> None:
    """Add this module's top-level command to `app`."""
    app.command("doctor")(doctor)


def doctor(
    full: bool = typer.Option(
        False, "--full", help=f"Verify the whole chain, not only the newest {QUICK_RECORDS}."
    ),
) -> None:
    """Check settings, Telegram, database, evidence chain, disk, phrasebook, webhook and agents."""
    try:
        config = load_settings()
    except SettingsError as exc:
        typer.echo(
            Finding("settings", False, str(exc), "correct .env or the KEFU_ variable").line()
        )
        raise typer.Exit(1) from None
    findings = [Finding("settings", True, "valid")]
    findings += asyncio.run(_checks(config, full=full))
    for finding in findings:
        typer.echo(finding.line())
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)


async def _checks(config: Settings, *, full: bool) -> list[Finding]:
    findings = [_phrasebook(config), _disk(config)]
    findings += await _telegram(config)
    database = await _guard("database", _database(config))
    findings.append(database)
    if database.ok:
        findings.append(await _guard("evidence chain", _chain(config, full=full)))
        findings.append(await _guard("agents", _agents(config)))
    return findings


async def _guard(name: str, check: Coroutine[Any, Any, Finding]) -> Finding:
    try:
        return await check
    except Exception as exc:  # a check that cannot run is a failed check, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        return Finding(name, False, f"{type(exc).__name__}: {first}", "see the error above")


def _phrasebook(config: Settings) -> Finding:
    from bot.phrasebook.loader import load_phrasebook
    from bot.phrasebook.yamlfile import PhrasebookError

    try:
        load_phrasebook(config.phrasebook_dir)
    except PhrasebookError as exc:
        return Finding("phrasebook", False, str(exc), "correct the file at that line")
    return Finding("phrasebook", True, f"{config.phrasebook_dir} is valid")


def _disk(config: Settings, minimum: int = MIN_FREE_BYTES) -> Finding:
    where = _existing_parent(config.data_dir)
    free = shutil.disk_usage(where).free
    detail = f"{free / (1 << 30):.1f} GiB free for attachments under {where}"
    return Finding("disk", free >= minimum, detail, "free space or move KEFU_DATA_DIR")


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


async def _telegram(config: Settings) -> list[Finding]:
    from bot.tg.probe import probe_telegram

    probe = await probe_telegram(config)
    if probe.error is not None:
        fix = (
            "set KEFU_BOT_TOKEN to the token @BotFather gave"
            if config.bot_token is None or probe.token_refused
            else "check the network and KEFU_TELEGRAM_BASE_URL"
        )
        return [Finding("telegram", False, probe.error, fix)]
    found = [Finding("telegram", True, f"token accepted, the bot is @{probe.username}")]
    wanted = config.webhook_url
    if probe.webhook_url == wanted:
        detail = f"set to {wanted}" if wanted else "none set (polling)"
        found.append(Finding("webhook", True, detail))
    elif wanted is None:
        found.append(
            Finding(
                "webhook",
                False,
                f"Telegram sends updates to {probe.webhook_url}, but KEFU_WEBHOOK_URL is not set",
                "set KEFU_WEBHOOK_URL to it and run kefu run --webhook, or start kefu run "
                "(polling), which removes the webhook",
            )
        )
    else:
        found.append(
            Finding(
                "webhook",
                False,
                f"Telegram has {probe.webhook_url or 'no webhook'}, settings say {wanted}",
                "start kefu run --webhook, which sets it",
            )
        )
    return found


async def _database(config: Settings) -> Finding:
    from bot.storage import migrate

    url = config.sqlalchemy_url
    if config.database_url is None:
        path = config.data_dir / "kefu.db"
        if not path.is_file():
            return Finding("database", False, f"no database at {path}", "run kefu db upgrade")
    revision = await asyncio.to_thread(migrate.current, url)
    if "(head)" not in revision:
        return Finding(
            "database",
            False,
            f"at revision {revision or 'none'}, not the newest",
            "run kefu db upgrade",
        )
    return Finding("database", True, f"reachable, at revision {revision}")


async def _with_engine(
    config: Settings, work: Callable[[Any], Coroutine[Any, Any, Finding]]
) -> Finding:
    from bot.storage.engine import make_engine

    engine = make_engine(config.sqlalchemy_url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


async def _chain(config: Settings, *, full: bool) -> Finding:
    from bot.storage.filestore import AttachmentStore
    from bot.storage.verify import verify_chain

    async def check(engine: Any) -> Finding:
        report = await verify_chain(
            engine=engine,
            attachments=AttachmentStore(config.data_dir),
            max_breaks=1,
            last=None if full else QUICK_RECORDS,
        )
        scope = "all" if full else "the newest"
        if not report.ok:
            return Finding(
                "evidence chain",
                False,
                f"BROKEN: {report.breaks[0]}",
                "run kefu verify for every problem; keep a copy of the database as it is",
            )
        return Finding(
            "evidence chain", True, f"{scope} {report.records} records verify, head {report.head}"
        )

    return await _with_engine(config, check)


async def _agents(config: Settings) -> Finding:
    from bot.storage.agents import available_agents
    from bot.storage.engine import make_sessionmaker

    async def check(engine: Any) -> Finding:
        async with make_sessionmaker(engine)() as session:
            count = await available_agents(session=session)
        if count == 0 and config.routing == "agents":
            return Finding(
                "agents",
                False,
                "nobody is available: new conversations wait unassigned",
                "agents send /available to the bot",
            )
        return Finding("agents", True, f"{count} available now ({config.routing} routing)")

    return await _with_engine(config, check)
