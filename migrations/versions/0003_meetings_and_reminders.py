"""meetings and reminders: council meeting plans and the reminder outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.String(length=16), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("title", _STR(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["county_id"], ["county.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meeting") as b:
        b.create_index("ix_meeting_county_id", ["county_id"])
        b.create_index("ix_meeting_municipality_id", ["municipality_id"])
        b.create_index("uq_meeting_municipal", ["municipality_id", "body", "date"], unique=True,
                       sqlite_where=sa.text("municipality_id IS NOT NULL"),
                       postgresql_where=sa.text("municipality_id IS NOT NULL"))
        b.create_index("uq_meeting_county", ["county_id", "body", "date"], unique=True,
                       sqlite_where=sa.text("municipality_id IS NULL"),
                       postgresql_where=sa.text("municipality_id IS NULL"))

    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("sweep_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_on", sa.Date(), nullable=True),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("title", _STR(length=200), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipient", "sweep_on", name="uq_digest_per_day"),
    )
    with op.batch_alter_table("digest") as b:
        b.create_index("ix_digest_status", ["status"])

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["onboarding_case.id"]),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "kind", "due_on", "step", "recipient",
                            name="uq_reminder_once"),
    )
    with op.batch_alter_table("reminder") as b:
        b.create_index("ix_reminder_task_id", ["task_id"])
        b.create_index("ix_reminder_case_id", ["case_id"])
        b.create_index("ix_reminder_digest_id", ["digest_id"])
        b.create_index("ix_reminder_undigested", ["recipient"],
                       sqlite_where=sa.text("digest_id IS NULL"),
                       postgresql_where=sa.text("digest_id IS NULL"))

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("target", _STR(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery") as b:
        b.create_index("ix_delivery_digest_id", ["digest_id"])


def downgrade() -> None:
    op.drop_table("delivery")
    op.drop_table("reminder")
    op.drop_table("digest")
    op.drop_table("meeting")
