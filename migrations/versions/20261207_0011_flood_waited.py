"""Whether the last attempt to show a card or a follow-up reminder ended in a flood wait.

A card (or reminder) whose send ran out of flood-wait retries (Telegram answered 429 every
time) stays taken and is shown again once its lease has run out, like one whose taker stopped
mid-send. But a 429 means nothing went out, so it needs no "may be a repeat" mark: the
`flood_waited` flag says so, and the process that shows it again clears it first.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cards", "pending_replies")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("flood_waited", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("flood_waited")
