"""documents: every rendered document the process stored

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MUNICIPAL = sa.text("municipality_id IS NOT NULL")
_COUNTY_WIDE = sa.text("municipality_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["onboarding_case.id"]),
        sa.ForeignKeyConstraint(["county_id"], ["county.id"]),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipality.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_case_id"), ["case_id"], unique=False)
        batch_op.create_index("uq_document_municipal_version",
                              ["municipality_id", "kind", "format", "version"], unique=True,
                              sqlite_where=_MUNICIPAL, postgresql_where=_MUNICIPAL)
        batch_op.create_index("uq_document_county_version",
                              ["county_id", "kind", "format", "version"], unique=True,
                              sqlite_where=_COUNTY_WIDE, postgresql_where=_COUNTY_WIDE)


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("uq_document_county_version")
        batch_op.drop_index("uq_document_municipal_version")
        batch_op.drop_index(batch_op.f("ix_document_case_id"))
    op.drop_table("document")
