"""The daily witness and weekly report jobs are keyed by their moment (UTC minute), not the
local date or ISO week, so a change of time zone or hour (/settings) never leaves a day without
a witness. Jobs not yet run get the new key, so none is planned twice at the upgrade.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:30:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOBS = sa.table(
    "scheduled_jobs",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("dedupe_key", sa.String()),
    sa.column("status", sa.String()),
)


def _moment(due: datetime) -> str:
    aware = due if due.tzinfo is not None else due.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(JOBS.c.id, JOBS.c.kind, JOBS.c.due_at).where(
            JOBS.c.kind.in_(["witness", "weekly"]), JOBS.c.status == "pending"
        )
    ).all()
    for job_id, kind, due_at in rows:
        due = datetime.fromisoformat(due_at) if isinstance(due_at, str) else due_at
        bind.execute(
            sa.update(JOBS).where(JOBS.c.id == job_id).values(dedupe_key=f"{kind}:{_moment(due)}")
        )


def downgrade() -> None:
    """The old keys (the local date, the ISO week) need the shop's zone, which the database does
    not hold: the pending witness and weekly jobs are dropped, and the older Kefu plans them
    again at its next scheduler tick."""
    op.get_bind().execute(
        sa.delete(JOBS).where(JOBS.c.kind.in_(["witness", "weekly"]), JOBS.c.status == "pending")
    )
