"""counties and scope: a user belongs to one county (or is national); notes can be shared

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Existing rows are kept. Cases already belong to their municipality's county through
`municipality.county_id`. Users created before counties existed worked for the one county
the installation served: if exactly one county exists they are placed in it, otherwise they
become national users (they saw everything before and still do).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(sa.Column("county_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_app_user_county_id", "county", ["county_id"], ["id"])
        batch_op.create_index("ix_app_user_county_id", ["county_id"], unique=False)
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.add_column(sa.Column("shared", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute(
        "UPDATE app_user SET county_id = (SELECT MIN(id) FROM county) "
        "WHERE (SELECT COUNT(*) FROM county) = 1")


def downgrade() -> None:
    with op.batch_alter_table("experience_note") as batch_op:
        batch_op.drop_column("shared")
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_index("ix_app_user_county_id")
        batch_op.drop_constraint("fk_app_user_county_id", type_="foreignkey")
        batch_op.drop_column("county_id")
