"""Chain format 2 (salted per-field digests), erasure through the triggers, legal hold.

Each evidence table gets `format` (1 for every record already stored, which keeps verifying as
before; the repository writes 2 from now on), `salts` and `erased` (JSON maps field -> hex, see
`bot/core/evidence.py`). A new append-only `erasures` table lists every record an erasure
empties, with the request it answers, who asked and when.

The UPDATE triggers of raw_updates, messages, attachments and audit_log are replaced: an UPDATE
is still refused unless it is an erasure, that is, the record is format 2 and not erased yet, an
`erasures` row names it (table and seq), every column except the personal ones and
`salts`/`erased` is unchanged, each personal column becomes empty ('' or NULL), and `erased` is
set. DELETE (and TRUNCATE on PostgreSQL) stay refused.

`conversations.legal_hold` marks a case that retention must not erase.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 15:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column of each evidence table after this migration, and the personal ones among them
# (bot.core.evidence.PERSONAL_FIELDS; repeated here so the migration never changes with the code).
COLUMNS: dict[str, tuple[str, ...]] = {
    "raw_updates": ("id", "seq", "hash", "update_id", "payload", "received_at"),
    "messages": (
        "id",
        "seq",
        "hash",
        "conversation_id",
        "buyer_id",
        "direction",
        "chat_id",
        "telegram_message_id",
        "revision",
        "edit_of_id",
        "update_id",
        "content_type",
        "text",
        "category",
        "confidence",
        "flags",
        "suggestion_index",
        "suggestion_edited",
        "agent_id",
        "sent_at",
        "received_at",
    ),
    "attachments": (
        "id",
        "seq",
        "hash",
        "message_id",
        "kind",
        "telegram_file_id",
        "telegram_file_unique_id",
        "file_name",
        "mime_type",
        "size",
        "sha256",
        "stored_path",
        "status",
        "error",
        "created_at",
    ),
    "audit_log": (
        "id",
        "seq",
        "hash",
        "actor_telegram_id",
        "action",
        "target",
        "details",
        "created_at",
    ),
}
PERSONAL: dict[str, tuple[str, ...]] = {
    "raw_updates": ("payload",),
    "messages": ("text",),
    "attachments": ("telegram_file_id", "telegram_file_unique_id", "file_name", "stored_path"),
    "audit_log": ("details",),
}


def _sqlite_erase_only(table: str) -> str:
    kept = [c for c in (*COLUMNS[table], "format") if c not in PERSONAL[table]]
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in kept)
    emptied = " AND ".join(f"coalesce(NEW.{c}, '') = ''" for c in PERSONAL[table])
    return (
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"WHEN NOT (OLD.format = 2 AND OLD.erased IS NULL AND NEW.erased IS NOT NULL "
        f"AND {unchanged} AND {emptied} AND EXISTS (SELECT 1 FROM erasures "
        f"WHERE erasures.table_name = '{table}' AND erasures.record_seq = OLD.seq)) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only evidence: UPDATE rejected "
        "(only an erasure may empty personal fields)'); END"
    )


PG_ERASE_ONLY = """
CREATE OR REPLACE FUNCTION kefu_erase_only() RETURNS trigger AS $$
DECLARE
    personal text[] := TG_ARGV;
    field text;
    before jsonb := to_jsonb(OLD);
    after jsonb := to_jsonb(NEW);
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION '% is append-only evidence: % rejected', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (before->>'format')::int <> 2 OR before->'erased' <> 'null'::jsonb
       OR after->'erased' = 'null'::jsonb
       OR (before - personal - 'salts' - 'erased') <> (after - personal - 'salts' - 'erased')
       OR NOT EXISTS (SELECT 1 FROM erasures
                      WHERE table_name = TG_TABLE_NAME AND record_seq = OLD.seq) THEN
        RAISE EXCEPTION '% is append-only evidence: UPDATE rejected (only an erasure may empty personal fields)', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOREACH field IN ARRAY personal LOOP
        IF coalesce(after->>field, '') <> '' THEN
            RAISE EXCEPTION '% is append-only evidence: an erasure must empty %', TG_TABLE_NAME, field
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_ref", sa.String(length=128), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=False),
        sa.Column("fields", sa.Integer(), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
        sa.UniqueConstraint(
            "table_name", "record_seq", name=op.f("uq_erasures_table_name_record_seq")
        ),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_request_ref"), ["request_ref"], unique=False)
    for table in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("format", sa.SmallInteger(), nullable=False, server_default="1")
            )
            batch_op.add_column(sa.Column("salts", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("erased", sa.Text(), nullable=True))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_ERASE_ONLY)
        for table in COLUMNS:  # same trigger names as before, now allowing an erasure
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            personal = ", ".join(f"'{c}'" for c in PERSONAL[table])
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION kefu_erase_only({personal})"
            )
        op.execute(
            "CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures "
            "FOR EACH ROW EXECUTE FUNCTION kefu_reject_change()"
        )
        op.execute(
            "CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures "
            "FOR EACH STATEMENT EXECUTE FUNCTION kefu_reject_change()"
        )
        return
    for table in COLUMNS:  # same trigger name as before, now allowing an erasure
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(_sqlite_erase_only(table))
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER erasures_no_{operation.lower()} BEFORE {operation} ON erasures "
            f"BEGIN SELECT RAISE(ABORT, 'erasures is append-only: {operation} rejected'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in COLUMNS:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("legal_hold")
    for table in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("erased")
            batch_op.drop_column("salts")
            batch_op.drop_column("format")
    op.drop_table("erasures")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS kefu_erase_only()")
        for table in COLUMNS:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kefu_reject_change()"
            )
        return
    for table in COLUMNS:
        # Dropping columns rebuilt the tables (and dropped their triggers): make both anew.
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation.lower()}")
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only evidence: "
                f"{operation} rejected'); END"
            )
