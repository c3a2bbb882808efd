"""open task index: each case's open tasks and deadline moves, by case

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29

The board, the lists and the feed read the open tasks of the active cases, and the board
counts their deadline moves. Through `ix_task_case_id` and `ix_event_case_id` the database
walked every task and every event of those cases, the done duties and the history of years
of running operation included (at the benchmark's full size 24 684 tasks, of which 1 720
are open). Two partial indexes hold only what is read: the open tasks by case and due date,
and the deadline moves (`meeting_moved` events) by case and day. No data changes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("done_on IS NULL")
_MOVE = sa.text("kind = 'meeting_moved'")


def upgrade() -> None:
    op.create_index("ix_task_open_case", "task", ["case_id", "due_on"], unique=False,
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_index("ix_event_case_move", "event", ["case_id", "occurred_on"], unique=False,
                    sqlite_where=_MOVE, postgresql_where=_MOVE)


def downgrade() -> None:
    op.drop_index("ix_event_case_move", table_name="event")
    op.drop_index("ix_task_open_case", table_name="task")
