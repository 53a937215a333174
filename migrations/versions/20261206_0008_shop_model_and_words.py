"""The shop's own model and shop words, shared by every bot process through the database.

shop_model_versions holds each version of the shop's learned weights (fitted from its agents'
labels on top of the shipped weights, compressed), who made it, its label counts and its
accuracy before and after on the newest labels held out; at most one is active (a partial
unique index), none active meaning the shipped weights. shop_words holds the phrases
supervisors teach in chat (/word), overrides that always win. shop_understanding is one row
whose revision is bumped with every change to either, so a process polls one number.
message_models records, beside the append-only messages row, which model version and words
revision classified a buyer message. None of these are evidence tables: the changes
themselves are chained audit records.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("label_counts", sa.Text(), nullable=False),
        sa.Column("accuracy_before", sa.Float(), nullable=True),
        sa.Column("accuracy_after", sa.Float(), nullable=True),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_model_versions")),
    )
    op.create_index(
        "uq_shop_model_versions_one_active",
        "shop_model_versions",
        ["active"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "shop_words",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phrase", sa.String(length=64), nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_by_name", sa.String(length=256), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_words")),
        sa.UniqueConstraint("phrase", name=op.f("uq_shop_words_phrase")),
    )
    understanding = op.create_table(
        "shop_understanding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_understanding")),
    )
    op.bulk_insert(understanding, [{"id": 1, "revision": 0, "updated_at": datetime.now(UTC)}])
    op.create_table(
        "message_models",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("words_revision", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_models_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["shop_model_versions.id"],
            name=op.f("fk_message_models_model_version_id_shop_model_versions"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_models")),
    )


def downgrade() -> None:
    op.drop_table("message_models")
    op.drop_table("shop_understanding")
    op.drop_table("shop_words")
    op.drop_index("uq_shop_model_versions_one_active", table_name="shop_model_versions")
    op.drop_table("shop_model_versions")
