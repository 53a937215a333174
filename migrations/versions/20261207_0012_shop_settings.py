"""Shop settings changed while Kefu runs, shared by every bot process.

shop_settings holds a setting a supervisor changed in chat (/settings) or from the command line
(`kefu settings set`): the Settings field it overrides and its JSON value. Every process polls
it with the shop's words and model (0015 adds the revision it polls), so a change reaches all of
them within seconds; resetting deletes the row and the settings file's value applies again. The changes themselves are chained
audit records (settings.changed, settings.reset).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_settings",
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("field", name=op.f("pk_shop_settings")),
    )


def downgrade() -> None:
    op.drop_table("shop_settings")
