"""`kefu verify`: the evidence chain check (filled in by the evidence work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to `app`."""
