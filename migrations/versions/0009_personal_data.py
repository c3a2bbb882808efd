"""personal data: contact constraints in the database, an access log, redacted documents

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-10

- `contact_person`: a unique index on (municipality_id, lower(email)) and a partial unique
  index on municipality_id WHERE is_primary, so two concurrent `contact add` cannot both
  succeed. Rows that already break them (written by such a race) are merged first: the
  lowest id of a municipality's address is kept, tasks pointing at a duplicate are pointed
  at it, and the duplicate is deleted; of several primaries only the lowest id stays primary.
- `access_log`: who viewed which case page, contact list, document or calendar feed.
- `document.redacted_at`: set when an erased contact's data was blanked out of the file.

Events are not touched: `contact_added` and `task_assigned` have stored the contact's id
only (never a name, address or phone) since they were introduced, so there is nothing in
the append-only table to rewrite and the triggers stay as they are.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _merge_duplicate_contacts() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, municipality_id, lower(email) FROM contact_person ORDER BY id")).all()
    keep: dict[tuple[int, str], int] = {}
    for cid, mid, email in rows:
        first = keep.setdefault((mid, email), cid)
        if first != cid:
            bind.execute(sa.text("UPDATE task SET contact_id = :keep WHERE contact_id = :dup"),
                         {"keep": first, "dup": cid})
            bind.execute(sa.text("DELETE FROM contact_person WHERE id = :dup"), {"dup": cid})
    primaries = bind.execute(sa.text(
        "SELECT id, municipality_id FROM contact_person WHERE is_primary ORDER BY id")).all()
    seen: set[int] = set()
    for cid, mid in primaries:
        if mid in seen:
            bind.execute(sa.text("UPDATE contact_person SET is_primary = :f WHERE id = :id"),
                         {"f": False, "id": cid})
        seen.add(mid)


def upgrade() -> None:
    _merge_duplicate_contacts()
    op.create_index("uq_contact_person_email", "contact_person",
                    ["municipality_id", sa.text("lower(email)")], unique=True)
    op.create_index("uq_contact_person_primary", "contact_person", ["municipality_id"],
                    unique=True, sqlite_where=sa.text("is_primary"),
                    postgresql_where=sa.text("is_primary"))
    with op.batch_alter_table("document") as batch_op:
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("kommunenummer", sa.String(length=4), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("object", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["onboarding_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_kommunenummer", "access_log", ["kommunenummer"])


def downgrade() -> None:
    op.drop_index("ix_access_log_kommunenummer", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
    with op.batch_alter_table("document") as batch_op:
        batch_op.drop_column("redacted_at")
    op.drop_index("uq_contact_person_primary", table_name="contact_person")
    op.drop_index("uq_contact_person_email", table_name="contact_person")
