"""`kefu suggest`, `kefu check-reply`, `kefu console`, `kefu phrasebook check`."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

import typer

from bot.cli.common import CliError, existing_database, settings
from bot.cli.present import analysis_json, analysis_lines, dumps, problem_lines
from bot.config import Settings
from bot.core.types import Language
from bot.phrasebook.loader import coverage, load_phrasebook
from bot.understanding import Understanding, load_understanding

phrasebook_app = typer.Typer(help="The phrasebook: keyword rules, replies, playbooks.")

LANG_HELP = "Reply language: zh-Hans, zh-Hant or en (default: the buyer's own)."


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
    app.command("suggest")(suggest)
    app.command("check-reply")(check_reply)
    app.command("console")(console)


def _language(value: str | None) -> Language | None:
    if value is None:
        return None
    try:
        return Language(value)
    except ValueError:
        raise CliError(f"--lang must be zh-Hans, zh-Hant or en, not {value!r}") from None


def _shop_config() -> Settings:
    """The settings in force, with the shop's changes (`/settings language en`); the settings
    file's alone when the database cannot be read, since these commands work offline (one
    attempt to reach it, never creating or migrating one)."""
    config = settings()
    try:
        return asyncio.run(_with_shop_changes(config))
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        typer.echo(f"kefu: {reason} (using the settings file's language)", err=True)
        return config


async def _with_shop_changes(config: Settings) -> Settings:
    from bot.service.shop_settings import current_overlay
    from bot.storage.database import Database
    from bot.storage.presence import DatabaseMissing, database_revision

    try:
        if await database_revision(config.sqlalchemy_url) is None:
            return config  # not set up yet: nothing can have been changed
    except DatabaseMissing:
        return config
    db = Database.open(config.sqlalchemy_url)
    try:
        return (await current_overlay(db, config)).settings
    finally:
        await db.close()


def _understanding() -> tuple[Understanding, Language]:
    config = _shop_config()
    return load_understanding(config.phrasebook_dir), Language(config.language)


def suggest(
    text: str = typer.Argument(..., help="The buyer's message."),
    lang: str | None = typer.Option(None, "--lang", help=LANG_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Classify a buyer message and print suggestions and the agent's playbook."""
    understanding, ui = _understanding()
    analysis = understanding.analyse(text, language=_language(lang))
    if as_json:
        typer.echo(dumps(analysis_json(analysis)))
        return
    typer.echo("\n".join(analysis_lines(analysis, understanding=understanding, ui=ui)))


def check_reply(
    draft: str = typer.Argument(..., help="The agent's draft reply."),
    buyer: str | None = typer.Option(None, "--buyer", help="The buyer message it answers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Check an agent's draft like a quality inspector; exit 1 when it finds problems."""
    understanding, ui = _understanding()
    classification = understanding.classifier.classify(buyer) if buyer else None
    problems = understanding.check(draft, buyer=classification, language=ui)
    if as_json:
        typer.echo(dumps([{"rule": p.finding.rule, "reason": p.reason} for p in problems]))
    elif problems:
        typer.echo(understanding.phrasebook.wording.text(ui, "console.check_problems"))
        typer.echo("\n".join(problem_lines(problems)))
    else:
        typer.echo(understanding.phrasebook.wording.text(ui, "console.check_ok"))
    raise typer.Exit(1 if problems else 0)


def console(
    record: bool = typer.Option(
        False,
        "--record",
        help="Log to the real evidence database instead of the practice one (for good: it is"
        " append-only, and the cases appear in reports and exports).",
    ),
) -> None:
    """Type as a buyer and see what an agent would see (offline, no Telegram needed).

    Exchanges go to a practice database in the data dir unless --record is given.
    """
    from bot.cli.console import practice_log, recording_log, run_console
    from bot.storage.presence import DatabaseLocation

    config = _shop_config()
    url = existing_database(config) if record else None  # checked before anything is created
    data_dir = config.ensure_data_dir()
    understanding = load_understanding(config.phrasebook_dir)
    if url is not None:
        log = recording_log(url, where=DatabaseLocation(url).describe())
    else:
        log = practice_log(data_dir)
    run_console(
        understanding,
        ui=Language(config.language),
        history_path=data_dir / "console_history",
        interactive=sys.stdin.isatty(),
        log=log,
    )


@phrasebook_app.command("check")
def phrasebook_check() -> None:
    """Validate every phrasebook file and report coverage (category x language x principle)."""
    config = settings()
    phrasebook = load_phrasebook(config.phrasebook_dir)
    understanding = load_understanding(config.phrasebook_dir)  # rules, weights, user dictionary
    counts = coverage(phrasebook)
    per_language = Counter[str]()
    for (_key, lang, _principle), n in counts.items():
        per_language[lang.value] += n
    keys = {key for key, _, _ in counts}
    principles = {principle for _, _, principle in counts}
    typer.echo(
        f"OK: {config.phrasebook_dir}: {len(keys)} reply sets x {len(per_language)} languages"
        f" x {len(principles)} principles, every cell filled"
    )
    for code, total in sorted(per_language.items()):
        playbooks = phrasebook.playbooks[Language(code)]
        typer.echo(f"  {code}: {total} reply variants, {len(playbooks)} playbooks")
    for key, weights in sorted(understanding.classifier.learned.items()):
        typer.echo(
            f"  learned weights {key}: {len(weights.categories.weights)} features,"
            f" {len(weights.flags)} flag models, version {weights.version or '-'}"
        )
    if not understanding.classifier.learned:
        typer.echo("  no learned weights: the keyword rules decide alone")
