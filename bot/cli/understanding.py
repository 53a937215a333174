"""`kefu classify|suggest|check-reply|eval|console`, `kefu phrasebook check`."""

from __future__ import annotations

import typer

phrasebook_app = typer.Typer(help="The phrasebook: keyword rules, replies, playbooks.")


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
