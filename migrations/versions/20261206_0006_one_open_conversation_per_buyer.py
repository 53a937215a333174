"""One open conversation per buyer, kept by the database.

Two bot processes handling a returning buyer's messages at once could each open a conversation
(read, then insert, with nothing to stop the second). A partial unique index on
(buyer_id, platform) over the open states now refuses the second, and the intake reads back the
one that won.

A database that already holds such doubles cannot take the index, so before creating it every
open conversation of a buyer except the newest is closed (status `closed`, `closed_at` set).
Their messages and evidence stay exactly where they are; only the older duplicate stops being
open, which is what an agent would have done by hand.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 14:30:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('resolved', 'closed')"

CLOSE_OLDER_DOUBLES = f"""
UPDATE conversations SET status = 'closed', closed_at = :now, updated_at = :now
WHERE {OPEN} AND EXISTS (
    SELECT 1 FROM conversations AS newer
    WHERE newer.buyer_id = conversations.buyer_id
      AND newer.platform = conversations.platform
      AND newer.{OPEN}
      AND (newer.opened_at > conversations.opened_at
           OR (newer.opened_at = conversations.opened_at AND newer.id > conversations.id))
)
"""


def upgrade() -> None:
    now = sa.bindparam("now", value=datetime.now(UTC), type_=UTCDateTime())
    op.get_bind().execute(sa.text(CLOSE_OLDER_DOUBLES).bindparams(now))
    op.create_index(
        "uq_conversations_one_open",
        "conversations",
        ["buyer_id", "platform"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_conversations_one_open", table_name="conversations")
