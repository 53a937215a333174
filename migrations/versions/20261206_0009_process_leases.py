"""Process leases (one polling process per database) and shared send windows.

Telegram refuses a second `getUpdates` poller of one bot token (409), and two polling processes
on one database would each post every card. A `process_leases` row names the process that may
poll (`holder`) and when it last said it is alive (`heartbeat_at`); a second process refuses to
start while the heartbeat is fresh, and takes the row over only when it is stale (the holder
died without releasing it).

Telegram's flood limits are per bot token, not per process: `send_windows` holds, per limit
key (all chats, one group, one chat), the times of the latest sends reserved by any process,
so N webhook processes on one PostgreSQL together stay within what one may send. Both are
working tables, not evidence.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("acquired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_process_leases")),
    )
    op.create_table(
        "send_windows",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("times", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_windows")),
    )


def downgrade() -> None:
    op.drop_table("send_windows")
    op.drop_table("process_leases")
