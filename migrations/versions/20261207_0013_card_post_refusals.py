"""How many times Telegram refused a card's post, so it is tried again later, not lost.

A card Telegram refused (the agents' chat gone, the bot removed from it, no right to post) used
to be given back and never posted by anyone. Now it stays taken and is tried again once its
lease, stretched by the number of refusals so far (1, 2, 4 … 60 minutes), runs out; nothing
went out, so the next showing is not marked as a possible repeat.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.add_column(
            sa.Column("post_refusals", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("post_refusals")
