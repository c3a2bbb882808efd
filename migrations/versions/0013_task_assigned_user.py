"""task assigned to a dashboard user: `task.assigned_user_id`

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

- `task.assigned_user_id`: the dashboard user (a coordinator of the case's county) a task is
  assigned to, shown on that user's Mine oppgaver. NULL, as every existing task gets, means
  the default owner: the county's coordinator role for the county's tasks, the
  municipality (or its contact person, `task.contact_id`) for the municipality's.
"""
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextmanager
def _quiet_reflection():
    """SQLite's table rebuild reflects the tables `task` refers to, and SQLAlchemy cannot
    reflect contact_person's expression index (lower(email)); it said so on the user's
    terminal during `init`/`db upgrade`. That index is not touched here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=sa.exc.SAWarning,
                                message="Skipped unsupported reflection of expression-based")
        yield


def upgrade() -> None:
    with _quiet_reflection(), op.batch_alter_table("task") as batch_op:
        batch_op.add_column(sa.Column("assigned_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_task_assigned_user_id", "app_user",
                                    ["assigned_user_id"], ["id"])
        batch_op.create_index("ix_task_assigned_user_id", ["assigned_user_id"], unique=False)


def downgrade() -> None:
    with _quiet_reflection(), op.batch_alter_table("task") as batch_op:
        batch_op.drop_index("ix_task_assigned_user_id")
        batch_op.drop_constraint("fk_task_assigned_user_id", type_="foreignkey")
        batch_op.drop_column("assigned_user_id")
