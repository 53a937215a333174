"""Evidence lookups: messages by update id (idempotent replay) and by edited original.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_update_id", "messages", ["update_id"], unique=False)
    op.create_index("ix_messages_edit_of_id", "messages", ["edit_of_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_edit_of_id", table_name="messages")
    op.drop_index("ix_messages_update_id", table_name="messages")
