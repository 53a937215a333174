"""Scheduled work, copilot pastes, and how long a buyer has been waiting.

scheduled_jobs holds auto-acknowledgements, SLA targets, follow-ups and the daily chain witness;
a job is claimed atomically, so it runs once even with several bot processes on one database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:08:52.500500+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "copilot_pastes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buyer_label", sa.String(length=256), nullable=False),
        sa.Column("original_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("suggestions", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_copilot_pastes_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_copilot_pastes_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copilot_pastes")),
    )
    with op.batch_alter_table("copilot_pastes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_copilot_pastes_agent_telegram_id"), ["agent_telegram_id"], unique=False
        )

    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_scheduled_jobs_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_scheduled_jobs_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_scheduled_jobs_dedupe_key")),
    )
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_jobs_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index("ix_scheduled_jobs_status_due_at", ["status", "due_at"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("acked_at")
        batch_op.drop_column("waiting_since")

    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_jobs_status_due_at")
        batch_op.drop_index(batch_op.f("ix_scheduled_jobs_conversation_id"))

    op.drop_table("scheduled_jobs")
    with op.batch_alter_table("copilot_pastes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_copilot_pastes_agent_telegram_id"))

    op.drop_table("copilot_pastes")
