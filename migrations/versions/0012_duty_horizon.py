"""duty horizon: the sweep plans a running case's recurring duties only when needed

Revision ID: 0012
Revises: 0009
Create Date: 2027-02-01

- `onboarding_case.duties_until`: the earliest due date of a recurring duty not yet
  planned (NULL: not planned yet, so every running case is planned once by the next sweep;
  9999-12-31: every duty of the agreement is planned). The daily sweep re-plans only the
  cases whose next duty has come within the planning horizon, instead of every running case
  every day.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("onboarding_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duties_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("onboarding_case", schema=None) as batch_op:
        batch_op.drop_column("duties_until")
