"""renewing duties: agreements that renew themselves are planned again

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

Before this release the sweep marked a running case «every duty planned»
(`duties_until = 9999-12-31`) once the first period's duties were planned, also when the
agreement renews itself — so such a case got no more duties after its first period. The
sweep now plans them; this clears the wrong mark, so the next sweep plans the case again
(no data is lost: the mark is derived, and planning is idempotent).
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE onboarding_case SET duties_until = NULL "
        "WHERE duties_until = '9999-12-31' AND id IN "
        "(SELECT case_id FROM agreement_terms WHERE renewal = 'auto')")


def downgrade() -> None:
    pass  # the mark is derived: the next sweep sets it again
