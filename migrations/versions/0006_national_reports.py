"""national reports: a document may belong to no county (the counties compared side by side)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`document.county_id` becomes nullable. A national document (no county, no municipality)
gets its own partial unique index on (kind, format, version): NULLs never collide in the
county index, so without it two writers could store the same national version twice.
Existing rows are kept as they are.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NATIONAL = sa.text("county_id IS NULL AND municipality_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("document") as batch_op:
        batch_op.alter_column("county_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("uq_document_national_version", ["kind", "format", "version"],
                              unique=True, sqlite_where=_NATIONAL, postgresql_where=_NATIONAL)


def downgrade() -> None:
    op.execute("DELETE FROM document WHERE county_id IS NULL")
    with op.batch_alter_table("document") as batch_op:
        batch_op.drop_index("uq_document_national_version")
        batch_op.alter_column("county_id", existing_type=sa.Integer(), nullable=False)
