"""The shop's settings revision, polled with the shop's words and model in one query.

Every change to `shop_settings` (0012) bumps `shop_understanding.settings_revision` first in its
transaction: changes made at once take turns on that row, and each bot process, which already
reads the row every `KEFU_SHOP_POLL_SECONDS` for the shop's words and model, reads the settings
again only when the number moved.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shop_understanding") as batch:
        batch.add_column(
            sa.Column(
                "settings_revision", sa.BigInteger(), nullable=False, server_default=sa.text("0")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("shop_understanding") as batch:
        batch.drop_column("settings_revision")
