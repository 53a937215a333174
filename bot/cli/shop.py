"""The shop's model and words from the command line: `kefu train --shop`, `kefu model list`,
`kefu model rollback`, `kefu phrasebook export-shop`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import CliError, settings, shop_settings, with_database, writing_to

if TYPE_CHECKING:
    from bot.core.classify import Classifier
    from bot.service.shop_model import TrainingResult
    from bot.storage.database import Database

model_app = typer.Typer(help="The shop's own model: its versions, and going back to the previous.")


def train_shop(*, min_labels: int | None = None) -> None:
    """`kefu train --shop`: fit the shop's model on its labels and make it the active version."""
    from bot.service.shop_model import ShopModelError, train_and_activate
    from bot.understanding import load_understanding

    config = settings()
    understanding = load_understanding(config.phrasebook_dir)

    async def work(db: Database) -> TrainingResult:
        return await train_and_activate(
            db=db,
            understanding=understanding,
            created_by=None,
            min_labels=min_labels or config.shop_min_labels,
        )

    try:
        result = with_database(config, work)
    except ShopModelError as exc:
        raise CliError(str(exc), exit_code=1) from None
    fit = result.fit
    counts = fit.label_counts()
    typer.echo(
        f"shop model version {result.version_id} is active (was"
        f" {_name(result.previous_id)}): {counts['labels']} labels"
        f" ({counts['corrections']} corrections, {counts['confirmations']} confirmations)"
    )
    typer.echo(
        f"held out the newest {fit.held_out}: accuracy {fit.accuracy_before:.1%} before"
        f" ({counts['right_before']}/{fit.held_out}), {fit.accuracy_after:.1%} after"
        f" ({counts['right_after']}/{fit.held_out})"
    )
    for language in fit.languages:
        for category, words in sorted(language.learned.items()):
            shown = ", ".join(f"{word} +{gain:.2f}" for word, gain in words)
            typer.echo(f"  {language.language} {category.value}: {shown}")
    for skipped, count in sorted(fit.skipped.items()):
        typer.echo(f"{skipped}: {count} labels, too few to retrain (shipped weights kept)")


def shop_classifier() -> Classifier:
    """The classifier a bot process would use now: the active shop model and the shop words."""
    from bot.service.shop_model import refresh_understanding
    from bot.understanding import load_understanding

    config = settings()
    understanding = load_understanding(config.phrasebook_dir)

    async def work(db: Database) -> None:
        await refresh_understanding(understanding, db)

    with_database(config, work)
    return understanding.classifier


def _name(version: int | None) -> str:
    return f"version {version}" if version is not None else "the shipped weights"


@model_app.command("list")
def list_command() -> None:
    """Every version of the shop's model: when, by whom, labels, accuracy before and after."""
    from bot.storage.shop_model import ModelVersionInfo, model_versions

    config = settings()

    async def work(db: Database) -> list[ModelVersionInfo]:
        async with db.session() as session:
            return await model_versions(session=session)

    versions = with_database(config, work)
    if not versions:
        typer.echo("no shop model yet: the shipped weights are in use (kefu train --shop)")
        return
    for v in versions:
        mark = "*" if v.active else " "
        who = str(v.created_by) if v.created_by is not None else "cli"
        before = f"{v.accuracy_before:.1%}" if v.accuracy_before is not None else "-"
        after = f"{v.accuracy_after:.1%}" if v.accuracy_after is not None else "-"
        typer.echo(
            f"{mark} {v.id:>4}  {v.created_at:%Y-%m-%d %H:%M} UTC  by {who}  "
            f"{v.label_counts.get('labels', 0)} labels ({v.label_counts.get('corrections', 0)}"
            f" corrections)  held-out accuracy {before} -> {after}  {v.size // 1024} KiB"
        )
    if not any(v.active for v in versions):
        typer.echo("(none active: the shipped weights are in use)")


@model_app.command("rollback")
def rollback_command() -> None:
    """Go back to the version before the active one (or to the shipped weights)."""
    from bot.service.shop_model import ShopModelError, rollback

    config = settings()

    async def work(db: Database) -> tuple[int, int | None]:
        return await rollback(db=db, actor=None)

    try:
        left, now = with_database(config, work)
    except ShopModelError as exc:
        raise CliError(str(exc), exit_code=1) from None
    typer.echo(
        f"rolled back from version {left} to {_name(now)}; running bots follow within seconds"
    )


def export_shop_command(
    output: Annotated[Path, typer.Option(help="The YAML file to write (rules/*.yaml format).")],
) -> None:
    """Write the shop words as a rules file with `overrides:` a developer can merge."""
    from bot.phrasebook.shop_export import shop_words_yaml
    from bot.storage.models import utcnow
    from bot.storage.shop_model import StoredWord, shop_words

    config = shop_settings()

    async def work(db: Database) -> list[StoredWord]:
        async with db.session() as session:
            return await shop_words(session=session)

    stored = with_database(config, work)
    text = shop_words_yaml(
        [(s.word, s.added_by_name or str(s.added_by or ""), s.added_at) for s in stored],
        shop_name=config.shop_name or "",
        exported_at=utcnow(),
    )
    with writing_to(str(output)):
        output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(stored)} shop words to {output}")


def register(app: typer.Typer) -> None:
    """`kefu phrasebook export-shop` (the `model` group is added by the CLI root)."""
    from bot.cli.understanding import phrasebook_app

    phrasebook_app.command("export-shop")(export_shop_command)
